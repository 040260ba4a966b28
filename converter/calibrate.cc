#include "converter/calibrate.h"
#include "converter/calib_trajectories.h"
#include "converter/correlation.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "ops/kernel_config.h"
#include "runtime/quant_linear.h"
#include "runtime/model.h"
#include "runtime/session.h"

namespace edge {
namespace conv {
namespace {

void Check(const Status& st, const std::string& what) {
  if (!st.ok()) Fail(kExitConvert, "calibration: " + what + ": " + st.message());
}

// Quantized Linear runner over one QuantWeight (packed, as it will be stored).
struct QuantRunner {
  QuantLinearState* state = nullptr;
  std::vector<uint8_t> scratch_mem;
  void* scratch = nullptr;
  std::vector<float> y;
  ~QuantRunner() { DestroyQuantLinear(state); }

  void Init(const QuantWeight& q, const TensorInfo* bias, size_t M, fb::Activation act,
            const KernelConfig& kernels) {
    TensorInfo w;
    w.name = q.name.c_str();
    w.rank = 2;
    w.dims[0] = q.N;
    w.dims[1] = q.K;
    w.num_elements = q.N * q.K;
    w.is_constant = true;
    w.data = q.data.data();
    w.bytes = q.data.size();
    w.scale_data = q.scales.data();
    w.scale_bytes = q.scales.size();
    w.block_size = 16;
    if (q.precision == Precision::kInt8) {
      w.dtype = fb::DType::I8;
      w.quant = fb::QuantScheme::Int8PerChannel;
      w.layout = fb::WeightLayout::PackedInt8N16K4;
    } else {
      w.dtype = fb::DType::NVFP4;
      w.quant = fb::QuantScheme::NVFP4;
      w.layout = fb::WeightLayout::PackedNvfp4N16K64;
      w.tensor_scale = q.tensor_scale;
    }
    Check(CreateQuantLinear(w, bias, M, act, kernels, &state), "quantized layer '" + q.name + "'");
    const size_t sb = QuantLinearScratchBytes(state);
    scratch_mem.assign(sb + 64, 0);
    uintptr_t p = reinterpret_cast<uintptr_t>(scratch_mem.data());
    scratch = reinterpret_cast<void*>((p + 63) & ~uintptr_t(63));
    y.assign(M * static_cast<size_t>(q.N), 0.f);
  }
  void Run(const float* x) { RunQuantLinear(state, x, y.data(), scratch, nullptr); }
};

struct LayerAcc {
  std::vector<double> e8, e4, y2;  // per step, summed over seeds
};

}  // namespace

CalibResult Calibrate(const std::vector<uint8_t>& image, const std::vector<CalibLayer>& calib,
                      std::vector<LinearLayer>* layers, const QuantOptions& o) {
  CalibSession cs = OpenCalibSession(image, "--precision mixed", "calibration");
  const Model* model = cs.model.get();
  Session* session = cs.session.get();

  // Quantized variants of every calibrated layer, sized for this batch.
  const KernelConfig& kernels = kernel_config();
  std::vector<int> calib_of_op(model->num_nodes(), -1);
  std::vector<std::unique_ptr<QuantRunner>> r8(calib.size()), r4(calib.size());
  std::vector<LayerAcc> acc(calib.size());
  for (size_t i = 0; i < calib.size(); ++i) {
    const CalibLayer& c = calib[i];
    const NodeInfo& node = model->node(c.op);
    calib_of_op[c.op] = static_cast<int>(i);
    const TensorInfo& x = model->tensor(node.inputs[0]);
    const size_t M = static_cast<size_t>(x.num_elements / x.dim(-1));
    const TensorInfo* bias = node.inputs.size() > 2 && node.inputs[2] >= 0 ? &model->tensor(node.inputs[2]) : nullptr;
    fb::Activation act = fb::Activation::None;
    if (node.op->options_as_LinearOptions() != nullptr) act = node.op->options_as_LinearOptions()->activation();
    r8[i].reset(new QuantRunner());
    r4[i].reset(new QuantRunner());
    r8[i]->Init(*c.int8, bias, M, act, kernels);
    r4[i]->Init(*c.nvfp4, bias, M, act, kernels);
    acc[i].e8.assign(o.calib_steps, 0);
    acc[i].e4.assign(o.calib_steps, 0);
    acc[i].y2.assign(o.calib_steps, 0);
  }
  const auto& regs = model->cache_regions();
  CalibResult res;
  res.steps = o.calib_steps;
  res.seeds = o.calib_seeds;
  for (const CacheRegionInfo& r : regs) res.regions.push_back(r.name);
  res.gamma.assign(regs.size(), std::vector<double>(o.calib_steps, 0.0));

  const int last_op = model->num_nodes() - 1;
  RunCalibTrajectories(&cs, o, "calibration", [&](int op, int i, bool after) {
    const int ci = calib_of_op[op];
    if (!after) {
      if (ci >= 0) {
        const float* xin = static_cast<const float*>(session->data(model->node(op).inputs[0]));
        r8[ci]->Run(xin);
        r4[ci]->Run(xin);
      }
      return;
    }
    if (ci >= 0) {
      const float* y = static_cast<const float*>(session->data(model->node(op).outputs[0]));
      double e8 = 0, e4 = 0, y2 = 0;
      for (size_t j = 0; j < r8[ci]->y.size(); ++j) {
        const double d8 = double(r8[ci]->y[j]) - y[j], d4 = double(r4[ci]->y[j]) - y[j];
        e8 += d8 * d8;
        e4 += d4 * d4;
        y2 += double(y[j]) * y[j];
      }
      acc[ci].e8[i] += e8;
      acc[ci].e4[i] += e4;
      acc[ci].y2[i] += y2;
    }
    // Block signal: right after a region's last op both its input (kept
    // live until then) and its output hold this run's values.
    for (size_t r = 0; r < regs.size(); ++r) {
      if (regs[r].last_op != op) continue;
      const float* rin = static_cast<const float*>(session->data(regs[r].input));
      const float* rout = static_cast<const float*>(session->data(regs[r].output));
      const size_t n = static_cast<size_t>(model->tensor(regs[r].input).num_elements);
      double num = 0, den = 0;
      for (size_t j = 0; j < n; ++j) {
        num += std::fabs(double(rout[j]) - rin[j]);
        den += std::fabs(double(rin[j]));
      }
      res.gamma[r][i] += (den > 0 ? num / den : 0) / o.calib_seeds;
    }
    if (op == last_op) res.graph_runs += 1;
  });
  res.guided = cs.guided;

  // Per-layer errors (whole calibration set and per step).
  res.err_int8_step.assign(calib.size(), std::vector<double>(o.calib_steps, 0));
  res.err_nvfp4_step.assign(calib.size(), std::vector<double>(o.calib_steps, 0));
  for (size_t i = 0; i < calib.size(); ++i) {
    double e8 = 0, e4 = 0, y2 = 0;
    for (int t = 0; t < o.calib_steps; ++t) {
      e8 += acc[i].e8[t];
      e4 += acc[i].e4[t];
      y2 += acc[i].y2[t];
      const double d = acc[i].y2[t] > 0 ? acc[i].y2[t] : 1;
      res.err_int8_step[i][t] = std::sqrt(acc[i].e8[t] / d);
      res.err_nvfp4_step[i][t] = std::sqrt(acc[i].e4[t] / d);
    }
    LinearLayer& l = (*layers)[calib[i].layer];
    l.err_int8 = std::sqrt(e8 / (y2 > 0 ? y2 : 1));
    l.err_nvfp4 = std::sqrt(e4 / (y2 > 0 ? y2 : 1));
  }

  // Predictor signal vs measured NVFP4 error, per block.
  std::vector<double> gb, eb, gs, es, gl, el;
  for (size_t r = 0; r < regs.size(); ++r) {
    std::vector<size_t> mine;
    for (size_t i = 0; i < calib.size(); ++i)
      if ((*layers)[calib[i].layer].region == static_cast<int>(r)) mine.push_back(i);
    if (mine.empty()) continue;
    double g = 0, e = 0;
    for (int t = 0; t < o.calib_steps; ++t) g += res.gamma[r][t] / o.calib_steps;
    for (size_t i : mine) e += (*layers)[calib[i].layer].err_nvfp4 / mine.size();
    gb.push_back(g);
    eb.push_back(e);
    for (int t = 0; t < o.calib_steps; ++t) {
      double et = 0;
      for (size_t i : mine) et += res.err_nvfp4_step[i][t] / mine.size();
      gs.push_back(res.gamma[r][t]);
      es.push_back(et);
      if (t > 0) {
        gl.push_back(res.gamma[r][t - 1]);
        el.push_back(et);
      }
    }
  }
  res.n_block = static_cast<int>(gb.size());
  res.pearson_block = Pearson(gb, eb);
  res.spearman_block = Spearman(gb, eb);
  res.n_step = static_cast<int>(gs.size());
  res.pearson_step = Pearson(gs, es);
  res.spearman_step = Spearman(gs, es);
  res.n_lag = static_cast<int>(gl.size());
  res.pearson_lag = Pearson(gl, el);
  res.spearman_lag = Spearman(gl, el);
  return res;
}

}  // namespace conv
}  // namespace edge
