// Cluster-sparse attention: every ISA tile matches the double reference on the
// same plan (odd token counts, head dims 32/64/72/128, cross-attention,
// extreme logits); keeping every cluster equals dense attention; plans and
// outputs are the same bits for 1 and 2 threads; the selection picks the
// clusters a hand-built case calls for (by mass, and by compensation error
// when masses tie); and a Session runs it through the op's options.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "ops/cpu_features.h"
#include "ops/f32_attention.h"
#include "ops/f32_attention_cluster.h"
#include "ops/kernel_config.h"
#include "runtime/model.h"
#include "runtime/session.h"
#include "runtime/writer/model_writer.h"

namespace edge {
namespace {

// 64-byte aligned, zero-filled buffer.
struct Aligned {
  explicit Aligned(size_t bytes) : mem(bytes + 64, 0) {}
  void* get() {
    return reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(mem.data()) + 63) & ~uintptr_t(63));
  }
  std::vector<uint8_t> mem;
};

// Token features: a few "objects" (cluster centres) spread over the
// sequence, plus noise, so k-means has structure to find.
std::vector<float> Tokens(size_t B, size_t n, size_t width, uint32_t seed, float amp = 1.f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd;
  std::vector<float> centres(7 * width);
  for (float& c : centres) c = nd(rng);
  std::vector<float> x(B * n * width);
  for (size_t b = 0; b < B; ++b)
    for (size_t t = 0; t < n; ++t)
      for (size_t c = 0; c < width; ++c)
        x[(b * n + t) * width + c] = amp * (centres[((t * 7) / n) * width + c] + 0.4f * nd(rng));
  return x;
}

struct Case {
  size_t B, H, nq, nk, dh;
  std::vector<float> q, k, v;
  F32AttentionParams Params(float* out) const {
    F32AttentionParams p;
    p.batch = B;
    p.heads = H;
    p.nq = nq;
    p.nk = nk;
    p.head_dim = dh;
    p.scale = 1.f / std::sqrt(float(dh));
    p.q = q.data();
    p.k = k.data();
    p.v = v.data();
    p.out = out;
    f32_attention_set_layout(&p, AttentionLayout::kBSHD);
    return p;
  }
};

Case MakeCase(size_t B, size_t H, size_t nq, size_t nk, size_t dh, uint32_t seed, float qamp = 1.f) {
  Case c{B, H, nq, nk, dh, {}, {}, {}};
  c.q = Tokens(B, nq, H * dh, seed, qamp);
  c.k = Tokens(B, nk, H * dh, seed + 1);
  c.v = Tokens(B, nk, H * dh, seed + 2);
  return c;
}

double RelMax(const std::vector<float>& ref, const std::vector<float>& got) {
  double mx = 0, err = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    if (!std::isfinite(got[i])) return HUGE_VAL;
    mx = std::max(mx, std::fabs(double(ref[i])));
    err = std::max(err, std::fabs(double(ref[i]) - got[i]));
  }
  return err / std::max(mx, 1e-12);
}

ClusterAttentionConfig Sparse() {
  ClusterAttentionConfig c;
  c.q_tokens_per_cluster = c.k_tokens_per_cluster = 32;
  c.top_p = 0.6f;
  c.min_frac = 0.1f;
  c.err_tol = 0.05f;
  return c;
}

TEST(ClusterAttention, TilesMatchReferenceOnTheSamePlan) {
  const CpuFeatures& cpu = DetectCpuFeatures();
  struct Shape { size_t nq, nk, dh; } shapes[] = {
      {203, 203, 32}, {130, 301, 64}, {301, 97, 72}, {157, 157, 128}};
  for (IsaLevel isa : {IsaLevel::kScalar, IsaLevel::kAvx2, IsaLevel::kAvx512}) {
    if (!IsaLevelSupported(isa, cpu)) continue;
    const F32AttentionKernel& kern = *kernel_config(isa).attention;
    for (const Shape& s : shapes) {
      for (bool comp : {false, true}) {
        const Case c = MakeCase(2, 2, s.nq, s.nk, s.dh, 5);
        std::vector<float> ref(c.q.size()), got(c.q.size());
        F32AttentionParams p = c.Params(got.data());
        ClusterAttentionConfig cfg = Sparse();
        cfg.compensate = comp;
        Aligned state(f32_cluster_attention_state_bytes(p, cfg));
        ClusterAttentionStats st;
        f32_cluster_attention_plan(&p, cfg, state.get(), nullptr, &st);
        ASSERT_NE(p.q_perm, nullptr);
        // Really sparse, and not empty.
        EXPECT_LT(st.exact_pairs, st.total_pairs);
        EXPECT_GT(st.exact_pairs, 0);
        Aligned scratch(f32_attention_scratch_bytes(kern, s.dh, 1));
        f32_attention(kern, p, scratch.get(), nullptr);
        F32AttentionParams pr = p;
        pr.out = ref.data();
        f32_attention_ref(pr);
        EXPECT_LE(RelMax(ref, got), 2e-5) << kern.name << " nq " << s.nq << " nk " << s.nk
                                          << " dh " << s.dh << " comp " << comp;
      }
    }
  }
}

