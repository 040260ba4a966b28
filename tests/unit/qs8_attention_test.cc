// INT8 attention: every ISA tile against the double reference of the same
// quantized algorithm (tight), the reference against FP32 attention (the
// quantization error itself, on random and adversarial inputs), thread
// determinism and the non-finite input rule.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "ops/cpu_features.h"
#include "ops/f32_attention.h"
#include "ops/f32_attention_cluster.h"
#include "ops/kernel_config.h"
#include "ops/qs8_attention.h"

namespace edge {
namespace {

// Every kernel this build and CPU can run (scalar, AVX2, NEON dotprod).
std::vector<const Qs8AttentionKernel*> Kernels() {
  const Qs8AttentionKernel* k[8];
  const size_t n = qs8_attention_kernels(DetectCpuFeatures(), k, 8);
  return std::vector<const Qs8AttentionKernel*>(k, k + n);
}

struct Pool {
  explicit Pool(size_t n) : p(pthreadpool_create(n)) {}
  ~Pool() { pthreadpool_destroy(p); }
  pthreadpool_t p;
};

struct Case {
  size_t batch, heads, nq, nk, dh;
  AttentionLayout layout;
};

struct Inputs {
  std::vector<float> q, k, v;
};

Inputs RandomInputs(const Case& c, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> n(0.f, 1.f);
  Inputs in;
  in.q.resize(c.batch * c.heads * c.nq * c.dh);
  in.k.resize(c.batch * c.heads * c.nk * c.dh);
  in.v.resize(in.k.size());
  for (auto& x : in.q) x = n(rng);
  for (auto& x : in.k) x = n(rng);
  for (auto& x : in.v) x = n(rng);
  return in;
}

F32AttentionParams Params(const Case& c, const Inputs& in, float* out) {
  F32AttentionParams p;
  p.batch = c.batch;
  p.heads = c.heads;
  p.nq = c.nq;
  p.nk = c.nk;
  p.head_dim = c.dh;
  p.scale = 1.f / std::sqrt(static_cast<float>(c.dh));
  f32_attention_set_layout(&p, c.layout);
  p.q = in.q.data();
  p.k = in.k.data();
  p.v = in.v.data();
  p.out = out;
  return p;
}

std::vector<float> RunQ8(const Qs8AttentionKernel& ker, const F32AttentionParams& p0, pthreadpool_t pool) {
  std::vector<float> out(p0.batch * p0.heads * p0.nq * p0.head_dim, 7.f);
  F32AttentionParams p = p0;
  p.out = out.data();
  const size_t threads = pool ? pthreadpool_get_threads_count(pool) : 1;
  std::vector<float> scratch(qs8_attention_scratch_bytes(ker, p, threads) / 4 + 16);
  float* aligned = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(scratch.data()) + 63) / 64 * 64);
  qs8_attention(ker, p, aligned, pool);
  return out;
}

std::vector<float> RunRef(const F32AttentionParams& p0) {
  std::vector<float> out(p0.batch * p0.heads * p0.nq * p0.head_dim);
  F32AttentionParams p = p0;
  p.out = out.data();
  qs8_attention_ref(p);
  return out;
}

std::vector<float> RunF32(const F32AttentionParams& p0) {
  std::vector<float> out(p0.batch * p0.heads * p0.nq * p0.head_dim);
  F32AttentionParams p = p0;
  p.out = out.data();
  f32_attention_ref(p);
  return out;
}

// max|a - b| / max|b|
double MaxRel(const std::vector<float>& got, const std::vector<float>& ref) {
  double md = 0, mr = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    if (!std::isfinite(got[i])) return HUGE_VAL;
    md = std::fmax(md, std::fabs(double(got[i]) - ref[i]));
    mr = std::fmax(mr, std::fabs(double(ref[i])));
  }
  return md / std::fmax(1e-6, mr);
}

