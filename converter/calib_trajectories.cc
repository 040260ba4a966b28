#include "converter/calib_trajectories.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "runtime/noise.h"
#include "runtime/sampler.h"

namespace edge {
namespace conv {
namespace {

void Check(const Status& st, const std::string& context, const std::string& what) {
  if (!st.ok()) Fail(kExitConvert, context + ": " + what + ": " + st.message());
}

}  // namespace

CalibSession OpenCalibSession(const std::vector<uint8_t>& image, const std::string& flag,
                              const std::string& context) {
  CalibSession cs;
  auto mr = Model::LoadBuffer(image.data(), image.size(), false);
  Check(mr.status(), context, "loading the FP32 model");
  cs.model = std::move(mr.value());
  const fb::Pipeline* meta = cs.model->pipeline();
  if (meta == nullptr || meta->latent_input() < 0 || meta->timestep_input() < 0 || meta->output() < 0)
    Fail(kExitUsage, flag + " calibrates through the sampler: give pipeline metadata "
                            "(--roles with a latent and a timestep input, --sampler ...)");
  SessionOptions so;
  so.num_threads = 1;  // fixed reduction order
  auto sr = Session::Create(cs.model.get(), so);
  Check(sr.status(), context, "creating the session");
  cs.session = std::move(sr.value());
  return cs;
}

int RunCalibTrajectories(CalibSession* cs, const QuantOptions& o, const std::string& context,
                         const CalibOpHook& hook, bool cover_classes) {
  const Model* model = cs->model.get();
  Session* session = cs->session.get();
  const fb::Pipeline* meta = model->pipeline();
  auto smp = Sampler::Create(SamplerConfigFromModel(meta), o.calib_steps);
  Check(smp.status(), context, "sampler");
  const Sampler& sampler = smp.value();

  const int lat_in = meta->latent_input(), t_in = meta->timestep_input(), out_t = meta->output();
  const int cond_in = meta->condition_input();
  const TensorInfo& lat = model->tensor(lat_in);
  const int B = static_cast<int>(lat.dims[0]);
  const size_t L = static_cast<size_t>(lat.num_elements / B);
  const TensorInfo& out = model->tensor(out_t);
  const size_t out_row = static_cast<size_t>(out.num_elements / out.dims[0]);
  if (model->tensor(t_in).num_elements != B || out.dims[0] != B || out_row < L)
    Fail(kExitConvert, context + ": latent/timestep/output shapes do not agree on the batch");
  const bool class_cond =
      cond_in >= 0 && (model->tensor(cond_in).dtype == fb::DType::I64 || model->tensor(cond_in).dtype == fb::DType::I32);
  const int num_classes = meta->num_classes();
  std::vector<int64_t> classes = o.calib_classes;
  if (classes.empty() && class_cond)
    for (int c = 0; c < std::max(1, num_classes); ++c) classes.push_back(c);
  for (int64_t c : classes)
    if (num_classes > 0 && (c < 0 || c >= num_classes))
      Fail(kExitUsage, "--calib-classes: class " + std::to_string(c) + " outside [0, " +
                           std::to_string(num_classes) + ")");
  const float guidance = meta->guidance_scale();
  const bool guided = class_cond && guidance != 1.f && meta->null_condition() >= 0 && B % 2 == 0;
  cs->guided = guided;
  const int per_run = guided ? B / 2 : B;

  // Extra inputs (neither latent, timestep nor class condition).
  std::vector<int> extra;
  for (int t : model->inputs())
    if (t != lat_in && t != t_in && !(class_cond && t == cond_in)) extra.push_back(t);

  int seeds = o.calib_seeds;
  if (cover_classes && !classes.empty())
    seeds = std::max<int>(seeds, static_cast<int>((classes.size() + per_run - 1) / per_run));
  std::vector<float> x(static_cast<size_t>(per_run) * L), pred(L);
  for (int s = 0; s < seeds; ++s) {
    const uint64_t seed = static_cast<uint64_t>(s);
    for (int k = 0; k < per_run; ++k) GaussianNoise(seed, static_cast<uint64_t>(k), x.data() + size_t(k) * L, L);
    for (size_t e = 0; e < extra.size(); ++e) {
      const TensorInfo& ti = model->tensor(extra[e]);
      void* d = session->data(extra[e]);
      if (ti.dtype == fb::DType::F32) {
        GaussianNoise(seed, 0x10000u + e, static_cast<float*>(d), static_cast<size_t>(ti.num_elements));
      } else {
        std::memset(d, 0, ti.bytes);
      }
    }
    for (int i = 0; i < o.calib_steps; ++i) {
      float* li = static_cast<float*>(session->data(lat_in));
      float* ti = static_cast<float*>(session->data(t_in));
      for (int r = 0; r < B; ++r) {
        std::memcpy(li + size_t(r) * L, x.data() + size_t(r % per_run) * L, L * sizeof(float));
        ti[r] = sampler.model_timestep(i);
      }
      if (class_cond) {
        void* c = session->data(cond_in);
        for (int r = 0; r < B; ++r) {
          int64_t cls = classes[(size_t(s) * per_run + (r % per_run)) % classes.size()];
          if (guided && r >= per_run) cls = meta->null_condition();
          if (model->tensor(cond_in).dtype == fb::DType::I64) static_cast<int64_t*>(c)[r] = cls;
          else static_cast<int32_t*>(c)[r] = static_cast<int32_t>(cls);
        }
      }
      for (int op = 0; op < model->num_nodes(); ++op) {
        hook(op, i, false);
        Check(session->InvokeRange(op, op), context, "running op " + std::to_string(op));
        hook(op, i, true);
      }
      const float* yout = static_cast<const float*>(session->data(out_t));
      for (int k = 0; k < per_run; ++k) {
        const float* pc = yout + size_t(k) * out_row;
        for (size_t j = 0; j < L; ++j) {
          float v = pc[j];
          if (guided) {
            const float u = yout[size_t(per_run + k) * out_row + j];
            v = u + guidance * (v - u);
          }
          if (!std::isfinite(v))
            Fail(kExitConvert, context + ": the FP32 model produced a non-finite value at step " + std::to_string(i));
          pred[j] = v;
        }
        sampler.Step(i, x.data() + size_t(k) * L, pred.data(), L);
      }
    }
  }
  return seeds;
}

}  // namespace conv
}  // namespace edge
