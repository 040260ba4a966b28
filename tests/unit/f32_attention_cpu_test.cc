// The FP32 attention kernel a Session picks for this CPU (kernel_config().attention:
// NEON on AArch64, the best x86 level elsewhere) against the double reference,
// dense and along a tile plan with centroids.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "ops/cpu_features.h"
#include "ops/f32_attention.h"
#include "ops/kernel_config.h"

namespace edge {
namespace {

double MaxRel(const std::vector<float>& got, const std::vector<float>& ref) {
  double md = 0, mr = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    if (!std::isfinite(got[i])) return HUGE_VAL;
    md = std::fmax(md, std::fabs(double(got[i]) - ref[i]));
    mr = std::fmax(mr, std::fabs(double(ref[i])));
  }
  return md / std::fmax(1e-6, mr);
}

TEST(F32AttentionForCpu, MatchesReference) {
  const F32AttentionKernel& ker = *kernel_config().attention;
  struct Case {
    size_t b, h, nq, nk, dh;
    AttentionLayout layout;
    float density;
  };
  const Case cases[] = {{1, 2, 97, 97, 32, AttentionLayout::kBSHD, 1.f},
                        {2, 1, 70, 130, 72, AttentionLayout::kBHSD, 1.f},
                        {1, 3, 33, 7, 17, AttentionLayout::kBSHD, 1.f},
                        {1, 2, 150, 300, 64, AttentionLayout::kBSHD, 0.4f}};
  uint32_t seed = 70;
  for (const Case& c : cases) {
    std::mt19937 rng(++seed);
    std::normal_distribution<float> nd;
    std::vector<float> q(c.b * c.h * c.nq * c.dh), k(c.b * c.h * c.nk * c.dh), v(k.size());
    for (auto& x : q) x = nd(rng);
    for (auto& x : k) x = nd(rng);
    for (auto& x : v) x = nd(rng);
    F32AttentionParams p;
    p.batch = c.b; p.heads = c.h; p.nq = c.nq; p.nk = c.nk; p.head_dim = c.dh;
    p.scale = 1.f / std::sqrt(float(c.dh));
    f32_attention_set_layout(&p, c.layout);
    p.q = q.data(); p.k = k.data(); p.v = v.data();
    std::vector<uint8_t> ws;
    if (c.density < 1.f) {
      ws.assign(f32_sparse_attention_workspace_bytes(p, ker.query_block) + 64, 0);
      void* a = reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(ws.data()) + 63) / 64 * 64);
      f32_sparse_attention_plan(&p, ker.query_block, c.density, true, a, nullptr);
    }
    std::vector<float> ref(q.size()), got(q.size(), 3.f);
    p.out = ref.data();
    f32_attention_ref(p);
    std::vector<float> scratch(f32_attention_scratch_bytes(ker, c.dh, 1) / 4 + 32);
    float* sa = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(scratch.data()) + 63) / 64 * 64);
    p.out = got.data();
    f32_attention(ker, p, sa, nullptr);
    EXPECT_LE(MaxRel(got, ref), 1e-5) << ker.name << " nq" << c.nq << " nk" << c.nk << " dh" << c.dh
                                      << " density " << c.density;
  }
}

}  // namespace
}  // namespace edge
