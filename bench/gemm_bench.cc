// edge-bench gemm: the quantized linear layer (activation quantization
// included, as the runtime runs it), or with --precision fp32 edge's own FP32
// GEMM (ops/f32_gemm.h, packed weights as the Linear binding prepares them
// for a row-major file, and the stored layout PackedF32N16 a packed file
// holds, read in place), against XNNPACK's FP32 fully-connected operator on
// the same shape, runs alternating A B A B so that both see the same machine
// state. One JSON object per measurement (--json), else a table.
#include <pthreadpool.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#if defined(EDGE_WITH_XNNPACK)
#include <xnnpack.h>
#endif

#include "bench/bench_common.h"
#include "bench/model_bench_util.h"
#include "ops/cpu_features.h"
#include "ops/f32_gemm.h"
#include "ops/kernel_config.h"
#include "ops/nvfp4.h"
#include "ops/quant_gemm.h"

namespace edge {
namespace bench {
namespace {

struct Buf {
  void* p = nullptr;
  explicit Buf(size_t n) {
    p = std::aligned_alloc(64, (n + 127) / 64 * 64);
    std::memset(p, 0, (n + 127) / 64 * 64);  // touch once, outside the timing
  }
  ~Buf() { std::free(p); }
};

struct QuantCtx {
  const QGemmKernel* kernel;
  const float* x;
  QGemmArgs args;
  void* scratch;
  pthreadpool_t pool;
};
void RunQuant(void* p) {
  QuantCtx* c = static_cast<QuantCtx*>(p);
  QGemmRun(*c->kernel, c->x, c->args.K, c->args, c->scratch, c->pool);
}

struct F32Ctx {
  const F32GemmConfig* cfg;
  size_t m, n, k;
  const float* x;
  const float* packed_w;
  const float* bias;
  float* y;
  pthreadpool_t pool;
};
void RunF32(void* p) {
  const F32Ctx* c = static_cast<const F32Ctx*>(p);
  f32_gemm_packed(*c->cfg, c->m, c->n, c->k, c->x, c->k, c->packed_w, c->bias, c->y, c->n, GemmActivation::kNone,
                  c->pool);
}


}  // namespace

int GemmMain(int argc, char** argv) {
  const Options args(argc, argv, {"m", "k", "n", "precision", "threads", "reps", "kernel"}, {"json", "no-xnnpack"});
  if (!args.ok()) {
    std::fprintf(stderr, "edge-bench gemm: %s\n", args.error().c_str());
    return 2;
  }
  const size_t M = args.Int("m", 1024), K = args.Int("k", 768), N = args.Int("n", 3072);
  const std::string precision = args.Str("precision", "int8");
  const int threads = static_cast<int>(args.Int("threads", 1));
  const int reps = static_cast<int>(args.Int("reps", 20));
  const bool json = args.Has("json");
  const bool no_xnn = args.Has("no-xnnpack");
  const std::string force = args.Str("kernel", "");
  if (precision != "fp32" && precision != "int8" && precision != "nvfp4") {
    std::fprintf(stderr, "gemm: --precision must be fp32, int8 or nvfp4\n");
    return 2;
  }

  // The integer peak is that of the instruction the INT8 kernels run on:
  // vpdpbusd with VNNI, else vpmaddwd (the AVX2 kernels).
  const double peak_dot = MeasureInt8DotPeak(), peak_madd = MeasureInt16MaddPeak(), peak_f32 = MeasureFp32FmaPeak();
  const double peak_i8 = peak_dot > 0 ? peak_dot : peak_madd;
  if (json) {
    PrintJsonLine({{"bench", "peak"}, {"int8_dot_gops_per_core", JsonFigure(peak_dot, "%.1f")},
                   {"int16_madd_gops_per_core", JsonFigure(peak_madd, "%.1f")},
                   {"fp32_fma_gflops_per_core", JsonFigure(peak_f32, "%.1f")}});
  } else {
    std::printf("peak per core: vpdpbusd %.1f GOP/s, vpmaddwd %.1f GOP/s, FP32 FMA %.1f GFLOP/s\n", peak_dot,
                peak_madd, peak_f32);
  }

  pthreadpool_t pool = threads > 1 ? pthreadpool_create(threads) : nullptr;
  std::mt19937 rng(42);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> x(M * K), w(N * K), bias(N);
  for (float& v : x) v = g(rng);
  for (float& v : w) v = g(rng) * 0.05f;
  for (float& v : bias) v = g(rng);
  std::vector<float> y(M * N);

  std::vector<Candidate> cands;
  const size_t Np = RoundUp(N, 16);
  std::vector<float> bias_p(Np, 0.0f), sw_p(Np, 0.0f);
  std::copy(bias.begin(), bias.end(), bias_p.begin());
  std::vector<int32_t> wcorr(Np, 0);
  std::vector<uint8_t> packed, packed_sc;
  QuantCtx qctx;
  Buf* scratch = nullptr;
  if (precision != "fp32") {
    const bool nv = precision == "nvfp4";
    const QGemmKernel* kern = nv ? kernel_config().qnvfp4_gemm : kernel_config().qs8_gemm;
    if (!force.empty()) {
      const QGemmKernel* const* list;
      const size_t n = nv ? Qnvfp4GemmVariants(&list) : Qs8GemmVariants(&list);
      kern = nullptr;
      for (size_t i = 0; i < n; ++i)
        if (force == list[i]->name) kern = list[i];
      if (kern == nullptr || !kern->supported(DetectCpuFeatures())) {
        std::fprintf(stderr, "gemm: kernel '%s' not available\n", force.c_str());
        return 2;
      }
    }
    QGemmArgs a;
    a.M = M; a.N = N; a.K = K;
    if (nv) {
      std::vector<uint8_t> codes(N * ((K + 1) / 2)), scales(N * ((K + 15) / 16));
      float ts;
      Nvfp4Quantize(w.data(), N, K, K, codes.data(), scales.data(), &ts);
      packed.resize(Nvfp4PackedCodeBytes(N, K));
      packed_sc.resize(Nvfp4PackedScaleBytes(N, K));
      Nvfp4PackN16K64(codes.data(), scales.data(), N, K, packed.data(), packed_sc.data());
      a.w_scales = packed_sc.data();
      a.tensor_half = 0.5f * ts;
    } else {
      std::vector<int8_t> q(N * K);
      Qs8QuantizePerChannel(w.data(), N, K, K, q.data(), sw_p.data());
      packed.resize(Qs8PackedBytes(N, K));
      Qs8PackN16K4(q.data(), N, K, packed.data());
      Qs8ColumnCorrection(packed.data(), N, K, wcorr.data());
      a.w_scale = sw_p.data();
      a.w_corr = wcorr.data();
    }
    a.w = packed.data();
    a.bias = bias_p.data();
    a.y = y.data();
    a.ldy = N;
    scratch = new Buf(QGemmScratchBytes(*kern, M, K));
    qctx = {kern, x.data(), a, scratch->p, pool};
    cands.push_back({precision, kern->name, RunQuant, &qctx, {}, {}});
  }
  F32Ctx fctx{};
  std::vector<float> packed_f32;
  if (precision == "fp32") {
    const F32GemmConfig& cfg = *kernel_config().gemm;
    packed_f32.resize(f32_gemm_packed_floats(N, K, cfg.nr));
    f32_gemm_pack_nk(N, K, w.data(), K, cfg.nr, packed_f32.data());
    fctx = {&cfg, M, N, K, x.data(), packed_f32.data(), bias.data(), y.data(), pool};
    cands.push_back({"fp32", cfg.name, RunF32, &fctx, {}, {}});
  }

  // The same layer as a packed file runs it (PackedF32N16 read in place);
  // the candidate above is the row-major file's (native panels packed at load).
  const F32GemmConfig& p16 = *kernel_config().gemm_p16;
  std::vector<float> w_p16, y_p16(M * N);
  F32Ctx f_p16{};
  if (precision == "fp32") {
    w_p16.resize(f32_gemm_packed_floats(N, K, p16.panel));
    f32_gemm_pack_nk(N, K, w.data(), K, p16.panel, w_p16.data());
    f_p16 = {&p16, M, N, K, x.data(), w_p16.data(), bias.data(), y_p16.data(), pool};
    cands.push_back({"fp32", std::string(p16.name) + " (packed file)", RunF32, &f_p16, {}, {}});
  }

#if defined(EDGE_WITH_XNNPACK)
  XnnRun xctx;
  xctx.pool = pool;
  std::vector<float> y2(M * N);
  if (!no_xnn) {
    if (xnn_initialize(nullptr) != xnn_status_success ||
        xnn_create_fully_connected_nc_f32(K, N, K, N, w.data(), bias.data(), -INFINITY, INFINITY, 0,
                                          &xctx.op) != xnn_status_success ||
        xnn_setup_fully_connected_nc_f32(xctx.op, M, x.data(), y2.data(), pool) != xnn_status_success) {
      std::fprintf(stderr, "gemm: XNNPACK fully-connected setup failed\n");
      return 1;
    }
    cands.push_back({"fp32", "xnnpack_fully_connected_nc_f32", RunXnnOperator, &xctx, {}, {}});
  }
#endif
  if (cands.empty()) {
    std::fprintf(stderr, "gemm: nothing to run\n");
    return 2;
  }

  RunAlternating(cands, reps, threads);

  if (precision == "fp32") {
    // Same register block and order of sums: both layouts give the same bits.
    const bool same = std::memcmp(y.data(), y_p16.data(), M * N * sizeof(float)) == 0;
    if (json) PrintJsonLine({{"bench", "fp32_layouts"}, {"same_bits", same}});
    else std::printf("fp32 row-major-file and packed-file outputs: %s\n", same ? "same bits" : "DIFFER");
  }
  const double ops = 2.0 * M * N * K;
  for (const Candidate& c : cands) {
    const double med = Median(c.times), mn = Min(c.times), cpu = Median(c.cpu);
    const double gops = ops / med * 1e-9;
    const double peak = (c.precision == "fp32" ? peak_f32 : peak_i8) * threads;
    const double pct = peak > 0 ? 100.0 * gops / peak : 0.0;
    if (json) {
      PrintJsonLine({{"bench", "gemm"}, {"m", M}, {"k", K}, {"n", N}, {"precision", c.precision},
                     {"threads", threads}, {"kernel", c.kernel}, {"reps", reps},
                     {"median_ms", JsonFigure(med * 1e3, "%.4f")}, {"min_ms", JsonFigure(mn * 1e3, "%.4f")},
                     {"gops", JsonFigure(gops, "%.1f")}, {"pct_of_peak", JsonFigure(pct, "%.1f")},
                     {"peak_gops", JsonFigure(peak, "%.1f")}, {"cpu_ms_per_thread", JsonFigure(cpu * 1e3, "%.4f")}});
    } else {
      std::printf("%-6s %-32s M=%zu K=%zu N=%zu T=%d  median %.3f ms  min %.3f ms  %.1f GOP/s  %.1f%% of peak"
                  "  (cpu %.3f ms/thread)\n",
                  c.precision.c_str(), c.kernel.c_str(), M, K, N, threads, med * 1e3, mn * 1e3, gops, pct,
                  cpu * 1e3);
    }
  }
#if defined(EDGE_WITH_XNNPACK)
  if (xctx.op) xnn_delete_operator(xctx.op);
#endif
  delete scratch;
  if (pool) pthreadpool_destroy(pool);
  return 0;
}

}  // namespace bench
}  // namespace edge
