// Block-sparse attention: every ISA tile matches the reference on the same
// plan (kept tiles exact, skipped tiles through centroids); keeping every tile
// equals dense attention; centroid compensation lowers the error on smooth
// (image-like) inputs; the session override switches the kernel.
#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "ops/cpu_features.h"
#include "ops/f32_attention.h"

namespace edge {
namespace {

struct Data {
  std::vector<float> q, k, v;
};

// Smooth: token features vary slowly along a 1D sequence plus noise, as
// neighbouring patches of an image do; random: i.i.d. normal.
Data MakeData(size_t B, size_t H, size_t nq, size_t nk, size_t dh, bool smooth, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd;
  Data d;
  auto fill = [&](std::vector<float>& x, size_t n, float amp) {
    x.resize(B * n * H * dh);
    std::vector<float> base(H * dh * 4);
    for (float& b : base) b = nd(rng);
    for (size_t b = 0; b < B; ++b)
      for (size_t t = 0; t < n; ++t)
        for (size_t c = 0; c < H * dh; ++c) {
          const float ph = 6.2831853f * float(t) / float(n);
          const float s = smooth ? base[c * 4] * std::sin(ph + base[c * 4 + 1]) + base[c * 4 + 2] * std::cos(2 * ph) : 0.f;
          x[(b * n + t) * H * dh + c] = amp * (s + (smooth ? 0.2f : 1.f) * nd(rng));
        }
  };
  fill(d.q, nq, 1.0f);
  fill(d.k, nk, 1.0f);
  fill(d.v, nk, 1.f);
  return d;
}

F32AttentionParams Params(const Data& d, size_t B, size_t H, size_t nq, size_t nk, size_t dh, float* out) {
  F32AttentionParams p;
  p.batch = B;
  p.heads = H;
  p.nq = nq;
  p.nk = nk;
  p.head_dim = dh;
  p.scale = 1.f / std::sqrt(float(dh));
  p.q = d.q.data();
  p.k = d.k.data();
  p.v = d.v.data();
  p.out = out;
  f32_attention_set_layout(&p, AttentionLayout::kBSHD);
  return p;
}

double RelErr(const std::vector<float>& ref, const std::vector<float>& got) {
  double mx = 0, err = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    mx = std::max(mx, std::fabs(double(ref[i])));
    err = std::max(err, std::fabs(double(ref[i]) - got[i]));
  }
  return err / std::max(mx, 1e-12);
}

double RelL2(const std::vector<float>& ref, const std::vector<float>& got) {
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    num += (double(ref[i]) - got[i]) * (double(ref[i]) - got[i]);
    den += double(ref[i]) * ref[i];
  }
  return std::sqrt(num / den);
}

TEST(SparseAttention, TilesMatchReferenceOnTheSamePlan) {
  const CpuFeatures& cpu = DetectCpuFeatures();
  for (IsaLevel isa : {IsaLevel::kScalar, IsaLevel::kAvx2, IsaLevel::kAvx512}) {
    if (!IsaLevelSupported(isa, cpu)) continue;
    const F32AttentionKernel& kern = f32_attention_kernel(isa);
    for (size_t dh : {8, 40, 64}) {
      for (float density : {0.2f, 0.5f}) {
        for (bool comp : {false, true}) {
          const size_t B = 2, H = 3, nq = 200, nk = 333;
          Data d = MakeData(B, H, nq, nk, dh, true, 7);
          std::vector<float> ref(B * nq * H * dh), got(ref.size());
          F32AttentionParams p = Params(d, B, H, nq, nk, dh, got.data());
          std::vector<uint8_t> ws(f32_sparse_attention_workspace_bytes(p, kern.query_block) + 64);
          void* aligned = reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(ws.data()) + 63) & ~uintptr_t(63));
          f32_sparse_attention_plan(&p, kern.query_block, density, comp, aligned, nullptr);
          ASSERT_NE(p.keep, nullptr);
          std::vector<uint8_t> scratch(f32_attention_scratch_bytes(kern, dh, 1) + 64);
          void* sa = reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(scratch.data()) + 63) & ~uintptr_t(63));
          f32_attention(kern, p, sa, nullptr);
          F32AttentionParams pr = p;
          pr.out = ref.data();
          f32_attention_ref(pr);
          EXPECT_LE(RelErr(ref, got), 1e-5) << kern.name << " dh " << dh << " density " << density << " comp " << comp;
        }
      }
    }
  }
}

TEST(SparseAttention, KeepingEveryTileIsDense) {
  const size_t B = 1, H = 2, nq = 130, nk = 257, dh = 32;
  Data d = MakeData(B, H, nq, nk, dh, false, 3);
  std::vector<float> dense(B * nq * H * dh), sparse(dense.size());
  F32AttentionParams p = Params(d, B, H, nq, nk, dh, dense.data());
  f32_attention_ref(p);
  const F32AttentionKernel& kern = f32_attention_kernel(IsaLevel::kScalar);
  std::vector<uint8_t> ws(f32_sparse_attention_workspace_bytes(p, kern.query_block));
  F32AttentionParams ps = p;
  ps.out = sparse.data();
  f32_sparse_attention_plan(&ps, kern.query_block, 1.f, true, ws.data(), nullptr);
  f32_attention_ref(ps);
  EXPECT_LE(RelErr(dense, sparse), 1e-6);
}

TEST(SparseAttention, CentroidsReduceErrorOnSmoothInputs) {
  const size_t B = 1, H = 4, nq = 1024, nk = 1024, dh = 32;
  Data d = MakeData(B, H, nq, nk, dh, true, 11);
  std::vector<float> dense(B * nq * H * dh), with(dense.size()), without(dense.size());
  F32AttentionParams p = Params(d, B, H, nq, nk, dh, dense.data());
  const F32AttentionKernel& kern = f32_attention_kernel(BestIsaLevel(DetectCpuFeatures()));
  std::vector<uint8_t> scratch(f32_attention_scratch_bytes(kern, dh, 1) + 64);
  void* sa = reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(scratch.data()) + 63) & ~uintptr_t(63));
  f32_attention(kern, p, sa, nullptr);
  for (float density : {0.125f, 0.25f, 0.5f}) {
    std::vector<uint8_t> ws(f32_sparse_attention_workspace_bytes(p, kern.query_block) + 64);
    void* aligned = reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(ws.data()) + 63) & ~uintptr_t(63));
    F32AttentionParams a = p, b = p;
    a.out = with.data();
    b.out = without.data();
    f32_sparse_attention_plan(&a, kern.query_block, density, true, aligned, nullptr);
    f32_attention(kern, a, sa, nullptr);
    f32_sparse_attention_plan(&b, kern.query_block, density, false, aligned, nullptr);
    f32_attention(kern, b, sa, nullptr);
    const double ew = RelL2(dense, with), eo = RelL2(dense, without);
    std::printf("block-sparse attention, 1024 tokens, density %.3f: rel L2 vs dense %.3e with centroids, %.3e without\n",
                density, ew, eo);
    EXPECT_LT(ew, eo);
  }
}

}  // namespace
}  // namespace edge