TEST(ClusterAttention, ExtremeLogitsStayFiniteAndMatch) {
  // Queries scaled so logits reach ~1e3: a near one-hot softmax per row.
  const CpuFeatures& cpu = DetectCpuFeatures();
  const Case c = MakeCase(1, 2, 129, 200, 32, 9, 60.f);
  for (IsaLevel isa : {IsaLevel::kScalar, IsaLevel::kAvx2, IsaLevel::kAvx512}) {
    if (!IsaLevelSupported(isa, cpu)) continue;
    const F32AttentionKernel& kern = *kernel_config(isa).attention;
    std::vector<float> ref(c.q.size()), got(c.q.size());
    F32AttentionParams p = c.Params(got.data());
    const ClusterAttentionConfig cfg = Sparse();
    Aligned state(f32_cluster_attention_state_bytes(p, cfg));
    f32_cluster_attention_plan(&p, cfg, state.get(), nullptr, nullptr);
    Aligned scratch(f32_attention_scratch_bytes(kern, c.dh, 1));
    f32_attention(kern, p, scratch.get(), nullptr);
    F32AttentionParams pr = p;
    pr.out = ref.data();
    f32_attention_ref(pr);
    EXPECT_LE(RelMax(ref, got), 1e-4) << kern.name;
  }
}

TEST(ClusterAttention, FullBudgetIsDense) {
  const Case c = MakeCase(1, 3, 157, 230, 72, 13);
  std::vector<float> dense(c.q.size()), sparse(c.q.size());
  F32AttentionParams p = c.Params(dense.data());
  f32_attention_ref(p);
  const F32AttentionKernel& kern = *kernel_config(BestIsaLevel(DetectCpuFeatures())).attention;
  ClusterAttentionConfig cfg = Sparse();
  cfg.min_frac = 1.f;
  F32AttentionParams ps = c.Params(sparse.data());
  Aligned state(f32_cluster_attention_state_bytes(ps, cfg));
  ClusterAttentionStats st;
  f32_cluster_attention_plan(&ps, cfg, state.get(), nullptr, &st);
  EXPECT_EQ(st.exact_pairs, st.total_pairs);
  Aligned scratch(f32_attention_scratch_bytes(kern, c.dh, 1));
  f32_attention(kern, ps, scratch.get(), nullptr);
  EXPECT_LE(RelMax(dense, sparse), 1e-5);
}

