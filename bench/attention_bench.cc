// edge-bench attention: the dense tiled FP32 attention kernel on its own,
// softmax(q k^T / sqrt(d)) v over [1, N, H*d] (BSHD, the layout the DiT graph
// uses), against PyTorch's scaled_dot_product_attention figures measured on
// this machine type (design/anchors.md: 12 heads, d=64, 1 core).
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include <pthreadpool.h>

#include "bench/model_bench.h"
#include "bench/model_bench_util.h"
#include "ops/cpu_features.h"
#include "ops/f32_attention.h"

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

}  // namespace

int RunAttentionBench(int argc, char** argv) {
  Options o(argc, argv, {"json", "quick", "help"});
  if (!o.ok() || o.Has("help")) {
    std::fprintf(stderr,
                 "usage: edge-bench attention [--tokens N] [--heads H] [--dim D] [--threads T]\n"
                 "                            [--density 1] [--warmup W] [--runs R] [--json] [--quick]\n");
    return o.ok() ? 0 : 2;
  }
  const bool quick = o.Has("quick");
  const long n = o.Int("tokens", quick ? 256 : 1024), h = o.Int("heads", 12), d = o.Int("dim", 64);
  const long threads = o.Int("threads", 1);
  const long warmup = o.Int("warmup", 1), runs = o.Int("runs", quick ? 2 : 5);
  const double density = o.Double("density", 1.0);
  if (n < 1 || h < 1 || d < 1 || threads < 1 || runs < 1) {
    std::fprintf(stderr, "edge-bench attention: sizes, --threads and --runs must be >= 1\n");
    return 2;
  }
  const std::string head = "{\"schema\":\"edge-bench.attention.v1\",\"command\":" +
                            JsonString("edge-bench attention " + o.command()) + ",\"machine\":" + MachineJson() +
                            ",\"tokens\":" + std::to_string(n) + ",\"heads\":" + std::to_string(h) +
                            ",\"dim\":" + std::to_string(d) + ",\"threads\":" + std::to_string(threads) +
                            ",\"attention_density\":" + JsonNumber(density);
  if (density != 1.0) {
    const char* why = "sparse attention (density < 1) is not implemented in the runtime yet";
    std::fprintf(stderr, "attention density %g: not available: %s\n", density, why);
    if (o.Has("json")) std::printf("%s,\"available\":false,\"reason\":\"%s\"}\n", head.c_str(), why);
    return 0;
  }

  const size_t elems = size_t(n) * size_t(h) * size_t(d);
  std::vector<float> q(elems), k(elems), v(elems), out(elems);
  std::mt19937 rng(5);
  std::normal_distribution<float> nd;
  for (size_t i = 0; i < elems; ++i) {
    q[i] = nd(rng);
    k[i] = nd(rng);
    v[i] = nd(rng);
  }
  F32AttentionParams p;
  p.batch = 1;
  p.heads = size_t(h);
  p.nq = p.nk = size_t(n);
  p.head_dim = size_t(d);
  p.scale = 1.f / std::sqrt(float(d));
  p.q = q.data();
  p.k = k.data();
  p.v = v.data();
  p.out = out.data();
  f32_attention_set_layout(&p, AttentionLayout::kBSHD);

  const F32AttentionKernel& kernel = f32_attention_kernel(BestIsaLevel(DetectCpuFeatures()));
  pthreadpool_t pool = threads > 1 ? pthreadpool_create(size_t(threads)) : nullptr;
  const size_t scratch_bytes = f32_attention_scratch_bytes(kernel, size_t(d), size_t(threads));
  void* scratch = std::aligned_alloc(64, (scratch_bytes + 63) / 64 * 64 + 64);
  std::vector<double> ms;
  for (long r = 0; r < warmup + runs; ++r) {
    const double t0 = NowMs();
    f32_attention(kernel, p, scratch, pool);
    if (r >= warmup) ms.push_back(NowMs() - t0);
  }
  std::free(scratch);
  if (pool != nullptr) pthreadpool_destroy(pool);
  double checksum = 0;
  for (float x : out) checksum += x;
  if (!std::isfinite(checksum)) {
    std::fprintf(stderr, "edge-bench attention: non-finite output\n");
    return 1;
  }

  const Stats s = Summarize(ms);
  const double gflop = 4.0 * double(n) * double(n) * double(h) * double(d) * 1e-9;
  const double anchor = AnchorSdpaMs(n, h, d, threads);
  std::fprintf(stderr, "attention %s: %ld tokens, %ld heads, d=%ld, %ld thread(s): %.2f ms (min %.2f, max %.2f), %.1f GFLOP/s",
               kernel.name, n, h, d, threads, s.median, s.min, s.max, gflop / (s.median * 1e-3));
  if (anchor > 0) std::fprintf(stderr, "; PyTorch SDPA %.0f ms (anchor) -> %.2fx", anchor, anchor / s.median);
  std::fprintf(stderr, "\n");
  if (o.Has("json")) {
    std::printf("%s,\"available\":true,\"kernel\":%s,\"ms\":%s,\"runs_ms\":%s,\"gflops\":%s,"
                "\"pytorch_sdpa_anchor_ms\":%s,\"speedup_vs_anchor\":%s}\n",
                head.c_str(), JsonString(kernel.name).c_str(), JsonStats(s).c_str(), JsonArray(ms).c_str(),
                JsonNumber(gflop / (s.median * 1e-3)).c_str(), anchor > 0 ? JsonNumber(anchor).c_str() : "null",
                anchor > 0 ? JsonNumber(anchor / s.median).c_str() : "null");
  }
  return 0;
}

}  // namespace bench
}  // namespace edge