void RelL2Cos(const std::vector<float>& got, const std::vector<float>& ref, double* rel_l2, double* cos) {
  double dd = 0, rr = 0, gg = 0, gr = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double d = double(got[i]) - ref[i];
    dd += d * d;
    rr += double(ref[i]) * ref[i];
    gg += double(got[i]) * got[i];
    gr += double(got[i]) * ref[i];
  }
  *rel_l2 = std::sqrt(dd / std::fmax(rr, 1e-30));
  *cos = gr / std::sqrt(std::fmax(gg * rr, 1e-30));
}

const Case kCases[] = {
    {1, 2, 97, 97, 32, AttentionLayout::kBSHD},   // odd token count
    {2, 3, 130, 65, 64, AttentionLayout::kBHSD},  // cross-attention, nk = one tile + 1
    {1, 2, 33, 200, 72, AttentionLayout::kBSHD},  // dh 72 (not a multiple of 16)
    {1, 1, 70, 129, 128, AttentionLayout::kBHSD},
    {1, 2, 5, 7, 17, AttentionLayout::kBSHD},     // odd dh, odd nk < tile
    {1, 1, 1, 1, 32, AttentionLayout::kBSHD},     // Nk = 1
};

TEST(Qs8Attention, EveryExpectedKernelRuns) {
  // The CPU picks a SIMD kernel whenever it has one: a dispatch that fell back
  // to scalar would leave the SIMD tiles untested.
  const CpuFeatures& cpu = DetectCpuFeatures();
  size_t want = 1;
#if defined(__x86_64__)
  if (IsaLevelSupported(IsaLevel::kAvx2, cpu)) ++want;
  if (IsaLevelSupported(IsaLevel::kAvx512, cpu)) ++want;
  if (IsaLevelSupported(IsaLevel::kAvx512, cpu) && cpu.avx512vnni) ++want;
#endif
#if defined(__aarch64__)
  if (cpu.dotprod) ++want;
#endif
  EXPECT_EQ(want, Kernels().size());
  if (want > 1) EXPECT_STRNE(kernel_config().qs8_attention->name, "qs8_attention_4x64__scalar");
}

TEST(Qs8Attention, TilesMatchQuantizedReference) {
  Pool pool(2);
  uint32_t seed = 900;
  for (const Qs8AttentionKernel* kp : Kernels()) {
    const Qs8AttentionKernel& ker = *kp;
    for (const Case& c : kCases) {
      const Inputs in = RandomInputs(c, ++seed);
      const F32AttentionParams p = Params(c, in, nullptr);
      const std::vector<float> ref = RunRef(p);
      for (pthreadpool_t tp : {static_cast<pthreadpool_t>(nullptr), pool.p}) {
        const std::vector<float> got = RunQ8(ker, p, tp);
        EXPECT_LE(MaxRel(got, ref), 2e-4) << ker.name << " B" << c.batch << " H" << c.heads
                                          << " nq" << c.nq << " nk" << c.nk << " dh" << c.dh;
      }
    }
  }
}