// --attention-replan: between plans the kept pairs and clusters stay, while
// the compensation centroids follow the current keys and values; every N-th
// call plans again.
TEST(ClusterAttention, ReusedPlanKeepsPairsAndRefreshesCentroids) {
  const Case a = MakeCase(1, 2, 160, 160, 32, 41), b = MakeCase(1, 2, 160, 160, 32, 97);
  ClusterAttentionConfig cfg = Sparse();
  cfg.replan = 2;
  std::vector<float> out(a.q.size());
  F32AttentionParams pa = a.Params(out.data());
  Aligned state(f32_cluster_attention_state_bytes(pa, cfg));
  ClusterAttentionStats s1, s2, s3;
  f32_cluster_attention_plan(&pa, cfg, state.get(), nullptr, &s1);  // call 0: plans
  const size_t keep_bytes = pa.batch * pa.heads * pa.qclusters * pa.kclusters;
  const std::vector<uint8_t> keep1(pa.keep, pa.keep + keep_bytes);
  const std::vector<uint32_t> kperm1(pa.k_perm, pa.k_perm + pa.heads * pa.nk);
  ASSERT_LT(s1.exact_pairs, s1.total_pairs) << "the case must skip some pairs";

  F32AttentionParams pb = b.Params(out.data());
  f32_cluster_attention_plan(&pb, cfg, state.get(), nullptr, &s2);  // call 1: reused
  EXPECT_EQ(std::vector<uint8_t>(pb.keep, pb.keep + keep_bytes), keep1);
  EXPECT_EQ(std::vector<uint32_t>(pb.k_perm, pb.k_perm + pb.heads * pb.nk), kperm1);
  EXPECT_EQ(s2.exact_pairs, s1.exact_pairs);
  // The centroids are b's keys and values averaged over the kept clusters.
  double worst = 0;
  for (size_t bh = 0; bh < pb.heads; ++bh) {
    const uint32_t* off = pb.k_off + bh * (pb.kclusters + 1);
    for (size_t c = 0; c < pb.kclusters; ++c) {
      const uint32_t n = off[c + 1] - off[c];
      if (n == 0) continue;
      for (size_t d = 0; d < pb.head_dim; ++d) {
        double mk = 0, mv = 0;
        for (uint32_t r = off[c]; r < off[c + 1]; ++r) {
          const size_t t = pb.k_perm[bh * pb.nk + r];
          mk += pb.k[t * pb.k_ts + bh * pb.k_hs + d];
          mv += pb.v[t * pb.v_ts + bh * pb.v_hs + d];
        }
        worst = std::max(worst, std::fabs(mk / n - pb.comp_k[(bh * pb.kclusters + c) * pb.head_dim + d]));
        worst = std::max(worst, std::fabs(mv / n - pb.comp_v[(bh * pb.kclusters + c) * pb.head_dim + d]));
      }
    }
  }
  EXPECT_LE(worst, 1e-5);

  F32AttentionParams pc = b.Params(out.data());
  f32_cluster_attention_plan(&pc, cfg, state.get(), nullptr, &s3);  // call 2: plans again, on b
  EXPECT_NE(std::vector<uint32_t>(pc.k_perm, pc.k_perm + pc.heads * pc.nk), kperm1) << "b's keys cluster differently";
}

TEST(ClusterAttention, SameBitsForOneAndTwoThreads) {
  const Case c = MakeCase(2, 3, 211, 211, 32, 17);
  const F32AttentionKernel& kern = *kernel_config(BestIsaLevel(DetectCpuFeatures())).attention;
  ClusterAttentionConfig cfg = Sparse();
  cfg.gemm = kernel_config().gemm;  // the assignment as the runtime runs it
  std::vector<std::vector<float>> outs;
  std::vector<std::vector<uint8_t>> keeps;
  for (size_t threads : {1, 2}) {
    pthreadpool_t pool = threads > 1 ? pthreadpool_create(threads) : nullptr;
    std::vector<float> out(c.q.size());
    F32AttentionParams p0 = c.Params(out.data());
    Aligned state(f32_cluster_attention_state_bytes(p0, cfg));
    Aligned scratch(f32_attention_scratch_bytes(kern, c.dh, threads));
    // Three calls: the first clusters from scratch, the others warm-start
    // (the state carries over, as across denoising steps).
    for (int call = 0; call < 3; ++call) {
      F32AttentionParams p = p0;
      f32_cluster_attention_plan(&p, cfg, state.get(), pool, nullptr);
      f32_attention(kern, p, scratch.get(), pool);
      if (call == 2) {
        keeps.emplace_back(p.keep, p.keep + p.batch * p.heads * p.qclusters * p.kclusters);
      }
    }
    outs.push_back(out);
    if (pool != nullptr) pthreadpool_destroy(pool);
  }
  EXPECT_EQ(keeps[0], keeps[1]);
  ASSERT_EQ(outs[0].size(), outs[1].size());
  EXPECT_EQ(0, std::memcmp(outs[0].data(), outs[1].data(), outs[0].size() * sizeof(float)));
}

// Hand-built: keys in 4 groups interleaved over the sequence (token t in
// group (t + t / 64) % 4, so contiguous tiles would mix them; the shift per
// 64 tokens lets the strided seeds land in every group), each group a tight
// bundle around 6 * e_g; queries of group g point along e_g. Clustering must
// recover the groups, and with top_p 0.9 each query cluster keeps exactly
// the key cluster of its own group.
size_t KGroup(size_t t) { return (t + t / 64) % 4; }
size_t QGroup(size_t t) { return (t + t / 64 + 1) % 4; }

