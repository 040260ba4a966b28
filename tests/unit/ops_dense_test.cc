// Dense F32 kernels (GEMM, activations, exp, MatMul, Conv2d, attention, RoPE)
// against their references, for every ISA level this CPU can run.
#include <gtest/gtest.h>

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "ops/cpu_features.h"
#include "ops/f32_attention.h"
#include "ops/f32_conv2d.h"
#include "ops/f32_gemm.h"
#include "ops/f32_matmul.h"
#include "ops/f32_rope.h"
#include "ops/kernel_config.h"
#include "ops/quant_format.h"

namespace edge {
namespace {

std::vector<IsaLevel> Levels() {
  std::vector<IsaLevel> v;
  for (IsaLevel l : {IsaLevel::kScalar, IsaLevel::kAvx2, IsaLevel::kAvx512}) {
    if (IsaLevelSupported(l, DetectCpuFeatures())) v.push_back(l);
  }
  return v;
}

std::vector<float> Random(size_t n, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// max|a - b| / max(1e-6, max|ref|)
double RelErr(const std::vector<float>& got, const std::vector<float>& ref) {
  double md = 0, mr = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    if (!std::isfinite(got[i])) return HUGE_VAL;
    md = std::fmax(md, std::fabs(double(got[i]) - ref[i]));
    mr = std::fmax(mr, std::fabs(double(ref[i])));
  }
  return md / std::fmax(1e-6, mr);
}

struct Pool {
  explicit Pool(size_t n) : p(pthreadpool_create(n)) {}
  ~Pool() { pthreadpool_destroy(p); }
  pthreadpool_t p;
};

TEST(F32Activation, MatchesReference) {
  std::vector<float> x = Random(1000, -12.f, 12.f, 1);
  for (float v : {0.f, -0.f, 1e-6f, -1e-6f, 1e4f, -1e4f, 88.f, -88.f, 100.f, -100.f, 3e38f, -3e38f})
    x.push_back(v);
  for (IsaLevel l : Levels()) {
    const F32GemmConfig& cfg = *kernel_config(l).gemm;
    for (int act = 1; act <= 3; ++act) {
      for (size_t n : {size_t(1), size_t(7), x.size()}) {
        std::vector<float> got(x.begin(), x.begin() + n), ref(n);
        cfg.activation(n, got.data(), act);
        for (size_t i = 0; i < n; ++i) {
          ref[i] = f32_activation_ref(x[i], static_cast<GemmActivation>(act));
          // Per element, absolute floor 1e-6 (activations are ~|x| sized).
          EXPECT_LE(std::fabs(double(got[i]) - ref[i]), 2e-6 * std::fmax(1.0, std::fabs(ref[i])))
              << cfg.name << " act " << act << " x " << x[i];
        }
      }
    }
  }
}

void CheckGemm(const F32GemmConfig& cfg, size_t m, size_t n, size_t k, GemmActivation act,
               bool bias, float lo, float hi, pthreadpool_t pool, uint32_t seed) {
  const size_t xs = k + 3, ys = n + 5;  // padded strides
  std::vector<float> x = Random(m * xs, lo, hi, seed), w = Random(n * k, lo, hi, seed + 1),
                     b = Random(n, lo, hi, seed + 2);
  std::vector<float> packed(f32_gemm_packed_floats(n, k, cfg.nr) + 1);
  f32_gemm_pack_nk(n, k, w.data(), k, cfg.nr, packed.data());
  std::vector<float> got(m * ys, 7.f), ref(m * ys, 7.f);
  f32_gemm_packed(cfg, m, n, k, x.data(), xs, packed.data(), bias ? b.data() : nullptr,
                  got.data(), ys, act, pool);
  f32_gemm_ref(m, n, k, x.data(), xs, w.data(), k, bias ? b.data() : nullptr, ref.data(), ys, act);
  EXPECT_LE(RelErr(got, ref), 1e-5) << cfg.name << " m=" << m << " n=" << n << " k=" << k
                                    << " act=" << int(act) << " bias=" << bias;
  // The padding between rows is untouched.
  for (size_t i = 0; i < m; ++i)
    for (size_t j = n; j < ys; ++j) ASSERT_EQ(got[i * ys + j], 7.f);
}

TEST(F32Gemm, OddShapesAllActivations) {
  Pool pool(2);
  uint32_t seed = 10;
  for (IsaLevel l : Levels()) {
    const F32GemmConfig& cfg = *kernel_config(l).gemm;
    for (size_t m : {1, 3, 8, 17, 33, 65}) {
      for (size_t n : {1, 3, 16, 17, 33, 65, 127}) {
        for (size_t k : {1, 3, 17, 64}) {
          CheckGemm(cfg, m, n, k, GemmActivation::kNone, (m + n) % 2 == 0, -1, 1,
                    (m * n) % 3 == 0 ? pool.p : nullptr, ++seed);
        }
      }
    }
    for (int act = 0; act <= 3; ++act) {
      for (bool bias : {false, true}) {
        CheckGemm(cfg, 127, 65, 96, GemmActivation(act), bias, -1, 1, pool.p, ++seed);
        CheckGemm(cfg, 5, 33, 200, GemmActivation(act), bias, -1, 1, nullptr, ++seed);
      }
    }
  }
}

TEST(F32Gemm, LargeMagnitudesZerosAndK0) {
  Pool pool(2);
  for (IsaLevel l : Levels()) {
    const F32GemmConfig& cfg = *kernel_config(l).gemm;
    CheckGemm(cfg, 33, 47, 65, GemmActivation::kNone, true, -1e4f, 1e4f, pool.p, 99);
    for (int act = 1; act <= 3; ++act)  // activations on huge pre-activations
      CheckGemm(cfg, 9, 40, 8, GemmActivation(act), true, -100.f, 100.f, nullptr, 98);
    CheckGemm(cfg, 17, 33, 17, GemmActivation::kGelu, true, 0.f, 0.f, nullptr, 97);  // zeros
    CheckGemm(cfg, 4, 19, 0, GemmActivation::kSiLU, true, -1, 1, nullptr, 96);       // K = 0
  }
}

// `floats` floats ending exactly at an inaccessible page: a read past the
// end faults instead of reading a neighbour's memory.
class GuardedFloats {
 public:
  explicit GuardedFloats(size_t floats) {
    page_ = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const size_t data = (floats * sizeof(float) + page_ - 1) / page_ * page_;
    size_ = data + page_;
    base_ = static_cast<uint8_t*>(
        mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    EXPECT_NE(base_, MAP_FAILED);
    EXPECT_EQ(mprotect(base_ + data, page_, PROT_NONE), 0);
    p_ = reinterpret_cast<float*>(base_ + data) - floats;
  }
  ~GuardedFloats() { munmap(base_, size_); }
  float* data() { return p_; }

 private:
  uint8_t* base_ = nullptr;
  size_t size_ = 0, page_ = 0;
  float* p_ = nullptr;
};

// The stored layout PackedF32N16 (packed by the weight-format table, as the
// writer does) through the p16 config of every level: N tails that end a
// 32-column block inside its first panel, K tails, every activation, a
// buffer of exactly the stored size with a guard page behind it.
TEST(F32Gemm, StoredPanelLayoutP16) {
  Pool pool(2);
  const QuantFormatTraits& f = QuantFormatOf(QuantFormat::kF32);
  uint32_t seed = 500;
  for (IsaLevel l : Levels()) {
    const F32GemmConfig& cfg = *kernel_config(l).gemm_p16;
    ASSERT_EQ(cfg.panel, 16u) << cfg.name;
    for (size_t n : {1, 5, 15, 16, 17, 31, 40, 48, 65, 97}) {
      for (size_t k : {1, 3, 16, 77}) {
        for (size_t m : {1, 9, 33}) {
          const GemmActivation act = GemmActivation((m + n + k) % 4);
          const bool bias = (n + k) % 2 == 1;
          const size_t xs = k + 3, ys = n + 5;
          std::vector<float> x = Random(m * xs, -1, 1, ++seed), w = Random(n * k, -1, 1, ++seed),
                             b = Random(n, -1, 1, ++seed);
          const size_t bytes = QuantPackedBytes(f, n, k);
          ASSERT_EQ(bytes, (n + 15) / 16 * 16 * k * sizeof(float));
          GuardedFloats packed(bytes / sizeof(float));
          f.pack(reinterpret_cast<const uint8_t*>(w.data()), nullptr, n, k,
                 reinterpret_cast<uint8_t*>(packed.data()), nullptr);
          for (size_t r = 0; r < n; ++r)
            for (size_t c = 0; c < k; ++c) ASSERT_EQ(packed.data()[F32PackedIndex(r, c, k)], w[r * k + c]);
          std::vector<float> back(n * k);
          f.dequantize_packed(reinterpret_cast<const uint8_t*>(packed.data()), nullptr, 1.f, n, k,
                              back.data());
          ASSERT_EQ(back, w);
          std::vector<float> got(m * ys, 7.f), ref(m * ys, 7.f);
          f32_gemm_packed(cfg, m, n, k, x.data(), xs, packed.data(), bias ? b.data() : nullptr,
                          got.data(), ys, act, m > 8 ? pool.p : nullptr);
          f32_gemm_ref(m, n, k, x.data(), xs, w.data(), k, bias ? b.data() : nullptr, ref.data(),
                       ys, act);
          EXPECT_LE(RelErr(got, ref), 1e-5) << cfg.name << " m=" << m << " n=" << n << " k=" << k;
          for (size_t i = 0; i < m; ++i)
            for (size_t j = n; j < ys; ++j) ASSERT_EQ(got[i * ys + j], 7.f);
          // Same register block, same order of sums: the native layout of
          // the level gives the same bits where the block matches.
          const F32GemmConfig& native = *kernel_config(l).gemm;
          if (native.mr == cfg.mr && native.nr == cfg.nr) {
            std::vector<float> np(f32_gemm_packed_floats(n, k, native.panel) + 1);
            f32_gemm_pack_nk(n, k, w.data(), k, native.panel, np.data());
            std::vector<float> y2(m * ys, 7.f);
            f32_gemm_packed(native, m, n, k, x.data(), xs, np.data(), bias ? b.data() : nullptr,
                            y2.data(), ys, act, nullptr);
            ASSERT_EQ(0, std::memcmp(y2.data(), got.data(), got.size() * sizeof(float)))
                << cfg.name << " vs " << native.name << " n=" << n << " k=" << k;
          }
        }
      }
    }
  }
}

TEST(F32MatMul, BroadcastAndTranspose) {
  Pool pool(2);
  struct Case {
    int rank;
    size_t ob[2], ab[2], bb[2];
    size_t m, n, k;
    bool tb;
  };
  const Case cases[] = {
      {0, {}, {}, {}, 17, 33, 9, false},
      {1, {3}, {3}, {3}, 5, 7, 65, false},
      {1, {3}, {3}, {1}, 33, 17, 20, true},
      {2, {2, 3}, {2, 1}, {1, 3}, 4, 65, 16, false},
      {2, {2, 3}, {2, 3}, {2, 3}, 1, 1, 1, true},
      {2, {2, 4}, {1, 4}, {2, 1}, 31, 40, 72, true},
  };
  uint32_t seed = 200;
  for (IsaLevel l : Levels()) {
    const F32GemmConfig& cfg = *kernel_config(l).gemm;
    for (const Case& c : cases) {
      F32MatMulDims d;
      d.batch_rank = c.rank;
      size_t na = 1, nb = 1, no = 1;
      for (int i = 0; i < c.rank; ++i) {
        d.out_batch[i] = c.ob[i];
        d.a_batch[i] = c.ab[i];
        d.b_batch[i] = c.bb[i];
        na *= c.ab[i];
        nb *= c.bb[i];
        no *= c.ob[i];
      }
      d.m = c.m;
      d.n = c.n;
      d.k = c.k;
      d.transpose_b = c.tb;
      std::vector<float> a = Random(na * c.m * c.k, -1, 1, ++seed),
                         b = Random(nb * c.k * c.n, -1, 1, ++seed);
      std::vector<float> got(no * c.m * c.n), ref(got.size());
      std::vector<float> scratch(f32_matmul_scratch_floats(cfg, d) + 1);
      f32_matmul(cfg, d, a.data(), b.data(), nullptr, got.data(), scratch.data(), pool.p);
      f32_matmul_ref(d, a.data(), b.data(), ref.data());
      EXPECT_LE(RelErr(got, ref), 1e-5) << cfg.name << " case m=" << c.m;
    }
  }
}

TEST(F32Conv2d, MatchesDirectLoops) {
  struct Case {
    size_t b, c, h, w, o, kh, kw, sh, sw, pt, pl, pb, pr, dh, dw, g;
  };
  const Case cases[] = {
      {1, 4, 16, 16, 24, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 1},   // PatchEmbed p=2
      {2, 3, 17, 13, 40, 4, 4, 4, 4, 0, 0, 0, 0, 1, 1, 1},   // patch, ragged edge dropped
      {1, 5, 9, 11, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},     // same padding
      {2, 6, 12, 10, 8, 3, 3, 2, 2, 1, 0, 2, 1, 2, 2, 2},    // stride, dilation, groups
      {1, 8, 7, 7, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 8},      // depthwise
      {1, 33, 5, 6, 17, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1},    // 1x1
      {1, 2, 1, 1, 3, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1},      // single pixel
      {1, 40, 37, 29, 24, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},  // decoder-like: many chunks, runs over rows
      {2, 9, 23, 31, 5, 3, 3, 1, 1, 2, 0, 0, 2, 1, 1, 1},    // uneven padding, batch 2
      {1, 8, 9, 70, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},     // rows wider than any panel: one-copy windows
  };
  uint32_t seed = 300;
  for (IsaLevel l : Levels()) {
    const F32GemmConfig& cfg = *kernel_config(l).gemm;
    for (const Case& c : cases) {
      F32Conv2dParams p;
      p.batch = c.b; p.in_c = c.c; p.in_h = c.h; p.in_w = c.w; p.out_c = c.o;
      p.kernel_h = c.kh; p.kernel_w = c.kw; p.stride_h = c.sh; p.stride_w = c.sw;
      p.pad_top = c.pt; p.pad_left = c.pl; p.dilation_h = c.dh; p.dilation_w = c.dw;
      p.groups = c.g;
      p.out_h = f32_conv2d_out_size(c.h, c.kh, c.sh, c.pt, c.pb, c.dh);
      p.out_w = f32_conv2d_out_size(c.w, c.kw, c.sw, c.pl, c.pr, c.dw);
      ASSERT_GT(p.out_h * p.out_w, 0u);
      std::vector<float> x = Random(c.b * c.c * c.h * c.w, -1, 1, ++seed),
                         w = Random(c.o * c.c / c.g * c.kh * c.kw, -1, 1, ++seed),
                         bias = Random(c.o, -1, 1, ++seed);
      std::vector<float> packed(f32_conv2d_packed_weight_floats(p));
      f32_conv2d_pack_weights(p, w.data(), bias.data(), packed.data());
      std::vector<float> got(c.b * c.o * p.out_h * p.out_w), ref(got.size());
      f32_conv2d_ref(p, x.data(), w.data(), bias.data(), ref.data());
      // One thread first, then 2 and 3 (other chunkings): the same bits.
      std::vector<float> first;
      for (size_t threads : {1, 2, 3}) {
        Pool tp(threads);
        std::vector<float> scratch(f32_conv2d_scratch_floats(cfg, p, threads));
        std::fill(got.begin(), got.end(), 0.f);
        f32_conv2d(cfg, p, threads, x.data(), packed.data(), got.data(), scratch.data(), threads > 1 ? tp.p : nullptr);
        EXPECT_LE(RelErr(got, ref), 1e-5) << cfg.name << " conv k" << c.kh << " g" << c.g << " threads " << threads;
        if (threads == 1) first = got;
        EXPECT_EQ(0, std::memcmp(first.data(), got.data(), got.size() * sizeof(float)))
            << cfg.name << " conv k" << c.kh << " threads " << threads;
      }
    }
  }
}

void CheckAttention(const F32AttentionKernel& ker, AttentionLayout layout, size_t batch,
                    size_t heads, size_t nq, size_t nk, size_t dh, float scale, bool integer_qk,
                    pthreadpool_t pool, uint32_t seed) {
  F32AttentionParams p;
  p.batch = batch;
  p.heads = heads;
  p.nq = nq;
  p.nk = nk;
  p.head_dim = dh;
  p.scale = scale;
  f32_attention_set_layout(&p, layout);
  std::vector<float> q = Random(batch * heads * nq * dh, -1, 1, seed),
                     k = Random(batch * heads * nk * dh, -1, 1, seed + 1),
                     v = Random(batch * heads * nk * dh, -1, 1, seed + 2);
  if (integer_qk) {  // exact logits so that huge ones can be compared tightly
    for (auto& x : q) x = std::round(x * 8);
    for (auto& x : k) x = std::round(x * 8);
  }
  std::vector<float> got(q.size(), 5.f), ref(q.size());
  p.q = q.data();
  p.k = k.data();
  p.v = v.data();
  p.out = ref.data();
  f32_attention_ref(p);
  const size_t threads = pool ? pthreadpool_get_threads_count(pool) : 1;
  std::vector<float> scratch(f32_attention_scratch_bytes(ker, dh, threads) / 4 + 16);
  p.out = got.data();
  f32_attention(ker, p, scratch.data(), pool);
  EXPECT_LE(RelErr(got, ref), 1e-5) << ker.name << " layout " << int(layout) << " B" << batch
                                    << " H" << heads << " nq" << nq << " nk" << nk << " dh" << dh
                                    << " scale " << scale;
}

TEST(F32Attention, SelfAndCrossBothLayouts) {
  Pool pool(2);
  uint32_t seed = 400;
  for (IsaLevel l : Levels()) {
    const F32AttentionKernel& ker = *kernel_config(l).attention;
    for (AttentionLayout lay : {AttentionLayout::kBSHD, AttentionLayout::kBHSD}) {
      for (size_t dh : {8, 40, 64, 72}) {
        const float s = 1.f / std::sqrt(float(dh));
        CheckAttention(ker, lay, 2, 3, 97, 97, dh, s, false, pool.p, ++seed);   // self
        CheckAttention(ker, lay, 1, 12, 130, 65, dh, s, false, nullptr, ++seed);  // cross
        CheckAttention(ker, lay, 2, 1, 5, 200, dh, s, false, pool.p, ++seed);
        CheckAttention(ker, lay, 1, 2, 1, 1, dh, s, false, nullptr, ++seed);      // Nk = 1
        CheckAttention(ker, lay, 1, 5, 64, 7, dh, 2.5f * s, false, pool.p, ++seed);
      }
      CheckAttention(ker, lay, 1, 2, 33, 129, 17, 0.3f, false, nullptr, ++seed);  // odd dh
    }
  }
}

TEST(F32Attention, LargeLogitsStayFinite) {
  Pool pool(2);
  uint32_t seed = 500;
  for (IsaLevel l : Levels()) {
    const F32AttentionKernel& ker = *kernel_config(l).attention;
    // Integer q,k in [-8, 8], dh 64, scale 4: logits up to ~1.6e4, exact in f32.
    CheckAttention(ker, AttentionLayout::kBSHD, 1, 3, 70, 150, 64, 4.f, true, pool.p, ++seed);
    CheckAttention(ker, AttentionLayout::kBHSD, 2, 2, 9, 66, 40, 4.f, true, nullptr, ++seed);
    // Negative-only huge logits (every row's max far below zero).
    CheckAttention(ker, AttentionLayout::kBHSD, 1, 1, 8, 80, 8, -4.f, true, nullptr, ++seed);
  }
}

TEST(F32Attention, ZeroInputsGiveMeanOfV) {
  for (IsaLevel l : Levels()) {
    const F32AttentionKernel& ker = *kernel_config(l).attention;
    F32AttentionParams p;
    p.nq = 3; p.nk = 70; p.head_dim = 16; p.scale = 0.25f;
    f32_attention_set_layout(&p, AttentionLayout::kBSHD);
    std::vector<float> q(3 * 16, 0.f), k(70 * 16, 0.f), v(70 * 16), out(3 * 16);
    for (size_t j = 0; j < 70; ++j)
      for (size_t d = 0; d < 16; ++d) v[j * 16 + d] = float(j);
    p.q = q.data(); p.k = k.data(); p.v = v.data(); p.out = out.data();
    std::vector<float> scratch(f32_attention_scratch_bytes(ker, 16, 1) / 4);
    f32_attention(ker, p, scratch.data(), nullptr);
    for (float o : out) EXPECT_NEAR(o, 34.5f, 1e-4f) << ker.name;
  }
}

TEST(F32Rope, TablesMatchFormula) {
  const size_t n = 9, dh = 12;
  for (bool inter : {false, true}) {
    std::vector<float> c(n * dh), s(n * dh);
    f32_rope_tables_1d(n, dh, 10000.0, inter, c.data(), s.data());
    for (size_t t = 0; t < n; ++t) {
      for (size_t d = 0; d < dh; ++d) {
        const size_t i = inter ? d / 2 : d % (dh / 2);
        const double a = t * std::pow(10000.0, -2.0 * i / dh);
        EXPECT_NEAR(c[t * dh + d], std::cos(a), 1e-6);
        EXPECT_NEAR(s[t * dh + d], std::sin(a), 1e-6);
      }
    }
  }
  size_t dt, dy, dx;
  f32_rope_split_3d(24, &dt, &dy, &dx);
  EXPECT_EQ(dt + dy + dx, 24u);
  EXPECT_EQ(dy, 8u);
  const size_t F = 3, Hh = 4, W = 5, dh3 = 24;
  std::vector<float> c(F * Hh * W * dh3), s(c.size());
  EXPECT_FALSE(f32_rope_tables_3d(F, Hh, W, dh3, 7, 9, 8, 10000.0, false, c.data(), s.data()));
  ASSERT_TRUE(f32_rope_tables_3d(F, Hh, W, dh3, dt, dy, dx, 10000.0, false, c.data(), s.data()));
  for (size_t f = 0; f < F; ++f)
    for (size_t y = 0; y < Hh; ++y)
      for (size_t x = 0; x < W; ++x) {
        const size_t t = (f * Hh + y) * W + x;
        for (size_t j = 0; j < dh3 / 2; ++j) {
          double a;
          if (j < dt / 2) a = f * std::pow(10000.0, -2.0 * j / dt);
          else if (j < (dt + dy) / 2) a = y * std::pow(10000.0, -2.0 * (j - dt / 2) / dy);
          else a = x * std::pow(10000.0, -2.0 * (j - (dt + dy) / 2) / dx);
          EXPECT_NEAR(c[t * dh3 + j], std::cos(a), 1e-6);
          EXPECT_NEAR(c[t * dh3 + j + dh3 / 2], std::cos(a), 1e-6);
          EXPECT_NEAR(s[t * dh3 + j], std::sin(a), 1e-6);
        }
      }
}

TEST(F32Rope, KernelMatchesReferenceAndRotation) {
  Pool pool(2);
  for (AttentionLayout lay : {AttentionLayout::kBSHD, AttentionLayout::kBHSD}) {
    for (bool inter : {false, true}) {
      for (size_t dh : {2, 8, 40, 64}) {
        F32RopeParams p;
        p.batch = 2; p.tokens = 13; p.heads = 3; p.head_dim = dh; p.layout = lay;
        p.interleaved = inter;
        std::vector<float> c(p.tokens * dh), s(c.size());
        f32_rope_tables_1d(p.tokens, dh, 10000.0, inter, c.data(), s.data());
        std::vector<float> x = Random(p.batch * p.tokens * p.heads * dh, -2, 2, 600 + dh);
        std::vector<float> got(x.size()), ref(x.size());
        f32_rope(p, x.data(), c.data(), s.data(), got.data(), pool.p);
        f32_rope_ref(p, x.data(), c.data(), s.data(), ref.data());
        EXPECT_LE(RelErr(got, ref), 1e-6);
        // In place gives the same result.
        std::vector<float> inplace = x;
        f32_rope(p, inplace.data(), c.data(), s.data(), inplace.data(), nullptr);
        EXPECT_LE(RelErr(inplace, ref), 1e-6);
        // Rotation preserves each pair's norm; token 0 is the identity.
        for (size_t b = 0; b < p.batch; ++b)
          for (size_t h = 0; h < p.heads; ++h) {
            const size_t off = lay == AttentionLayout::kBSHD ? (b * p.tokens * p.heads + h) * dh
                                                             : (b * p.heads + h) * p.tokens * dh;
            for (size_t d = 0; d < dh; ++d) EXPECT_FLOAT_EQ(got[off + d], x[off + d]);
          }
        for (size_t t = 0; t < x.size(); t += dh) {
          for (size_t i = 0; i < dh / 2; ++i) {
            const size_t a = inter ? t + 2 * i : t + i, bb = inter ? t + 2 * i + 1 : t + i + dh / 2;
            EXPECT_NEAR(std::hypot(got[a], got[bb]), std::hypot(x[a], x[bb]), 1e-5);
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace edge