// Packing is portable arithmetic: every kernel's pack gives the scalar
// pack's scales, and the kernels with the scalar's layout (int16 pairs) its
// bytes, dense and key-major, odd and partial sizes included.
TEST(Qs8Attention, PackedHeadsSameOnEveryIsa) {
  const Qs8AttentionKernel* scalar = Kernels()[0];
  const Case cases[] = {{1, 2, 97, 131, 32, AttentionLayout::kBSHD}, {1, 1, 9, 5, 17, AttentionLayout::kBHSD},
                        {1, 1, 64, 128, 64, AttentionLayout::kBSHD}};
  uint32_t seed = 300;
  for (const Case& c : cases) {
    Inputs in = RandomInputs(c, ++seed);
    // Values that quantize exactly half-way (scale 1: a row or channel
    // maximum of 127, then x = k + 0.5): the rounding rule must agree too.
    // Query rows of head 0 and V channels of token 0 (every layout puts
    // them first in memory).
    const size_t token_stride = c.layout == AttentionLayout::kBSHD ? c.heads * c.dh : c.dh;  // head 0
    for (size_t i = 0; i < c.nq; ++i)
      for (size_t d = 0; d < c.dh; ++d)
        in.q[i * token_stride + d] = d == 0 ? 127.f : static_cast<float>(d % 7) - 3.5f;
    for (size_t j = 0; j < c.nk; ++j)
      for (size_t d = 0; d < c.dh; ++d)
        in.v[j * token_stride + d] = j == 0 ? 127.f : static_cast<float>((j + d) % 9) - 4.5f;
    for (int key_major = 0; key_major < 2; ++key_major) {
      F32AttentionParams p = Params(c, in, nullptr);
      std::vector<uint32_t> perm(c.nk);
      if (key_major) p.k_perm = perm.data();  // only marks the layout here
      const size_t bytes = qs8_attention_head_bytes(p);
      std::vector<uint8_t> a(bytes + 64, 0), b(bytes + 64, 0);
      void* pa = reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(a.data()) + 63) / 64 * 64);
      void* pb = reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(b.data()) + 63) / 64 * 64);
      for (const Qs8AttentionKernel* ker : Kernels()) {
        for (size_t h = 0; h < c.heads; ++h) {
          const Qs8AttentionHead ha = scalar->pack(p, 0, h, pa), hb = ker->pack(p, 0, h, pb);
          EXPECT_EQ(0, std::memcmp(ha.qs, hb.qs, c.nq * 4)) << ker->name;
          EXPECT_EQ(0, std::memcmp(ha.ks, hb.ks, c.nk * 4)) << ker->name;
          EXPECT_EQ(0, std::memcmp(ha.vs, hb.vs, c.dh * 4)) << ker->name;
          EXPECT_EQ(0, std::memcmp(ha.km, hb.km, c.dh * 4)) << ker->name;
          if (std::strstr(ker->name, "neondot") == nullptr) {  // int8 quads, V by key: another layout
            EXPECT_EQ(0, std::memcmp(pa, pb, bytes)) << ker->name << " key_major " << key_major;
          }
        }
      }
    }
  }
}

TEST(Qs8Attention, SameBitsForOneAndTwoThreads) {
  Pool pool(2), pool3(3);
  for (const Qs8AttentionKernel* kp : Kernels()) {
    const Qs8AttentionKernel& ker = *kp;
    const Case c = {2, 3, 301, 301, 64, AttentionLayout::kBSHD};
    const Inputs in = RandomInputs(c, 77);
    const F32AttentionParams p = Params(c, in, nullptr);
    const std::vector<float> a = RunQ8(ker, p, nullptr), b = RunQ8(ker, p, pool.p),
                             d = RunQ8(ker, p, pool3.p);
    EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * 4)) << ker.name;
    EXPECT_EQ(0, std::memcmp(a.data(), d.data(), a.size() * 4)) << ker.name;
  }
}

// The quantization error against FP32 attention, on inputs that stress it.
TEST(Qs8Attention, ReferenceCloseToFp32OnAdversarialInputs) {
  const Case c = {1, 2, 256, 256, 64, AttentionLayout::kBSHD};
  struct Variant {
    const char* name;
    void (*mutate)(Inputs*, const Case&);
  };
  const Variant variants[] = {
      {"random", [](Inputs*, const Case&) {}},
      // A large per-channel offset in K: smoothing must remove it.
      {"K outlier channels",
       [](Inputs* in, const Case& c) {
         for (size_t t = 0; t < c.nk * c.heads; ++t) {
           in->k[t * c.dh + 3] += 40.f;
           in->k[t * c.dh + 17] -= 25.f;
         }
       }},
      // Large-norm queries: peaked softmax rows.
      {"large-norm queries",
       [](Inputs* in, const Case&) {
         for (auto& x : in->q) x *= 4.f;
       }},
      // Near one-hot rows: each query equals one key, scaled up.
      {"near one-hot rows",
       [](Inputs* in, const Case& c) {
         for (size_t i = 0; i < c.nq * c.heads; ++i)
           for (size_t d = 0; d < c.dh; ++d) in->q[i * c.dh + d] = 3.f * in->k[((i * 7) % (c.nk * c.heads)) * c.dh + d];
       }},
  };
  uint32_t seed = 1300;
  for (const Variant& var : variants) {
    Inputs in = RandomInputs(c, ++seed);
    var.mutate(&in, c);
    const F32AttentionParams p = Params(c, in, nullptr);
    double l2, cs;
    RelL2Cos(RunRef(p), RunF32(p), &l2, &cs);
    EXPECT_LE(l2, 3e-2) << var.name;
    EXPECT_GE(cs, 0.999) << var.name;
  }
}