TEST(ClusterAttention, SelectionKeepsTheMatchingGroup) {
  const size_t n = 256, dh = 16, G = 4;
  std::mt19937 rng(3);
  std::normal_distribution<float> nd;
  Case c{1, 1, n, n, dh, std::vector<float>(n * dh), std::vector<float>(n * dh),
         std::vector<float>(n * dh)};
  for (size_t t = 0; t < n; ++t) {
    for (size_t d = 0; d < dh; ++d) {
      c.k[t * dh + d] = (d == KGroup(t) ? 6.f : 0.f) + 0.05f * nd(rng);
      c.q[t * dh + d] = (d == QGroup(t) ? 6.f : 0.f) + 0.05f * nd(rng);
      c.v[t * dh + d] = nd(rng);
    }
  }
  std::vector<float> out(n * dh);
  F32AttentionParams p = c.Params(out.data());
  ClusterAttentionConfig cfg;
  cfg.q_tokens_per_cluster = cfg.k_tokens_per_cluster = n / G;
  cfg.top_p = 0.9f;
  cfg.min_frac = 0.f;
  Aligned state(f32_cluster_attention_state_bytes(p, cfg));
  f32_cluster_attention_plan(&p, cfg, state.get(), nullptr, nullptr);
  ASSERT_EQ(p.kclusters, G);
  ASSERT_EQ(p.qclusters, G);
  // Group of each key cluster (all members must agree).
  std::vector<size_t> kgroup(G), qgroup(G);
  for (size_t c2 = 0; c2 < G; ++c2) {
    ASSERT_EQ(p.k_off[c2 + 1] - p.k_off[c2], n / G) << "key cluster " << c2;
    kgroup[c2] = KGroup(p.k_perm[p.k_off[c2]]);
    for (uint32_t r = p.k_off[c2]; r < p.k_off[c2 + 1]; ++r) EXPECT_EQ(KGroup(p.k_perm[r]), kgroup[c2]);
    qgroup[c2] = QGroup(p.q_perm[p.q_off[c2]]);
    for (uint32_t r = p.q_off[c2]; r < p.q_off[c2 + 1]; ++r) EXPECT_EQ(QGroup(p.q_perm[r]), qgroup[c2]);
  }
  for (size_t i = 0; i < G; ++i)
    for (size_t j = 0; j < G; ++j)
      EXPECT_EQ(p.keep[i * G + j] != 0, qgroup[i] == kgroup[j]) << "query cluster " << i << " key cluster " << j;
}

// Error-aware routing: queries along e_0; key groups A (along e_0, dominant
// mass), B (around +5 e_1, tight) and C (around -5 e_1, spread +-1.5 along
// e_0). B and C have the same estimated mass (their means are orthogonal to
// the queries), but C's centroid is a poor stand-in (its logits vary inside
// the cluster). Top-p alone keeps A only; with an error budget the next
// exact cluster must be C, not B.
TEST(ClusterAttention, ErrorAwareRoutingPicksTheSpreadCluster) {
  const size_t n = 192, dh = 8;
  std::mt19937 rng(4);
  std::normal_distribution<float> nd;
  Case c{1, 1, 64, n, dh, std::vector<float>(64 * dh), std::vector<float>(n * dh),
         std::vector<float>(n * dh)};
  for (size_t t = 0; t < 64; ++t)
    for (size_t d = 0; d < dh; ++d) c.q[t * dh + d] = (d == 0 ? 3.f : 0.f) + 0.01f * nd(rng);
  for (size_t t = 0; t < n; ++t) {
    const size_t g = t % 3;  // 0: A, 1: B, 2: C
    for (size_t d = 0; d < dh; ++d) {
      float x = 0.01f * nd(rng);
      if (g == 0 && d == 0) x += 1.f;
      if (g == 1 && d == 1) x += 5.f;
      if (g == 2 && d == 1) x -= 5.f;
      if (g == 2 && d == 0) x += (t / 3) % 2 ? 1.5f : -1.5f;
      c.k[t * dh + d] = x;
      c.v[t * dh + d] = nd(rng);
    }
  }
  std::vector<float> out(64 * dh);
  for (float tol : {0.f, 0.01f}) {
    F32AttentionParams p = c.Params(out.data());
    ClusterAttentionConfig cfg;
    cfg.q_tokens_per_cluster = 64;
    cfg.k_tokens_per_cluster = 64;
    cfg.top_p = 0.5f;
    cfg.min_frac = 0.f;
    cfg.err_tol = tol;
    Aligned state(f32_cluster_attention_state_bytes(p, cfg));
    f32_cluster_attention_plan(&p, cfg, state.get(), nullptr, nullptr);
    ASSERT_EQ(p.kclusters, 3u);
    bool kept[3] = {false, false, false};  // by group
    for (size_t j = 0; j < 3; ++j) {
      ASSERT_EQ(p.k_off[j + 1] - p.k_off[j], 64u);
      kept[p.k_perm[p.k_off[j]] % 3] = p.keep[j] != 0;
    }
    EXPECT_TRUE(kept[0]) << "tol " << tol;
    EXPECT_FALSE(kept[1]) << "tol " << tol;
    EXPECT_EQ(kept[2], tol > 0) << "tol " << tol;
  }
}

