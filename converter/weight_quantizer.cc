#include "converter/weight_quantizer.h"

#include <chrono>

#include "runtime/writer/model_writer.h"

namespace edge {
namespace conv {
namespace {

double Since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

const std::vector<uint8_t>& WeightQuantizer::Fp32Image() {
  if (fp32_image_.empty()) {
    ModelWriter w;
    EmitResult er = Emit(g_, regions_, pipe_, name_, &w);
    op_of_node_ = er.op_of_node;
    Status st = w.Finish(&fp32_image_);
    if (!st.ok()) Fail(kExitConvert, std::string("calibration model: ") + st.message());
  }
  return fp32_image_;
}

int WeightQuantizer::OpOfNode(int node) {
  Fp32Image();
  return op_of_node_.at(static_cast<size_t>(node));
}

void WeightQuantizer::Prepare(const std::vector<LinearLayer>& layers) {
  if (!o_.gptq || prepared_) return;
  std::vector<int> ops, values;
  for (const LinearLayer& l : layers) {
    if (l.precision == Precision::kFp32 || grams_.count(l.weight_value)) continue;
    RequireFiniteWeight(g_, l);
    grams_[l.weight_value];
    values.push_back(l.weight_value);
    ops.push_back(l.node);
  }
  if (ops.empty()) return;  // e.g. the tuner's FP32 trial: wait for a quantizing one
  prepared_ = true;
  const auto t0 = std::chrono::steady_clock::now();
  for (int& op : ops) op = OpOfNode(op);
  std::vector<InputGram> got = CollectInputGrams(Fp32Image(), ops, o_);
  for (size_t i = 0; i < values.size(); ++i) grams_[values[i]] = std::move(got[i]);
  seconds_ += Since(t0);
}

QuantWeightPtr WeightQuantizer::Get(const LinearLayer& l, Precision p) {
  const std::pair<int, int> key{l.weight_value, static_cast<int>(p)};
  QuantWeightPtr& q = cache_[key];
  if (!q) {
    auto gi = grams_.find(l.weight_value);
    if (gi != grams_.end()) {
      const auto t0 = std::chrono::steady_clock::now();
      q = QuantizeWeightGptq(g_, l, p, o_, gi->second, &reports_[key]);
      seconds_ += Since(t0);
    } else {
      q = QuantizeWeight(g_, l, p, o_.scale_search);
    }
  }
  return q;
}

void WeightQuantizer::Annotate(std::vector<LinearLayer>* layers) const {
  for (LinearLayer& l : *layers) {
    auto ri = reports_.find({l.weight_value, static_cast<int>(l.precision)});
    if (l.precision == Precision::kFp32 || ri == reports_.end()) continue;
    l.gptq_proxy_nearest = ri->second.proxy_nearest;
    l.gptq_proxy = ri->second.proxy_gptq;
    l.gptq_used = ri->second.used;
  }
}

}  // namespace conv
}  // namespace edge