TEST(Qs8Attention, NonFiniteInputsGiveNanRowsOrHeads) {
  for (const Qs8AttentionKernel* kp : Kernels()) {
    const Qs8AttentionKernel& ker = *kp;
    const Case c = {1, 2, 20, 70, 32, AttentionLayout::kBHSD};
    Inputs in = RandomInputs(c, 5);
    in.q[5 * 32 + 3] = NAN;                // head 0, row 5
    in.k[(70 + 9) * 32 + 1] = INFINITY;    // head 1
    const F32AttentionParams p = Params(c, in, nullptr);
    const std::vector<float> got = RunQ8(ker, p, nullptr), ref = RunRef(p);
    for (size_t h = 0; h < 2; ++h) {
      for (size_t i = 0; i < 20; ++i) {
        for (size_t d = 0; d < 32; ++d) {
          const float g = got[(h * 20 + i) * 32 + d];
          const bool want_nan = h == 1 || i == 5;
          EXPECT_EQ(want_nan, std::isnan(g)) << ker.name << " h" << h << " row " << i;
          EXPECT_EQ(want_nan, std::isnan(ref[(h * 20 + i) * 32 + d]));
        }
      }
    }
  }
}

TEST(Qs8Attention, ZeroLogitsGiveMeanOfV) {
  for (const Qs8AttentionKernel* kp : Kernels()) {
    const Qs8AttentionKernel& ker = *kp;
    const Case c = {1, 1, 3, 70, 16, AttentionLayout::kBSHD};
    Inputs in;
    in.q.assign(3 * 16, 0.f);
    in.k.assign(70 * 16, 0.f);
    in.v.resize(70 * 16);
    for (size_t j = 0; j < 70; ++j)
      for (size_t d = 0; d < 16; ++d) in.v[j * 16 + d] = float(j);
    const F32AttentionParams p = Params(c, in, nullptr);
    // V's per-channel step is 69/127, so each value is within 0.28 of exact;
    // rounding errors of the mean partly cancel.
    for (float o : RunQ8(ker, p, nullptr)) EXPECT_NEAR(o, 34.5f, 0.05f) << ker.name;
  }
}

// 64-byte aligned zeroed bytes.
struct Aligned {
  explicit Aligned(size_t n) : buf(n + 64, 0) {}
  void* get() { return reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(buf.data()) + 63) / 64 * 64); }
  std::vector<uint8_t> buf;
};

// Video-like tokens: a few feature centres per frame plus noise, so that
// clusters and tiles have structure to find.
Inputs ClusteredInputs(const Case& c, uint32_t seed) {
  Inputs in = RandomInputs(c, seed);
  std::mt19937 rng(seed + 7);
  std::normal_distribution<float> n(0.f, 1.f);
  std::vector<float> centres(6 * c.dh);
  for (auto& x : centres) x = 2.f * n(rng);
  auto shape = [&](std::vector<float>* x, size_t tokens) {
    for (size_t bh = 0; bh < c.batch * c.heads; ++bh)
      for (size_t t = 0; t < tokens; ++t)
        for (size_t d = 0; d < c.dh; ++d) (*x)[(bh * tokens + t) * c.dh + d] = centres[((t * 7) % 6) * c.dh + d] + 0.4f * (*x)[(bh * tokens + t) * c.dh + d];
  };
  shape(&in.q, c.nq);
  shape(&in.k, c.nk);
  return in;
}

