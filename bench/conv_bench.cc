// edge-bench conv: F32 Conv2d of a VAE decoder's shapes, edge's NCHW
// convolution (ops/f32_conv2d.h, what the Conv2d binding runs) against
// XNNPACK's F32 convolution in its own NHWC layout on the same shapes, run
// alternating A B A B so that both see the same machine state. Reports
// median times, GFLOP/s, % of the FP32 FMA peak measured in the same run,
// the speed ratio edge / XNNPACK, and the max difference of the two outputs.
// --precision int8 adds edge's INT8 convolution (ops/qs8_conv2d.h, what the
// binding runs for edge-convert --conv-precision int8 weights) to the same
// alternation, with its speed and its difference relative to edge's FP32.
#include <pthreadpool.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#if defined(EDGE_WITH_XNNPACK)
#include <xnnpack.h>
#endif

#include "bench/bench_common.h"
#include "bench/model_bench_util.h"
#include "ops/cpu_features.h"
#include "ops/f32_conv2d.h"
#include "ops/kernel_config.h"
#include "ops/qs8_conv2d.h"

namespace edge {
namespace bench {
namespace {

struct ConvShape {
  const char* role;
  size_t c, o, h, w, k;
};

// A 256x256-pixel decode of an SD-style AutoencoderKL (channels 128, 256,
// 512, 512; latent 32x32) and tile-sized versions of its later stages.
const ConvShape kDecoderShapes[] = {
    {"conv_in", 4, 512, 32, 32, 3},        {"mid", 512, 512, 32, 32, 3},
    {"up_256", 256, 256, 64, 64, 3},       {"up_128", 128, 128, 64, 64, 3},
    {"up_128_tile", 128, 128, 128, 128, 3}, {"small_64", 64, 64, 64, 64, 3},
    {"small_32", 32, 32, 64, 64, 3},       {"small_32_tile", 32, 32, 32, 32, 3},
    {"shortcut_512", 512, 256, 64, 64, 1}, {"shortcut_256", 256, 128, 128, 128, 1},
    {"conv_out", 128, 3, 128, 128, 3},
};

struct EdgeCtx {
  const F32GemmConfig* cfg;
  F32Conv2dParams p;
  size_t threads;
  const float* x;
  const float* w;
  float* y;
  float* scratch;
  pthreadpool_t pool;
};
void RunEdge(void* p) {
  EdgeCtx* c = static_cast<EdgeCtx*>(p);
  f32_conv2d(*c->cfg, c->p, c->threads, c->x, c->w, c->y, c->scratch, c->pool);
}

// The INT8 convolution: weights quantized per output channel and packed
// once, activations per output pixel on every run.
struct Qs8Ctx {
  const QGemmKernel* kernel = nullptr;
  F32Conv2dParams p;
  size_t threads = 1;
  const float* x = nullptr;
  Qs8Conv2dWeights w;
  std::vector<uint8_t> weights, scratch;
  std::vector<float> y;
  pthreadpool_t pool = nullptr;
};
void RunQs8(void* p) {
  Qs8Ctx* c = static_cast<Qs8Ctx*>(p);
  void* scratch = reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(c->scratch.data()) + 63) & ~uintptr_t(63));
  qs8_conv2d(*c->kernel, c->p, c->threads, c->x, c->w, c->y.data(), scratch, c->pool);
}

void SetUpQs8(const EdgeCtx& e, const std::vector<float>& w, const std::vector<float>& bias, Qs8Ctx* c) {
  const F32Conv2dParams& p = e.p;
  const size_t k = w.size() / p.out_c;
  std::vector<int8_t> q(w.size());
  std::vector<float> scale(p.out_c);
  Qs8QuantizePerChannel(w.data(), p.out_c, k, k, q.data(), scale.data());
  c->kernel = kernel_config().qs8_gemm;
  c->p = p;
  c->threads = e.threads;
  c->x = e.x;
  c->pool = e.pool;
  c->weights.resize(qs8_conv2d_weight_bytes(p));
  qs8_conv2d_pack_weights(p, q.data(), scale.data(), bias.data(), c->weights.data(), &c->w);
  c->scratch.resize(qs8_conv2d_scratch_bytes(*c->kernel, p, c->threads) + 64);
  c->y.resize(p.out_c * p.out_h * p.out_w);
}

// max |a - b| / max |a|, b in NCHW or (b_nhwc) NHWC order.
double MaxRelDiff(const std::vector<float>& a, const std::vector<float>& b, size_t o, size_t pixels, bool b_nhwc) {
  double diff = 0, big = 0;
  for (size_t c = 0; c < o; ++c)
    for (size_t i = 0; i < pixels; ++i) {
      const float bv = b_nhwc ? b[i * o + c] : b[c * pixels + i];
      diff = std::max(diff, static_cast<double>(std::fabs(a[c * pixels + i] - bv)));
      big = std::max(big, static_cast<double>(std::fabs(a[c * pixels + i])));
    }
  return big > 0 ? diff / big : 0;
}

// "C,O,H,W,K" -> one shape; false if malformed.
bool ParseShape(const std::string& s, ConvShape* out) {
  unsigned long v[5];
  if (std::sscanf(s.c_str(), "%lu,%lu,%lu,%lu,%lu", &v[0], &v[1], &v[2], &v[3], &v[4]) != 5) return false;
  for (unsigned long x : v)
    if (x == 0 || x > 4096) return false;
  *out = {"custom", v[0], v[1], v[2], v[3], v[4]};
  return true;
}

int RunShape(const ConvShape& s, int threads, int reps_arg, bool json, bool no_xnn, bool scalar, bool int8,
             double peak) {
  pthreadpool_t pool = threads > 1 ? pthreadpool_create(threads) : nullptr;
  const size_t pad = s.k / 2, pixels = s.h * s.w;
  std::mt19937 rng(7);
  std::normal_distribution<float> g(0.f, 1.f);
  std::vector<float> x(s.c * pixels), w(s.o * s.c * s.k * s.k), bias(s.o);
  for (float& v : x) v = g(rng);
  for (float& v : w) v = g(rng) * 0.05f;
  for (float& v : bias) v = g(rng);
  const double flops = 2.0 * s.o * s.c * s.k * s.k * pixels;
  const int reps = reps_arg > 0 ? reps_arg : static_cast<int>(std::max(3.0, std::min(20.0, 3e9 / flops)));

  std::vector<Candidate> cands;
  const CpuFeatures& cpu = DetectCpuFeatures();
  EdgeCtx ectx;
  ectx.cfg = scalar ? kernel_config(IsaLevel::kScalar).gemm : kernel_config().gemm;
  F32Conv2dParams& p = ectx.p;
  p.in_c = s.c;
  p.in_h = s.h;
  p.in_w = s.w;
  p.out_c = s.o;
  p.out_h = s.h;
  p.out_w = s.w;
  p.kernel_h = p.kernel_w = s.k;
  p.pad_top = p.pad_left = pad;
  std::vector<float> packed(f32_conv2d_packed_weight_floats(p) + 1), y(s.o * pixels);
  ectx.threads = static_cast<size_t>(threads);
  std::vector<float> scratch(f32_conv2d_scratch_floats(*ectx.cfg, p, ectx.threads) + 1);
  f32_conv2d_pack_weights(p, w.data(), bias.data(), packed.data());
  ectx.x = x.data();
  ectx.w = packed.data();
  ectx.y = y.data();
  ectx.scratch = scratch.data();
  ectx.pool = pool;
  cands.push_back({"fp32", ectx.cfg->name, RunEdge, &ectx, {}, {}});
  Qs8Ctx qctx;
  if (int8) {
    SetUpQs8(ectx, w, bias, &qctx);
    cands.push_back({"int8", qs8_conv2d_kernel_name(*qctx.kernel, false), RunQs8, &qctx, {}, {}});
  }

#if defined(EDGE_WITH_XNNPACK)
  XnnRun xctx;
  xctx.pool = pool;
  std::vector<float> x_nhwc(x.size()), w_ohwi(w.size()), y_nhwc(y.size());
  if (!no_xnn) {
    for (size_t c = 0; c < s.c; ++c)
      for (size_t i = 0; i < pixels; ++i) x_nhwc[i * s.c + c] = x[c * pixels + i];
    const size_t kk = s.k * s.k;
    for (size_t o = 0; o < s.o; ++o)
      for (size_t c = 0; c < s.c; ++c)
        for (size_t t = 0; t < kk; ++t) w_ohwi[(o * kk + t) * s.c + c] = w[(o * s.c + c) * kk + t];
    const uint32_t pd = static_cast<uint32_t>(pad), kd = static_cast<uint32_t>(s.k);
    if (xnn_initialize(nullptr) != xnn_status_success ||
        xnn_create_convolution2d_nhwc_f32(pd, pd, pd, pd, kd, kd, 1, 1, 1, 1, 1, s.c, s.o, s.c, s.o, w_ohwi.data(),
                                          bias.data(), -INFINITY, INFINITY, 0, &xctx.op) != xnn_status_success ||
        xnn_setup_convolution2d_nhwc_f32(xctx.op, 1, s.h, s.w, x_nhwc.data(), y_nhwc.data(), pool) !=
            xnn_status_success) {
      std::fprintf(stderr, "conv: XNNPACK convolution setup failed\n");
      return 1;
    }
    cands.push_back({"fp32", "xnnpack_convolution2d_nhwc_f32", RunXnnOperator, &xctx, {}, {}});
  }
#endif

  RunAlternating(cands, reps, threads);

  // Edge FP32 and XNNPACK compute the same convolution: the largest
  // difference, relative to the largest output.
  double rel = 0;
  const Candidate* xnn = nullptr;
#if defined(EDGE_WITH_XNNPACK)
  if (!no_xnn) {
    rel = MaxRelDiff(y, y_nhwc, s.o, pixels, true);
    xnn = &cands[1];
  }
#endif
  // INT8 against edge FP32: its quantization error, not a broken kernel.
  const double int8_rel = int8 ? MaxRelDiff(y, qctx.y, s.o, pixels, false) : 0.0;
  // Wall time and CPU time (per thread) of each run: on a loaded machine
  // the wall time includes time the scheduler gave to others, the CPU time
  // does not (the peak is measured in CPU time too).
  const double edge_wall = Median(cands[0].times), edge_cpu = Median(cands[0].cpu);
  const bool has_xnn = xnn != nullptr;
  const double wall_ratio = has_xnn ? Median(xnn->times) / edge_wall : 0.0;
  const double cpu_ratio = has_xnn ? Median(xnn->cpu) / edge_cpu : 0.0;
  const double min_ratio = has_xnn ? Min(xnn->times) / Min(cands[0].times) : 0.0;
  for (const Candidate& c : cands) {
    const bool is_int8 = c.precision == "int8";
    const double med = Median(c.times), cpu_med = Median(c.cpu);
    const double gflops = flops / med * 1e-9, gflops_cpu = flops / cpu_med * 1e-9;
    const double pct = peak > 0 ? 100.0 * gflops / (peak * threads) : 0.0;
    const double pct_cpu = peak > 0 ? 100.0 * gflops_cpu / (peak * threads) : 0.0;
    if (json) {
      PrintJsonLine({{"bench", "conv"}, {"role", s.role}, {"c", s.c}, {"o", s.o}, {"h", s.h}, {"w", s.w}, {"k", s.k},
                     {"threads", threads}, {"isa", scalar ? "scalar" : "best"}, {"precision", c.precision},
                     {"kernel", c.kernel}, {"reps", reps},
                     {"median_ms", JsonFigure(med * 1e3, "%.4f")}, {"min_ms", JsonFigure(Min(c.times) * 1e3, "%.4f")},
                     {"cpu_ms_per_thread", JsonFigure(cpu_med * 1e3, "%.4f")}, {"gflops", JsonFigure(gflops, "%.1f")},
                     {"pct_of_peak", JsonFigure(pct, "%.1f")}, {"pct_of_peak_cpu", JsonFigure(pct_cpu, "%.1f")},
                     {"edge_speed_vs_xnnpack", JsonFigure(wall_ratio, "%.3f")},
                     {"edge_speed_vs_xnnpack_min", JsonFigure(min_ratio, "%.3f")},
                     {"edge_speed_vs_xnnpack_cpu", JsonFigure(cpu_ratio, "%.3f")},
                     {"speed_vs_edge_fp32_cpu", JsonFigure(edge_cpu / cpu_med, "%.3f")},
                     {"speed_vs_edge_fp32_min", JsonFigure(Min(cands[0].times) / Min(c.times), "%.3f")},
                     {"max_rel_diff", JsonFigure(is_int8 ? int8_rel : rel, "%.2e")}});
    } else {
      std::printf("%-14s %zux%zu %4zu->%-4zu %4zux%-4zu T=%d %-31s median %8.3f ms (cpu %8.3f) %5.1f%% of peak (cpu %5.1f%%)\n",
                  s.role, s.k, s.k, s.c, s.o, s.h, s.w, threads, c.kernel.c_str(), med * 1e3, cpu_med * 1e3, pct,
                  pct_cpu);
    }
  }
  if (!json && int8)
    std::printf("%-14s INT8 speed / edge FP32 speed = %.2fx cpu, %.2fx min wall (INT8 max rel diff %.1e)\n", s.role,
                edge_cpu / Median(cands.back().cpu), Min(cands[0].times) / Min(cands.back().times), int8_rel);
  if (!json && has_xnn)
    std::printf("%-14s edge speed / XNNPACK speed = %.2fx median wall, %.2fx min wall, %.2fx cpu (max rel diff %.1e)\n",
                s.role, wall_ratio, min_ratio, cpu_ratio, rel);
#if defined(EDGE_WITH_XNNPACK)
  if (xctx.op) xnn_delete_operator(xctx.op);
#endif
  if (pool) pthreadpool_destroy(pool);
  return rel > 1e-4 ? 1 : 0;  // the two disagree: a broken kernel, not a timing
}

}  // namespace

