#include "converter/generation.h"

#include <algorithm>
#include <cmath>

#include "converter/ir.h"
#include "runtime/model.h"

namespace edge {
namespace conv {

void CheckStatus(const Status& st, const std::string& context, const std::string& what) {
  if (!st.ok()) Fail(kExitConvert, context + ": " + what + ": " + st.message());
}

GenRunner MakeGenRunner(const Model* m, const SessionOptions& so, const std::string& context) {
  auto sr = Session::Create(m, so);
  CheckStatus(sr.status(), context, "creating a session");
  GenRunner r;
  r.session = std::move(sr.value());
  auto pr = Pipeline::Create(r.session.get());
  CheckStatus(pr.status(), context, "pipeline");
  r.pipeline = std::move(pr.value());
  return r;
}

double Psnr(const float* ref, const float* x, size_t n, double peak) {
  double se = 0.0;
  for (size_t i = 0; i < n; ++i) {
    const double d = double(ref[i]) - double(x[i]);
    se += d * d;
  }
  const double mse = n > 0 ? se / double(n) : 0.0;
  return mse > 0.0 ? 10.0 * std::log10(peak * peak / mse) : 99.0;
}

double PsnrPeak(const fb::Pipeline* meta, const std::vector<float>& ref) {
  if (meta->output_kind() == fb::OutputKind::Pixels || ref.empty()) return 2.0;
  const auto mm = std::minmax_element(ref.begin(), ref.end());
  return std::max(1e-6, double(*mm.second) - double(*mm.first));
}

GenerateOptions CalibrationSet(const Model& m, const std::vector<int64_t>& classes, int seeds, uint64_t seed,
                               const std::string& flag) {
  const int num_classes = m.pipeline()->num_classes();
  for (int64_t c : classes)
    if (num_classes > 0 && (c < 0 || c >= num_classes))
      Fail(kExitUsage, flag + ": class " + std::to_string(c) + " outside [0, " + std::to_string(num_classes) + ")");
  GenerateOptions g;
  g.steps = m.pipeline()->default_steps();
  g.seed = seed;
  for (int s = 0; s < seeds; ++s) g.classes.insert(g.classes.end(), classes.begin(), classes.end());
  g.num_samples = static_cast<int>(g.classes.size());
  return g;
}

}  // namespace conv
}  // namespace edge