// Exact tiles on the INT8 kernels along both sparse plans (64-key tiles and
// semantic clusters, with centroid compensation) against the reference that
// walks the same plan.
TEST(Qs8Attention, SparsePlansMatchQuantizedReference) {
  Pool pool(2);
  const Case cases[] = {{1, 2, 300, 300, 32, AttentionLayout::kBHSD}, {2, 1, 130, 260, 72, AttentionLayout::kBSHD}};
  uint32_t seed = 2000;
  for (const Qs8AttentionKernel* kp : Kernels()) {
    for (const Case& c : cases) {
      const Inputs in = ClusteredInputs(c, ++seed);
      for (int plan = 0; plan < 2; ++plan) {
        for (bool comp : {true, false}) {
          F32AttentionParams p = Params(c, in, nullptr);
          Aligned ws(plan == 0 ? f32_sparse_attention_workspace_bytes(p, kp->query_block) : 0);
          ClusterAttentionConfig cc;
          cc.top_p = 0.5f;
          cc.min_frac = 0.1f;
          cc.compensate = comp;
          Aligned state(plan == 1 ? f32_cluster_attention_state_bytes(p, cc) : 0);
          if (plan == 0) {
            f32_sparse_attention_plan(&p, kp->query_block, 0.4f, comp, ws.get(), nullptr);
          } else {
            f32_cluster_attention_plan(&p, cc, state.get(), nullptr, nullptr);
          }
          ASSERT_NE(p.keep, nullptr);
          const std::vector<float> ref = RunRef(p);
          // The quantized algorithm itself stays close to FP32 on the same
          // plan (a centroid logit shifted differently from the exact ones
          // would break this, not the tile-vs-reference check below).
          double l2, cs;
          RelL2Cos(ref, RunF32(p), &l2, &cs);
          EXPECT_LE(l2, 3e-2) << (plan ? "clusters" : "tiles") << (comp ? " +centroids" : "");
          EXPECT_GE(cs, 0.999) << (plan ? "clusters" : "tiles") << (comp ? " +centroids" : "");
          for (pthreadpool_t tp : {static_cast<pthreadpool_t>(nullptr), pool.p}) {
            const std::vector<float> got = RunQ8(*kp, p, tp);
            EXPECT_LE(MaxRel(got, ref), 2e-4) << kp->name << (plan ? " clusters" : " tiles")
                                              << (comp ? " +centroids" : "") << " nq" << c.nq << " dh" << c.dh;
          }
        }
      }
    }
  }
}

// A cluster plan that keeps every key cluster computes every key exactly: the
// same as dense INT8 up to the order of the tiles (rounding of P).
TEST(Qs8Attention, ClusterPlanAtFullBudgetMatchesDense) {
  const Case c = {1, 2, 200, 200, 64, AttentionLayout::kBSHD};
  const Inputs in = ClusteredInputs(c, 31);
  for (const Qs8AttentionKernel* kp : Kernels()) {
    F32AttentionParams p = Params(c, in, nullptr);
    const std::vector<float> dense = RunQ8(*kp, p, nullptr);
    ClusterAttentionConfig cc;
    cc.top_p = 1.f;
    cc.min_frac = 1.f;
    Aligned state(f32_cluster_attention_state_bytes(p, cc));
    f32_cluster_attention_plan(&p, cc, state.get(), nullptr, nullptr);
    EXPECT_LE(MaxRel(RunQ8(*kp, p, nullptr), dense), 1e-3) << kp->name;
  }
}

}  // namespace
}  // namespace edge
