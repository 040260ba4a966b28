// F32 GEMM: reference, packing, the portable microkernel, the configs and
// the tiled parallel driver. See ops/f32_gemm.h.
#include "ops/f32_gemm.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "ops/f32_gemm_ukernel.h"

namespace edge {


// Portable microkernel: 4x4 block in plain C++ (still register blocked, so it
// is several times faster than the reference loops). The fused activation is
// rolled (inlined once, not 16 times): the vector math's GELU is long, and
// this kernel is in every core binary, AArch64's size-bound one included.
void f32_gemm_4x4__scalar(size_t mr, size_t nc, size_t k, const float* a, size_t a_stride,
                          const float* w, const float* bias, float* c, size_t c_stride, int act) {
  gemm_ukernel<VecScalar, 4, 4, 4, true>(mr, nc, k, a, a_stride, w, bias, c, c_stride, act);
}

#if !defined(__aarch64__)  // AArch64 reads the stored layout with NEON
void f32_gemm_4x4p16__scalar(size_t mr, size_t nc, size_t k, const float* a, size_t a_stride,
                             const float* w, const float* bias, float* c, size_t c_stride,
                             int act) {
  gemm_ukernel<VecScalar, 4, 4, 16, true>(mr, nc, k, a, a_stride, w, bias, c, c_stride, act);
}
#endif

namespace {
#if defined(__aarch64__)
constexpr F32ActivationFn kPortableActivation = f32_activation__neon;  // NEON is baseline
#else
constexpr F32ActivationFn kPortableActivation = f32_activation__scalar;
#endif
}  // namespace

const F32GemmConfig kF32GemmScalar = {"f32_gemm_4x4__scalar", f32_gemm_4x4__scalar,
                                      kPortableActivation, 4, 4, IsaLevel::kScalar, 4};
#if defined(__aarch64__)
// NEON is baseline on AArch64: the stored layout gets a vector kernel there.
const F32GemmConfig kF32GemmP16Scalar = {"f32_gemm_4x16__neon", f32_gemm_4x16__neon,
                                         kPortableActivation, 4, 16, IsaLevel::kScalar, 16};
#else
const F32GemmConfig kF32GemmP16Scalar = {"f32_gemm_4x4p16__scalar", f32_gemm_4x4p16__scalar,
                                         kPortableActivation, 4, 4, IsaLevel::kScalar, 16};
#endif
#if defined(__x86_64__)
const F32GemmConfig kF32GemmAvx2 = {"f32_gemm_6x16__avx2", f32_gemm_6x16__avx2,
                                    f32_activation__avx2, 6, 16, IsaLevel::kAvx2, 16};
const F32GemmConfig kF32GemmAvx512 = {"f32_gemm_8x32__avx512", f32_gemm_8x32__avx512,
                                      f32_activation__avx512, 8, 32, IsaLevel::kAvx512, 32};
const F32GemmConfig kF32GemmP16Avx512 = {"f32_gemm_8x32p16__avx512", f32_gemm_8x32p16__avx512,
                                         f32_activation__avx512, 8, 32, IsaLevel::kAvx512, 16};
#endif

size_t f32_gemm_packed_floats(size_t n, size_t k, size_t nr) {
  return (n + nr - 1) / nr * nr * k;
}

void f32_gemm_pack_nk(size_t n, size_t k, const float* w, size_t ldw, size_t nr, float* packed) {
  for (size_t n0 = 0; n0 < n; n0 += nr) {
    float* panel = packed + n0 * k;
    const size_t nn = std::min(nr, n - n0);
    for (size_t j = 0; j < nr; ++j) {
      if (j < nn) {
        const float* row = w + (n0 + j) * ldw;
        for (size_t kk = 0; kk < k; ++kk) panel[kk * nr + j] = row[kk];
      } else {
        for (size_t kk = 0; kk < k; ++kk) panel[kk * nr + j] = 0.f;
      }
    }
  }
}

void f32_gemm_pack_kn(size_t n, size_t k, const float* b, size_t ldb, size_t nr, float* packed) {
  for (size_t n0 = 0; n0 < n; n0 += nr) {
    float* panel = packed + n0 * k;
    const size_t nn = std::min(nr, n - n0);
    for (size_t kk = 0; kk < k; ++kk) {
      std::memcpy(panel + kk * nr, b + kk * ldb + n0, nn * sizeof(float));
      if (nn < nr) std::memset(panel + kk * nr + nn, 0, (nr - nn) * sizeof(float));
    }
  }
}

namespace {

struct GemmTask {
  const F32GemmConfig* cfg;
  size_t n, k;
  const float* x;
  size_t x_stride;
  const float* w;
  const float* bias;
  float* y;
  size_t y_stride;
  int act;
};

// One (M tile, N tile): panels outer, row blocks inner, so one packed panel
// (K x NR) is reused from cache by every row block of the tile while the
// tile's rows of x (tile_m x K) stay in L2.
void GemmTile(void* ctx, size_t m0, size_t n0, size_t mm, size_t nn) {
  const GemmTask& t = *static_cast<const GemmTask*>(ctx);
  const size_t mr = t.cfg->mr, nr = t.cfg->nr;
  for (size_t n = n0; n < n0 + nn; n += nr) {
    const size_t nc = std::min(nr, t.n - n);
    // Column n's first float; n * k where the panel is nr wide (n % nr == 0).
    const size_t p = t.cfg->panel;
    const float* panel = t.w + (n / p) * p * t.k + n % p;
    const float* bias = t.bias != nullptr ? t.bias + n : nullptr;
    for (size_t m = m0; m < m0 + mm; m += mr) {
      t.cfg->ukernel(std::min(mr, m0 + mm - m), nc, t.k, t.x + m * t.x_stride, t.x_stride, panel,
                     bias, t.y + m * t.y_stride + n, t.y_stride, t.act);
    }
  }
}

}  // namespace

void f32_gemm_packed(const F32GemmConfig& cfg, size_t m, size_t n, size_t k, const float* x,
                     size_t x_stride, const float* packed_w, const float* bias, float* y,
                     size_t y_stride, GemmActivation act, pthreadpool_t pool) {
  if (m == 0 || n == 0) return;
  GemmTask t = {&cfg, n, k, x, x_stride, packed_w, bias, y, y_stride, static_cast<int>(act)};
  // Tiles: up to 8 row blocks x 4 panels; shrink the N tile while there are
  // too few tiles to keep every thread busy.
  const size_t threads = pool != nullptr ? pthreadpool_get_threads_count(pool) : 1;
  size_t tile_m = std::min(m, cfg.mr * 8);
  size_t tile_n = cfg.nr * 4;
  auto tiles = [&]() { return ((m + tile_m - 1) / tile_m) * ((n + tile_n - 1) / tile_n); };
  while (tile_n > cfg.nr && tiles() < threads * 4) tile_n -= cfg.nr;
  while (tile_m > cfg.mr && tiles() < threads * 4) tile_m -= cfg.mr;
  if (pool == nullptr || threads <= 1) {
    for (size_t m0 = 0; m0 < m; m0 += tile_m) {
      for (size_t n0 = 0; n0 < n; n0 += tile_n) {
        GemmTile(&t, m0, n0, std::min(tile_m, m - m0), std::min(tile_n, n - n0));
      }
    }
    return;
  }
  pthreadpool_parallelize_2d_tile_2d(pool, GemmTile, &t, m, n, tile_m, tile_n, 0);
}

float f32_activation_ref(float xf, GemmActivation act) {
  const double x = xf;
  switch (act) {
    case GemmActivation::kGelu: return static_cast<float>(0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))));
    case GemmActivation::kGeluTanh: {
      const double u = std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x);
      return static_cast<float>(0.5 * x * (1.0 + std::tanh(u)));
    }
    case GemmActivation::kSiLU: return static_cast<float>(x / (1.0 + std::exp(-x)));
    case GemmActivation::kNone: break;
  }
  return xf;
}

void f32_gemm_ref(size_t m, size_t n, size_t k, const float* x, size_t x_stride, const float* w,
                  size_t w_stride, const float* bias, float* y, size_t y_stride,
                  GemmActivation act) {
  for (size_t i = 0; i < m; ++i) {
    for (size_t j = 0; j < n; ++j) {
      double s = bias != nullptr ? bias[j] : 0.0;
      for (size_t kk = 0; kk < k; ++kk) {
        s += static_cast<double>(x[i * x_stride + kk]) * w[j * w_stride + kk];
      }
      y[i * y_stride + j] = f32_activation_ref(static_cast<float>(s), act);
    }
  }
}

}  // namespace edge