int ConvMain(int argc, char** argv) {
  const Options args(argc, argv, {"shape", "threads", "reps", "isa", "precision"}, {"json", "no-xnnpack"});
  if (!args.ok()) {
    std::fprintf(stderr, "edge-bench conv: %s\n", args.error().c_str());
    return 2;
  }
  const std::string threads_arg = args.Str("threads", "1,2");
  const int reps = static_cast<int>(args.Int("reps", 0));
  const bool json = args.Has("json");
  const bool no_xnn = args.Has("no-xnnpack");
  // --isa scalar: edge's portable GEMM, what runs where we have no SIMD GEMM.
  const std::string isa = args.Str("isa", "best");
  if (isa != "best" && isa != "scalar") {
    std::fprintf(stderr, "conv: --isa wants best or scalar\n");
    return 2;
  }
  // --precision int8: edge's INT8 convolution joins the alternation.
  const std::string precision = args.Str("precision", "fp32");
  if (precision != "fp32" && precision != "int8") {
    std::fprintf(stderr, "conv: --precision wants fp32 or int8\n");
    return 2;
  }
  std::vector<ConvShape> shapes;
  const std::string shape = args.Str("shape", "");
  if (!shape.empty()) {
    ConvShape s;
    if (!ParseShape(shape, &s)) {
      std::fprintf(stderr, "conv: --shape wants C,O,H,W,K (positive, <= 4096)\n");
      return 2;
    }
    shapes.push_back(s);
  } else {
    shapes.assign(std::begin(kDecoderShapes), std::end(kDecoderShapes));
  }
  std::vector<int> threads;
  for (const char* p = threads_arg.c_str(); *p;) {
    char* end = nullptr;
    const long t = std::strtol(p, &end, 10);
    if (end == p || t < 1 || t > 256) {
      std::fprintf(stderr, "conv: --threads wants a comma list of counts in 1..256\n");
      return 2;
    }
    threads.push_back(static_cast<int>(t));
    p = *end == ',' ? end + 1 : end;
  }
  const double peak = MeasureFp32FmaPeak();
  if (json) {
    PrintJsonLine({{"bench", "peak"}, {"fp32_fma_gflops_per_core", JsonFigure(peak, "%.1f")}});
  } else {
    std::printf("peak per core: FP32 FMA %.1f GFLOP/s\n", peak);
  }
  int rc = 0;
  for (const ConvShape& s : shapes)
    for (int t : threads) rc |= RunShape(s, t, reps, json, no_xnn, isa == "scalar", precision == "int8", peak);
  return rc;
}

}  // namespace bench
}  // namespace edge
