// edge-bench attention: the dense tiled FP32 attention kernel on its own,
// softmax(q k^T / sqrt(d)) v over [1, N, H*d] (BSHD, the layout the DiT graph
// uses), against PyTorch's scaled_dot_product_attention figures measured on
// this machine type (design/anchors.md: 12 heads, d=64, 1 core).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <pthreadpool.h>

#include "bench/bench_common.h"
#include "bench/model_bench.h"
#include "bench/model_bench_util.h"
#include "ops/cpu_features.h"
#include "ops/f32_attention.h"
#include "ops/f32_attention_cluster.h"
#include "ops/kernel_config.h"
#include "ops/qs8_attention.h"

namespace edge {
namespace bench {
namespace {

// PyTorch SDPA, 12 heads, d=64, FP32, 1 core (anchors); 0: no figure.
double AnchorSdpaMs(long tokens, long heads, long dim, long threads) {
  if (heads != 12 || dim != 64 || threads != 1) return 0;
  if (tokens == 1024) return 32;
  if (tokens == 4096) return 540;
  return 0;
}

// Relative L2 and cosine of `got` against `ref`.
struct Err {
  double rel_l2 = 0, cosine = 1;
};
Err Compare(const std::vector<float>& ref, const std::vector<float>& got) {
  double num = 0, rr = 0, gg = 0, rg = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double r = ref[i], g = got[i];
    num += (r - g) * (r - g);
    rr += r * r;
    gg += g * g;
    rg += r * g;
  }
  Err e;
  e.rel_l2 = rr > 0 ? std::sqrt(num / rr) : 0;
  e.cosine = rr > 0 && gg > 0 ? rg / std::sqrt(rr * gg) : 1;
  return e;
}

// Token features: "random" i.i.d. normal (no structure: the worst case for
// any sparse scheme), or "objects": each frame of 256 tokens shows a few
// regions with their own feature centre, moving a little between frames,
// plus noise (closer to a video DiT's q/k/v).
void FillTokens(std::vector<float>* x, size_t n, size_t width, bool objects, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd;
  x->resize(n * width);
  if (!objects) {
    for (float& f : *x) f = nd(rng);
    return;
  }
  const size_t kObjects = 12;
  std::vector<float> centres(kObjects * width);
  for (float& c : centres) c = nd(rng);
  for (size_t t = 0; t < n; ++t) {
    const size_t frame = t / 256, pos = t % 256, row = pos / 16, col = pos % 16;
    // Regions: a 3 x 4 grid of blocks that shifts by one column per frame.
    const size_t obj = (row / 6) * 4 + ((col + frame) / 4) % 4;
    for (size_t c = 0; c < width; ++c)
      (*x)[t * width + c] = centres[(obj % kObjects) * width + c] + 0.5f * nd(rng);
  }
}

struct Variant {
  std::string name;
  double density_arg = 1;  // tiles
  ClusterAttentionConfig cluster;
  int kind = 0;  // 0 dense, 1 tiles, 2 clusters
  bool int8 = false;  // INT8 tiles (ops/qs8_attention.h) for the exact part
};

// PyTorch's scaled_dot_product_attention (torch >= 2; before: softmax(q k^T) v
// with the same math, as its CPU fallback computes) on the same shape and thread count,
// timed by Debian's python3 in this run (median ms over `runs` after one
// warm-up call); < 0 when python3 or torch is missing.
double SdpaMs(long n, long h, long d, long threads, long runs) {
  const char* py = std::getenv("EDGE_PYTHON");
  char cmd[1024];
  std::snprintf(cmd, sizeof(cmd),
                "%s -c 'import time, torch\n"
                "torch.set_num_threads(%ld)\n"
                "q, k, v = (torch.randn(1, %ld, %ld, %ld) for _ in range(3))\n"
                "F = torch.nn.functional\n"
                "f = getattr(F, \"scaled_dot_product_attention\", None) or (lambda q, k, v: "
                "torch.softmax(q @ k.transpose(-1, -2) * %g, -1) @ v)\n"
                "f(q, k, v)\n"
                "ts = []\n"
                "for _ in range(%ld):\n"
                "    t0 = time.perf_counter(); f(q, k, v); ts.append((time.perf_counter() - t0) * 1e3)\n"
                "print(sorted(ts)[len(ts) // 2])' 2>/dev/null",
                py != nullptr ? py : "/usr/bin/python3", threads, h, n, d, 1.0 / std::sqrt(double(d)), runs);
  FILE* f = popen(cmd, "r");
  if (f == nullptr) return -1;
  double ms = -1;
  if (std::fscanf(f, "%lf", &ms) != 1) ms = -1;
  pclose(f);
  return ms;
}

// The FP32 dense run: the reference of every error and speed-up.
bool IsRef(const Variant& v) { return v.kind == 0 && !v.int8; }

}  // namespace

int RunAttentionBench(int argc, char** argv) {
  Options o(argc, argv,
            {"tokens", "heads", "dim", "threads", "density", "clusters", "min-frac", "err-tol", "cluster-size",
             "key-cluster-size", "kmeans-iters", "data", "precision", "warmup", "runs"},
            {"json", "quick", "help", "sdpa"});
  if (!o.ok() || o.Has("help")) {
    if (!o.ok()) std::fprintf(stderr, "edge-bench attention: %s\n", o.error().c_str());
    std::fprintf(stderr,
                 "usage: edge-bench attention [--tokens N] [--heads H] [--dim D] [--threads T]\n"
                 "                            [--density D[,D...]] [--clusters P[,P...]] [--min-frac F]\n"
                 "                            [--err-tol E] [--cluster-size N] [--key-cluster-size N]\n"
                 "                            [--kmeans-iters N] [--data random|objects]\n"
                 "                            [--precision fp32,int8] [--sdpa]\n"
                 "                            [--warmup W] [--runs R] [--json] [--quick]\n"
                 "  --density   block-sparse over 64-key tiles at these densities\n"
                 "  --clusters  cluster-sparse at these top-p values (with --min-frac, --err-tol)\n"
                 "  --precision every variant with these tile arithmetics (default fp32)\n"
                 "  --sdpa      PyTorch scaled_dot_product_attention on the same shape, this run\n"
                 "Every variant reports its time and its error against FP32 dense (relative L2,\n"
                 "cosine); cluster plans are timed warm (as on denoising steps after the first).\n");
    return o.ok() ? 0 : 2;
  }
  const bool quick = o.Has("quick");
  const long n = o.Int("tokens", quick ? 256 : 1024), h = o.Int("heads", 12), d = o.Int("dim", 64);
  const long threads = o.Int("threads", 1);
  const long warmup = o.Int("warmup", 1), runs = o.Int("runs", quick ? 2 : 5);
  const std::string data = o.Str("data", "random");
  if (n < 1 || h < 1 || d < 1 || threads < 1 || runs < 1 || (data != "random" && data != "objects")) {
    std::fprintf(stderr, "edge-bench attention: sizes, --threads and --runs must be >= 1; --data random|objects\n");
    return 2;
  }
  std::vector<Variant> variants(1);
  variants[0].name = "dense";
  for (const std::string& s : o.List("density", "1")) {
    const double den = std::atof(s.c_str());
    if (!(den > 0 && den <= 1)) {
      std::fprintf(stderr, "edge-bench attention: --density values must be in (0, 1]\n");
      return 2;
    }
    if (den >= 1) continue;
    Variant v;
    v.kind = 1;
    v.density_arg = den;
    v.name = "tiles density " + s;
    variants.push_back(v);
  }
  for (const std::string& s : o.List("clusters", "")) {
    if (s.empty()) continue;
    Variant v;
    v.kind = 2;
    v.cluster.top_p = float(std::atof(s.c_str()));
    v.cluster.min_frac = float(o.Double("min-frac", v.cluster.min_frac));
    v.cluster.err_tol = float(o.Double("err-tol", v.cluster.err_tol));
    const long cs = o.Int("cluster-size", v.cluster.q_tokens_per_cluster);
    const long ks = o.Int("key-cluster-size", v.cluster.k_tokens_per_cluster);
    v.cluster.q_tokens_per_cluster = uint32_t(cs > 0 ? cs : 64);
    v.cluster.k_tokens_per_cluster = uint32_t(ks > 0 ? ks : 64);
    v.cluster.iters = uint32_t(o.Int("kmeans-iters", v.cluster.iters));
    v.cluster.gemm = kernel_config().gemm;
    v.name = "clusters top-p " + s;
    variants.push_back(v);
  }
  bool want_fp32 = false, want_int8 = false;
  for (const std::string& pr : o.List("precision", "fp32")) {
    if (pr == "fp32") want_fp32 = true;
    else if (pr == "int8") want_int8 = true;
    else {
      std::fprintf(stderr, "edge-bench attention: --precision takes fp32 and/or int8\n");
      return 2;
    }
  }
  {
    // The FP32 dense run stays first: it is the reference of every error.
    const size_t nv = variants.size();
    for (size_t i = 0; want_int8 && i < nv; ++i) {
      Variant w = variants[i];
      w.int8 = true;
      w.name += " int8";
      variants.push_back(w);
    }
    if (!want_fp32) variants.erase(variants.begin() + 1, variants.begin() + static_cast<long>(nv));
  }
  Json report = {{"schema", "edge-bench.attention.v1"}, {"command", "edge-bench attention " + o.command()},
                 {"machine", MachineJson()}, {"tokens", n}, {"heads", h}, {"dim", d}, {"threads", threads},
                 {"data", data}};

  const size_t elems = size_t(n) * size_t(h) * size_t(d);
  std::vector<float> q, k, v, ref(elems), out(elems);
  FillTokens(&q, size_t(n), size_t(h * d), data == "objects", 5);
  FillTokens(&k, size_t(n), size_t(h * d), data == "objects", 6);
  FillTokens(&v, size_t(n), size_t(h * d), data == "objects", 7);
  F32AttentionParams base;
  base.batch = 1;
  base.heads = size_t(h);
  base.nq = base.nk = size_t(n);
  base.head_dim = size_t(d);
  base.scale = 1.f / std::sqrt(float(d));
  base.q = q.data();
  base.k = k.data();
  base.v = v.data();
  f32_attention_set_layout(&base, AttentionLayout::kBSHD);

  const F32AttentionKernel& kernel = *kernel_config().attention;
  const Qs8AttentionKernel& q8 = *kernel_config().qs8_attention;
  pthreadpool_t pool = threads > 1 ? pthreadpool_create(size_t(threads)) : nullptr;
  size_t scratch_bytes = f32_attention_scratch_bytes(kernel, size_t(d), size_t(threads));
  if (want_int8) scratch_bytes = std::max(scratch_bytes, qs8_attention_scratch_bytes(q8, base, size_t(threads)));
  void* scratch = std::aligned_alloc(64, (scratch_bytes + 63) / 64 * 64 + 64);
  const double gflop = 4.0 * double(n) * double(n) * double(h) * double(d) * 1e-9;
  const double anchor = AnchorSdpaMs(n, h, d, threads);
  // Per-core peaks of the instructions the dense kernels multiply with: FP32
  // FMA, and for INT8 attention the int16-pair product of the picked tile.
  const bool q8_vnni = std::strstr(q8.name, "avx512vnni") != nullptr;
  const bool q8_zmm = q8_vnni || std::strstr(q8.name, "avx512bw") != nullptr;
  const char* q8_op = q8_vnni ? "vpdpwssd zmm" : q8_zmm ? "vpmaddwd zmm" : "vpmaddwd";
  const double peak_f32 = MeasureFp32FmaPeak();
  const double peak_madd = MeasureInt16PairPeak(q8_vnni  ? Int16PairOp::kVpdpwssdZmm
                                                : q8_zmm ? Int16PairOp::kVpmaddwdZmm
                                                         : Int16PairOp::kVpmaddwdYmm);
  std::fprintf(stderr, "peak per core: FP32 FMA %.1f GFLOP/s, %s %.1f GOP/s (0: not on this CPU)\n", peak_f32, q8_op,
               peak_madd);
  Json rows = Json::array();
  double dense_ms = 0;
  Stats dense_stats;
  std::vector<double> dense_runs;
  for (const Variant& var : variants) {
    std::vector<uint8_t> ws;
    void* wsa = nullptr;
    const size_t qblock = var.int8 ? q8.query_block : kernel.query_block;
    if (var.kind == 1) ws.resize(f32_sparse_attention_workspace_bytes(base, qblock) + 64);
    if (var.kind == 2) ws.assign(f32_cluster_attention_state_bytes(base, var.cluster) + 64, 0);
    if (!ws.empty()) wsa = reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(ws.data()) + 63) & ~uintptr_t(63));
    std::vector<double> ms, plan_ms;
    ClusterAttentionStats st;
    double density_used = 1;
    for (long r = 0; r < warmup + runs; ++r) {
      F32AttentionParams p = base;
      p.out = IsRef(var) ? ref.data() : out.data();
      ClusterAttentionStats call;
      const double t0 = NowMs();
      if (var.kind == 1) {
        f32_sparse_attention_plan(&p, qblock, float(var.density_arg), true, wsa, pool);
      } else if (var.kind == 2) {
        f32_cluster_attention_plan(&p, var.cluster, wsa, pool, &call);
      }
      const double t1 = NowMs();
      if (var.int8) {
        qs8_attention(q8, p, scratch, pool);
      } else {
        f32_attention(kernel, p, scratch, pool);
      }
      if (r >= warmup) {
        ms.push_back(NowMs() - t0);
        plan_ms.push_back(t1 - t0);
      }
      if (var.kind == 1) {
        size_t kept = 0, all = p.qblocks * p.ktiles * p.batch * p.heads;
        for (size_t i = 0; i < all; ++i) kept += p.keep[i] != 0;
        density_used = double(kept) / double(all);
      } else if (var.kind == 2) {
        density_used = call.exact_pairs / call.total_pairs;
      }
    }
    const Stats s = Summarize(ms);
    if (IsRef(var)) {
      dense_ms = s.median;
      dense_stats = s;
      dense_runs = ms;
    }
    const std::vector<float>& got = IsRef(var) ? ref : out;
    double checksum = 0;
    for (float x : got) checksum += x;
    if (!std::isfinite(checksum)) {
      std::fprintf(stderr, "edge-bench attention: non-finite output (%s)\n", var.name.c_str());
      return 1;
    }
    const Err e = IsRef(var) ? Err{} : Compare(ref, got);
    std::fprintf(stderr,
                 "attention %s [%s]: %ld tokens, %ld heads, d=%ld, %ld thread(s), %s data: %.2f ms (min %.2f, max %.2f),"
                 " of which plan %.2f, exact fraction %.3f, %.2fx vs dense, rel L2 %.2e, cosine %.6f",
                 var.name.c_str(), var.int8 ? q8.name : kernel.name, n, h, d, threads, data.c_str(), s.median, s.min, s.max,
                 Summarize(plan_ms).median, density_used,
                 dense_ms / s.median, e.rel_l2, e.cosine);
    const double peak = (var.int8 ? peak_madd : peak_f32) * double(threads);
    const double pct = var.kind == 0 && peak > 0 ? 100.0 * gflop / (s.median * 1e-3) / peak : 0.0;
    if (var.kind == 0) {
      std::fprintf(stderr, ", %.1f GFLOP/s", gflop / (s.median * 1e-3));
      if (pct > 0) std::fprintf(stderr, " (%.0f%% of the %s peak)", pct, var.int8 ? q8_op : "FMA");
    }
    if (IsRef(var) && anchor > 0) std::fprintf(stderr, "; PyTorch SDPA %.0f ms (anchor) -> %.2fx", anchor, anchor / s.median);
    std::fprintf(stderr, "\n");
    rows.push_back({{"variant", var.name}, {"kernel", var.int8 ? q8.name : kernel.name}, {"ms", JsonStats(s)},
                    {"runs_ms", JsonArray(ms)}, {"plan_ms", JsonNumber(Summarize(plan_ms).median)},
                    {"exact_fraction", JsonNumber(density_used)}, {"speedup_vs_dense", JsonNumber(dense_ms / s.median)},
                    {"rel_l2_vs_dense", JsonNumber(e.rel_l2)}, {"cosine_vs_dense", JsonNumber(e.cosine)},
                    {"pct_of_peak", pct > 0 ? JsonNumber(pct) : nullptr}});
  }
  std::free(scratch);
  if (pool != nullptr) pthreadpool_destroy(pool);
  double sdpa = -1;
  if (o.Has("sdpa")) {
    sdpa = SdpaMs(n, h, d, threads, runs);
    if (sdpa > 0) {
      std::fprintf(stderr, "PyTorch SDPA (this run): %.2f ms -> edge FP32 dense %.2fx faster\n", sdpa, sdpa / dense_ms);
    } else {
      std::fprintf(stderr, "PyTorch SDPA: not available (python3 with torch needed)\n");
    }
  }
  if (o.Has("json")) {
    // Top-level figures are the dense run's (as before the variants existed).
    report["available"] = true;
    report["kernel"] = kernel.name;
    report["ms"] = JsonStats(dense_stats);
    report["runs_ms"] = JsonArray(dense_runs);
    report["gflops"] = JsonNumber(gflop / (dense_ms * 1e-3));
    report["pytorch_sdpa_anchor_ms"] = anchor > 0 ? JsonNumber(anchor) : nullptr;
    report["speedup_vs_anchor"] = anchor > 0 ? JsonNumber(anchor / dense_ms) : nullptr;
    report["pytorch_sdpa_ms"] = sdpa > 0 ? JsonNumber(sdpa) : nullptr;
    report["peak_fp32_fma_gflops_per_core"] = JsonNumber(peak_f32);
    report["peak_int16_madd_gops_per_core"] = JsonNumber(peak_madd);
    report["peak_int16_madd_instruction"] = q8_op;
    report["variants"] = std::move(rows);
    PrintJsonLine(report);
  }
  return 0;
}

}  // namespace bench
}  // namespace edge