TEST(ClusterAttention, SessionOptionSelectsClusters) {
  const int64_t B = 1, H = 2, N = 300, dh = 32;
  const Case c = MakeCase(B, H, N, N, dh, 21);
  ModelWriter w;
  const int qi = w.AddActivation("q", {B, N, H * dh}), ki = w.AddActivation("k", {B, N, H * dh}),
            vi = w.AddActivation("v", {B, N, H * dh}), oi = w.AddActivation("o", {B, N, H * dh});
  OpAttrs at;
  at.num_heads = int(H);
  w.AddOp(fb::OpType::Attention, {qi, ki, vi}, {oi}, at, "attn");
  w.SetInputs({qi, ki, vi});
  w.SetOutputs({oi});
  std::vector<uint8_t> bytes;
  ASSERT_TRUE(w.Finish(&bytes).ok());
  auto m = Model::LoadBuffer(bytes.data(), bytes.size(), /*copy=*/true);
  ASSERT_TRUE(m.ok()) << m.status().message();
  std::vector<float> dense(c.q.size());
  F32AttentionParams p = c.Params(dense.data());
  f32_attention_ref(p);
  for (float min_frac : {1.f, 0.1f}) {
    SessionOptions so;
    so.num_threads = 2;
    so.attention_sparse.mode = 2;
    so.attention_sparse.min_frac = min_frac;
    so.attention_sparse.top_p = 0.8f;
    AttentionSparseOptions::Stats st;
    so.attention_sparse.stats = &st;
    auto s = Session::Create(m.value().get(), so);
    ASSERT_TRUE(s.ok()) << s.status().message();
    EXPECT_EQ(std::string((*s)->kernel_name(0)), "f32_attention_clustersparse_centroid");
    ASSERT_TRUE((*s)->SetInput(qi, c.q.data(), c.q.size() * 4).ok());
    ASSERT_TRUE((*s)->SetInput(ki, c.k.data(), c.k.size() * 4).ok());
    ASSERT_TRUE((*s)->SetInput(vi, c.v.data(), c.v.size() * 4).ok());
    ASSERT_TRUE((*s)->Invoke().ok());
    std::vector<float> got(static_cast<const float*>((*s)->data(oi)),
                           static_cast<const float*>((*s)->data(oi)) + dense.size());
    EXPECT_EQ(st.plans, 1);
    if (min_frac == 1.f) {
      EXPECT_EQ(st.exact_pairs, st.total_pairs);
      EXPECT_LE(RelMax(dense, got), 1e-5);
    } else {
      EXPECT_LT(st.exact_pairs, st.total_pairs);
      EXPECT_LE(RelMax(dense, got), 0.3);
    }
  }
}

// The model's AttentionOptions.sparse_mode = 1 turns clusters on without a
// session override; the session's mode 0 turns them off again.
TEST(ClusterAttention, ModelDefaultAndSessionOverride) {
  const int64_t N = 200, D = 64;
  ModelWriter w;
  const int qi = w.AddActivation("q", {1, N, D}), ki = w.AddActivation("k", {1, N, D}),
            vi = w.AddActivation("v", {1, N, D}), oi = w.AddActivation("o", {1, N, D});
  OpAttrs at;
  at.num_heads = 2;
  at.sparse_mode = 1;
  at.sparse_err_tol = 0.02f;
  w.AddOp(fb::OpType::Attention, {qi, ki, vi}, {oi}, at, "attn");
  w.SetInputs({qi, ki, vi});
  w.SetOutputs({oi});
  std::vector<uint8_t> bytes;
  ASSERT_TRUE(w.Finish(&bytes).ok());
  auto m = Model::LoadBuffer(bytes.data(), bytes.size(), /*copy=*/true);
  ASSERT_TRUE(m.ok()) << m.status().message();
  for (int mode : {-1, 0}) {
    SessionOptions so;
    so.attention_sparse.mode = mode;
    auto s = Session::Create(m.value().get(), so);
    ASSERT_TRUE(s.ok()) << s.status().message();
    const std::string name = (*s)->kernel_name(0);
    EXPECT_EQ(name.find("clustersparse") != std::string::npos, mode == -1) << name;
  }
}

}  // namespace
}  // namespace edge
