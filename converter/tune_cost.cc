#include "converter/tune_cost.h"

#include "ops/cpu_features.h"

namespace edge {
namespace conv {
namespace {

// Rows: GFLOP/s of one core for whole layers as the runtime runs them.
// avx2 (measured, AMD EPYC Zen 3): per-op profiles of the video demo model
//   (2048 tokens, hidden 128, head dim 32; `edge-run --profile` with
//   --precision int8|nvfp4 and --attention-precision int8, alternated):
//   Linear 494 / 707 / 449 ms and attention 2067 / 1630 ms for 19.3 and
//   51.5 GFLOP, scaled to the quiet machine's whole-model rate (53.6 GFLOP/s
//   at FP32: 17.6 s CPU for 2 samples, bench/results/speed_quality_video.md).
//   Cluster planning (planned every 4th step, centroids refreshed between:
//   --attention-replan 4) 0.077 of dense FP32 attention, a quarter of the
//   0.27 that planning every step cost in the per-op profile; a gathered
//   exact pair costs 1.4x a dense one on FP32 attention and 1.6x on INT8
//   (video demo model, 3 classes at one thread, CPU time: FP32 26.1 s, FP32
//   + clusters 19.9 s, INT8 attention 20.9 s, INT8 + clusters 18.5 s, 45%
//   exact pairs, linears and the rest 5.2-5.6 s; before INT8 centroid
//   compensation and key-major gathers an INT8 gathered pair cost 2.1x).
//   INT8 attention refit after the two-tile softmax step and the 2^x
//   softmax (ops/qs8_attention_tile.h): 1.445x the FP32 attention in the
//   video model (attention op totals of 20-step runs at one thread, three
//   alternated rounds, 7569 vs 5238 ms; the isolated kernel at d = 32 runs
//   1.85x); INT8 + clusters 4490 ms at 47.5% exact pairs, which keeps the
//   gathered-pair factor at 1.6 (FP32 clusters 5475 ms: 1.4).
//   INT8 linears refit after the 3x16 AVX2 W8A8 tile (qs8_gemm__avx2.cc):
//   the video demo's Linear ops at 4 steps, one thread, alternated, 365 / 392
//   ms FP32 against 324 / 325 ms INT8, 1.165x the FP32 rate (was 54: 0.70x).
//   Token-reuse bookkeeping 0.025 of dense attention (a threshold that
//   recomputes every row ran 0.98x end to end with attention 84% of the time;
//   with it the model predicts 1.41x for threshold 0.07 at 63.2% of rows,
//   measured 1.40x: bench/results/speed_quality_video_token.md).
// avx512vnni (estimate): GEMM rows from bench/results/gemm.md (Zen 5) scaled
//   down for K = 128..512. Attention from the isolated kernels on a lent
//   Sapphire Rapids core (bench/results/attention_avx512.md, 2048 tokens,
//   d = 32: FP32 79.7 GFLOP/s, the AVX-512 VNNI INT8 tile 116.4), INT8 scaled
//   by the avx2 row's in-model / isolated factor (71 / 89.6; FP32 keeps its
//   isolated rate there: 49 / 47.7).
// neon / neondot (estimates): a Cortex-A76-class core at 2.4 GHz (2 x
//   128-bit FMA pipes, 38 GFLOP/s peak; sdot 4x that) at the fractions of
//   peak the avx2 row reaches; no ARM timing can be taken here.
const IsaThroughput kRows[] = {
    {"avx2", "measured: Zen 3, video demo model profiles", 77.0, 90.0, 85.0, 49.0, 71.0, 0.077, 1.4, 1.6, 0.025, 9.0},
    {"avx512vnni", "estimate: GEMM from Zen 5 gemm results, attention from Sapphire Rapids kernels", 150.0, 450.0,
     380.0, 80.0, 92.0,
     0.077, 1.4, 1.6, 0.025, 12.0},
    {"neon", "estimate: A76-class core, no dot product", 28.0, 20.0, 22.0, 18.0, 18.0, 0.077, 1.4, 1.6, 0.025, 5.0},
    {"neondot", "estimate: A76-class core with dot product", 28.0, 60.0, 55.0, 18.0, 36.0, 0.077, 1.4, 1.6, 0.025, 5.0},
};

double Elements(const TensorInfo& t) { return static_cast<double>(t.num_elements); }

}  // namespace

const IsaThroughput* FindThroughput(const std::string& isa) {
  std::string name = isa;
  if (name.empty()) {
    const CpuFeatures& f = DetectCpuFeatures();
    if (f.avx512vnni || f.avx512f) name = "avx512vnni";
    else if (f.avx2) name = "avx2";
    else if (f.dotprod) name = "neondot";
    else if (f.neon) name = "neon";
    else name = "avx2";  // scalar hosts: the nearest measured row
  }
  for (const IsaThroughput& r : kRows)
    if (name == r.isa) return &r;
  return nullptr;
}

std::string ThroughputNames() {
  std::string s;
  for (const IsaThroughput& r : kRows) s += (s.empty() ? "" : ", ") + std::string(r.isa);
  return s;
}

GraphWork CountWork(const Model& m) {
  GraphWork w;
  const auto& regions = m.cache_regions();
  w.num_regions = static_cast<int>(regions.size());
  std::vector<char> in_region(m.num_nodes(), 0);
  for (const CacheRegionInfo& r : regions) {
    for (int i = r.first_op; i <= r.last_op && i < m.num_nodes(); ++i) in_region[i] = 1;
    const TensorInfo& out = m.tensor(r.output);
    w.skip_bytes += 3.0 * 4.0 * Elements(out);  // read input and delta, write output
  }
  for (int i = 0; i < m.num_nodes(); ++i) {
    const NodeInfo& n = m.node(i);
    const bool in = in_region[i] != 0;
    if (n.outputs.empty() || n.outputs[0] < 0) continue;
    const TensorInfo& y = m.tensor(n.outputs[0]);
    if (n.type == fb::OpType::Linear && n.inputs.size() >= 2 && n.inputs[1] >= 0) {
      const TensorInfo& wt = m.tensor(n.inputs[1]);
      const int p = wt.dtype == fb::DType::I8 ? 1 : wt.dtype == fb::DType::NVFP4 ? 2 : 0;
      // 2 M N K = 2 (output elements) K; K is the weight's last axis.
      const double flops = 2.0 * Elements(y) * double(wt.rank >= 2 ? wt.dim(-1) : 1);
      (in ? w.linear_in : w.linear_out)[p] += flops;
    } else if (n.type == fb::OpType::Conv2d && n.inputs.size() >= 2 && n.inputs[1] >= 0) {
      const TensorInfo& wt = m.tensor(n.inputs[1]);
      double per_out = 1.0;
      for (int d = 1; d < wt.rank; ++d) per_out *= double(wt.dims[d]);
      (in ? w.linear_in : w.linear_out)[0] += 2.0 * Elements(y) * per_out;
    } else if (n.type == fb::OpType::Attention && n.inputs.size() >= 2 && n.inputs[1] >= 0) {
      const fb::AttentionOptions* o = n.op->options_as_AttentionOptions();
      const TensorInfo& k = m.tensor(n.inputs[1]);
      const bool bshd = o == nullptr || o->layout() == fb::TensorLayout::BSHD;
      const double nk = double(k.rank >= 3 ? (bshd ? k.dims[1] : k.dims[2]) : 1);
      (in ? w.attention_in : w.attention_out) += 4.0 * Elements(y) * nk;
    } else {
      (in ? w.other_in : w.other_out) += 4.0 * Elements(y);
    }
  }
  return w;
}

double PredictSeconds(const GraphWork& w, const IsaThroughput& t, const RunShape& r) {
  const double lin[3] = {t.linear_f32, t.linear_int8, t.linear_nvfp4};
  const double attn_rate = r.attention_int8 ? t.attention_int8 : t.attention_f32;
  // Sparse plans run the exact pairs at the kernel's rate, plus planning
  // (FP32 work, a fraction of the dense FP32 attention).
  const double exact =
      r.clusters ? r.exact_fraction * (r.attention_int8 ? t.cluster_gather_int8 : t.cluster_gather) : 1.0;
  // Token reuse runs the recomputed rows at the kernel's rate, plus its
  // bookkeeping (the two are exclusive: the runtime refuses both at once).
  const double rows = r.token_reuse ? r.rows_fraction : 1.0;
  const double plan = (r.clusters ? t.cluster_plan : 0.0) / (t.attention_f32 * 1e9) +
                      (r.token_reuse ? t.row_reuse : 0.0) / (t.attention_f32 * 1e9);
  auto part = [&](const double* linear, double attention, double other) {
    double s = 0;
    for (int p = 0; p < 3; ++p) s += linear[p] / (lin[p] * 1e9);
    s += attention * exact * rows / (attn_rate * 1e9) + attention * plan;
    s += other / (t.other_gbs * 1e9);
    return s;
  };
  const double outside = part(w.linear_out, w.attention_out, w.other_out);
  const double regions = part(w.linear_in, w.attention_in, w.other_in);
  const double skipped = w.skip_bytes / (t.other_gbs * 1e9);
  return double(r.graph_runs) *
         (outside + (1.0 - r.skip_fraction) * regions + r.skip_fraction * skipped);
}

}  // namespace conv
}  // namespace edge
