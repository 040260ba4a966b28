// Transpose / Slice / Concat / Split against naive index math, and the
// embedding lookups (timestep: long double reference; ids: range checks).
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "ops/embedding.h"
#include "ops/layout.h"

namespace edge {
namespace {

int64_t Count(const std::vector<int64_t>& d) {
  int64_t n = 1;
  for (int64_t v : d) n *= v;
  return n;
}

std::vector<int64_t> Strides(const std::vector<int64_t>& d) {
  std::vector<int64_t> s(d.size());
  int64_t acc = 1;
  for (int i = static_cast<int>(d.size()) - 1; i >= 0; --i) {
    s[i] = acc;
    acc *= d[i];
  }
  return s;
}

template <class E>
void CheckTranspose(const std::vector<int64_t>& in, const std::vector<int>& perm) {
  const int r = static_cast<int>(in.size());
  const int64_t n = Count(in);
  std::vector<E> x(n), y(n + 1);
  for (int64_t i = 0; i < n; ++i) x[i] = static_cast<E>(i * 2654435761u + 7);
  y[n] = static_cast<E>(99);
  StridedCopyPlan plan;
  PlanTranspose(r, in.data(), perm.data(), sizeof(E), &plan);
  StridedCopy(plan, x.data(), y.data(), nullptr);
  std::vector<int64_t> out(r);
  for (int i = 0; i < r; ++i) out[i] = in[perm[i]];
  const std::vector<int64_t> is = Strides(in);
  for (int64_t o = 0; o < n; ++o) {
    int64_t rem = o, src = 0;
    for (int d = r - 1; d >= 0; --d) {
      src += (rem % out[d]) * is[perm[d]];
      rem /= out[d];
    }
    ASSERT_EQ(y[o], x[src]) << "elem " << o << " rank " << r;
  }
  EXPECT_EQ(y[n], static_cast<E>(99));
}

TEST(OpsLayout, TransposeCommonAndRandom) {
  CheckTranspose<float>({2, 17, 3, 33}, {0, 2, 1, 3});         // [B,N,H,dh] -> [B,H,N,dh]
  CheckTranspose<float>({2, 4, 4, 2, 2, 8}, {0, 5, 1, 3, 2, 4});  // unpatchify
  CheckTranspose<float>({2, 8, 2, 8, 2, 4}, {0, 2, 4, 1, 3, 5});  // patchify-like
  CheckTranspose<float>({67, 45}, {1, 0});
  CheckTranspose<float>({1, 1, 1}, {2, 0, 1});
  CheckTranspose<float>({3, 0, 2}, {2, 1, 0});
  CheckTranspose<uint8_t>({5, 33, 7}, {2, 0, 1});
  CheckTranspose<uint64_t>({4, 9, 35}, {0, 2, 1});
  CheckTranspose<uint16_t>({6, 31}, {1, 0});
  std::mt19937 rng(5);
  for (int t = 0; t < 200; ++t) {
    const int r = 1 + static_cast<int>(rng() % 6);
    std::vector<int64_t> dims(r);
    for (auto& d : dims) d = 1 + rng() % 6;
    std::vector<int> perm(r);
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), rng);
    CheckTranspose<float>(dims, perm);
  }
}

void CheckSlice(const std::vector<int64_t>& in, const std::vector<int64_t>& starts,
                const std::vector<int64_t>& steps, const std::vector<int64_t>& out) {
  const int r = static_cast<int>(in.size());
  std::vector<float> x(Count(in));
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i);
  const int64_t n = Count(out);
  std::vector<float> y(n + 1, -1.f);
  StridedCopyPlan plan;
  PlanSlice(r, in.data(), starts.data(), steps.data(), out.data(), 4, &plan);
  StridedCopy(plan, x.data(), y.data(), nullptr);
  const std::vector<int64_t> is = Strides(in);
  for (int64_t o = 0; o < n; ++o) {
    int64_t rem = o, src = 0;
    for (int d = r - 1; d >= 0; --d) {
      src += (starts[d] + (rem % out[d]) * steps[d]) * is[d];
      rem /= out[d];
    }
    ASSERT_EQ(y[o], x[src]) << "elem " << o;
  }
  EXPECT_EQ(y[n], -1.f);
}

TEST(OpsLayout, SliceStepsAndNegativeSteps) {
  CheckSlice({4, 769}, {0, 0}, {1, 1}, {4, 769});       // identity
  CheckSlice({4, 769}, {1, 5}, {1, 1}, {2, 700});       // contiguous window
  CheckSlice({4, 33}, {3, 32}, {-1, -1}, {4, 33});      // full reverse
  CheckSlice({5, 31}, {0, 1}, {2, 3}, {3, 10});         // strided
  CheckSlice({2, 3, 17}, {1, 2, 16}, {-1, -2, -5}, {2, 2, 4});
  CheckSlice({6, 8, 10}, {0, 0, 0}, {1, 1, 1}, {6, 8, 5});  // first half of last axis (chunk)
  CheckSlice({2, 16, 32, 8}, {0, 0, 3, 0}, {1, 1, 8, 1}, {2, 16, 4, 8});
}

TEST(OpsLayout, ConcatSplitRoundTrip) {
  // [2, a_i, 5] along axis 1: outer = 2, chunks a_i * 5 floats.
  const std::vector<int64_t> widths = {3, 0, 17, 1};
  const size_t outer = 2, inner = 5;
  size_t total = 0;
  for (auto w : widths) total += w;
  std::vector<std::vector<float>> parts;
  std::vector<const void*> srcs;
  std::vector<size_t> bytes;
  float v = 0;
  for (auto w : widths) {
    parts.emplace_back(outer * w * inner);
    for (auto& e : parts.back()) e = v++;
  }
  for (size_t i = 0; i < widths.size(); ++i) {
    srcs.push_back(parts[i].data());
    bytes.push_back(widths[i] * inner * sizeof(float));
  }
  std::vector<float> cat(outer * total * inner);
  ConcatRows(outer, widths.size(), srcs.data(), bytes.data(), total * inner * sizeof(float),
             cat.data(), nullptr);
  for (size_t o = 0; o < outer; ++o) {
    size_t col = 0;
    for (size_t i = 0; i < widths.size(); ++i) {
      for (int64_t a = 0; a < widths[i]; ++a)
        for (size_t k = 0; k < inner; ++k)
          ASSERT_EQ(cat[(o * total + col + a) * inner + k], parts[i][(o * widths[i] + a) * inner + k]);
      col += widths[i];
    }
  }
  std::vector<std::vector<float>> back(widths.size());
  std::vector<void*> dsts;
  for (size_t i = 0; i < widths.size(); ++i) {
    back[i].assign(outer * widths[i] * inner, -1.f);
    dsts.push_back(back[i].data());
  }
  SplitRows(outer, widths.size(), cat.data(), total * inner * sizeof(float), dsts.data(),
            bytes.data(), nullptr);
  for (size_t i = 0; i < widths.size(); ++i) EXPECT_EQ(back[i], parts[i]);
}

TEST(OpsEmbedding, TimestepMatchesLongDouble) {
  const float t[] = {0.f, 1.f, 17.5f, 999.f, 1000.f, 0.001f};
  for (int dim : {256, 64, 3, 33}) {
    for (int variant = 0; variant < 3; ++variant) {
      TimestepEmbeddingParams p;
      p.dim = dim;
      p.cos_first = variant != 1;
      p.downscale_freq_shift = variant == 2 ? 1.f : 0.f;
      p.scale = variant == 2 ? 2.f : 1.f;
      p.max_period = 10000.f;
      if (dim / 2 - p.downscale_freq_shift == 0) continue;  // rejected at prepare
      std::vector<float> out(6 * dim);
      f32_timestep_embedding_ref(6, t, p, out.data());
      const int half = dim / 2;
      for (int b = 0; b < 6; ++b) {
        for (int i = 0; i < half; ++i) {
          const long double freq =
              expl(-logl(10000.0L) * i / (half - (long double)p.downscale_freq_shift));
          const long double arg = (long double)t[b] * p.scale * freq;
          const double c = (double)cosl(arg), s = (double)sinl(arg);
          const float* o = &out[b * dim];
          EXPECT_NEAR(o[i], p.cos_first ? c : s, 2e-7) << "t=" << t[b] << " i=" << i;
          EXPECT_NEAR(o[half + i], p.cos_first ? s : c, 2e-7) << "t=" << t[b] << " i=" << i;
        }
        if (dim % 2) EXPECT_EQ(out[b * dim + dim - 1], 0.f);
      }
    }
  }
}

TEST(OpsEmbedding, LookupAndRangeCheck) {
  const int64_t V = 7;
  const size_t D = 5;
  std::vector<float> table(V * D);
  for (size_t i = 0; i < table.size(); ++i) table[i] = static_cast<float>(i);
  const int32_t ids32[] = {6, 0, 3, 3};
  const int64_t ids64[] = {1, 6, 0};
  std::vector<float> out(4 * D);
  int64_t bad = 0;
  ASSERT_TRUE(f32_embedding_i32(4, ids32, table.data(), V, D, out.data(), &bad));
  for (size_t i = 0; i < 4; ++i)
    for (size_t k = 0; k < D; ++k) EXPECT_EQ(out[i * D + k], table[ids32[i] * D + k]);
  ASSERT_TRUE(f32_embedding_i64(3, ids64, table.data(), V, D, out.data(), &bad));
  for (size_t i = 0; i < 3; ++i)
    for (size_t k = 0; k < D; ++k) EXPECT_EQ(out[i * D + k], table[ids64[i] * D + k]);
  const int32_t bad32[] = {2, 7};
  EXPECT_FALSE(f32_embedding_i32(2, bad32, table.data(), V, D, out.data(), &bad));
  EXPECT_EQ(bad, 7);
  const int64_t bad64[] = {-1};
  EXPECT_FALSE(f32_embedding_i64(1, bad64, table.data(), V, D, out.data(), &bad));
  EXPECT_EQ(bad, -1);
  const int64_t huge[] = {int64_t(1) << 40};
  EXPECT_FALSE(f32_embedding_i64(1, huge, table.data(), V, D, out.data(), &bad));
  EXPECT_EQ(bad, int64_t(1) << 40);
}

}  // namespace
}  // namespace edge
