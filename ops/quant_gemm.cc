// Quantizers, scalar kernels, oracles and the threaded driver of the
// quantized linear layers. The SIMD tiles live in qs8_gemm__<isa>.cc and
// qnvfp4_gemm__<isa>.cc.
#include "ops/quant_gemm.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "ops/nvfp4.h"
#include "ops/quant_gemm_internal.h"

namespace edge {

// ---------------------------------------------------------------- quantizers

bool Qs8QuantizePerChannel(const float* w, size_t N, size_t K, size_t ldw, int8_t* q,
                           float* scale) {
  for (size_t n = 0; n < N; ++n) {
    const float* row = w + n * ldw;
    float amax = 0.0f;
    for (size_t k = 0; k < K; ++k) {
      if (!std::isfinite(row[k])) return false;
      amax = std::fmax(amax, std::fabs(row[k]));
    }
    const float s = amax > 0.0f ? amax / 127.0f : 1.0f;
    scale[n] = s;
    for (size_t k = 0; k < K; ++k) {
      float v = std::nearbyint(row[k] / s);  // RNE (default rounding mode)
      v = std::fmin(std::fmax(v, -127.0f), 127.0f);
      q[n * K + k] = static_cast<int8_t>(v);
    }
  }
  return true;
}

void QuantizeRowsRef(const float* x, size_t ldx, size_t rows, size_t K, size_t k_pad,
                     QActFormat fmt, uint8_t* q, size_t ldq, float* scale, int32_t* corr,
                     size_t ldcorr) {
  for (size_t m = 0; m < rows; ++m) {
    const float* row = x + m * ldx;
    float amax = 0.0f;
    for (size_t k = 0; k < K; ++k) amax = std::fmax(amax, std::fabs(row[k]));
    const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
    scale[m] = amax / 127.0f;
    uint8_t* qr = q + m * ldq;
    int32_t sum = 0;
    for (size_t k = 0; k < k_pad; ++k) {
      int v = 0;
      if (k < K) {
        const float r = std::nearbyint(row[k] * inv);
        v = static_cast<int>(std::fmin(std::fmax(r, -127.0f), 127.0f));
      }
      if (fmt.int16_even_odd) {
        const size_t i = k % 4, pos = k - i + (i % 2 == 0 ? i / 2 : 2 + i / 2);
        const uint16_t u = static_cast<uint16_t>(static_cast<int16_t>(v));
        qr[2 * pos] = static_cast<uint8_t>(u & 0xFF);
        qr[2 * pos + 1] = static_cast<uint8_t>(u >> 8);
      } else {
        qr[k] = static_cast<uint8_t>(static_cast<uint8_t>(static_cast<int8_t>(v)) ^ fmt.xor_mask);
      }
      sum += v;
      if (fmt.corr_mul != 0 && k % kNvfp4BlockSize == kNvfp4BlockSize - 1) {
        corr[m * ldcorr + k / kNvfp4BlockSize] = fmt.corr_mul * sum;
        sum = 0;
      }
    }
  }
}

// ---------------------------------------------------------------- packed weights

void Qs8ColumnCorrection(const uint8_t* packed, size_t N, size_t K, int32_t* corr) {
  const size_t Np = RoundUp(N, 16), Kp = RoundUp(K, 4);
  for (size_t n = 0; n < Np; ++n) {
    int32_t s = 0;
    for (size_t k = 0; k < Kp; ++k) {
      s += static_cast<int8_t>(packed[Qs8PackedIndex(n, k, Kp)]);
    }
    corr[n] = -128 * s;
  }
}

// ---------------------------------------------------------------- scalar tiles

namespace {

// Scalar kernels on the packed layouts: the portable fallback.
void Qs8TileScalar(const QGemmArgs& a, size_t m0, size_t mc, size_t n0, size_t nc) {
  const size_t Kp = RoundUp(a.K, 4);
  for (size_t m = m0; m < m0 + mc; ++m) {
    const int8_t* x = reinterpret_cast<const int8_t*>(a.a + m * a.lda);
    for (size_t n = n0; n < n0 + nc; ++n) {
      const int8_t* w = reinterpret_cast<const int8_t*>(a.w) + (n / 16) * 16 * Kp + (n % 16) * 4;
      int32_t acc = 0;
      for (size_t k = 0; k < Kp; ++k) acc += int32_t(x[k]) * w[(k / 4) * 64 + k % 4];
      a.y[m * a.ldy + n] = std::fma(static_cast<float>(acc) * a.a_scale[m], a.w_scale[n], a.bias[n]);
    }
  }
}

void Qnvfp4TileScalar(const QGemmArgs& a, size_t m0, size_t mc, size_t n0, size_t nc) {
  const size_t nbp = RoundUp(a.K, 16) / 16, nb = (a.K + 15) / 16;
  const float* lut = E4M3Table();
  for (size_t m = m0; m < m0 + mc; ++m) {
    const int8_t* x = reinterpret_cast<const int8_t*>(a.a + m * a.lda);
    const float rs = a.a_scale[m] * a.tensor_half;
    for (size_t n = n0; n < n0 + nc; ++n) {
      const size_t p = n / 16, c = n % 16;
      float f = 0.0f;
      for (size_t b = 0; b < nb; ++b) {
        const uint8_t* blk = a.w + (p * nbp + b) * 128 + c * 4;
        int32_t acc = 0;
        for (size_t r = 0; r < 16; ++r) {
          const size_t h = r / 8, j = r % 8;
          const uint8_t byte = blk[h * 64 + j % 4];
          acc += int32_t(x[b * 16 + r]) * kE2M1Times2[j < 4 ? byte & 15 : byte >> 4];
        }
        f = std::fma(static_cast<float>(acc), lut[a.w_scales[(p * nbp + b) * 16 + c]], f);
      }
      a.y[m * a.ldy + n] = std::fma(f, rs, a.bias[n]);
    }
  }
}

bool AlwaysSupported(const CpuFeatures&) { return true; }

}  // namespace

const QGemmKernel kQs8GemmScalar = {"qs8_gemm_1x1__scalar", AlwaysSupported, {0, 0}, 4,
                                    QuantizeRowsRef, Qs8TileScalar, 1, 16, false};
const QGemmKernel kQnvfp4GemmScalar = {"qnvfp4_gemm_1x1__scalar", AlwaysSupported, {0, 0}, 16,
                                       QuantizeRowsRef, Qnvfp4TileScalar, 1, 16, false};

// ---------------------------------------------------------------- driver

namespace {

struct ActLayout {
  size_t k_pad, lda, ldcorr;
  size_t q_bytes, scale_off, corr_off, total;
};

ActLayout LayoutFor(const QGemmKernel& kernel, size_t M, size_t K) {
  ActLayout l;
  l.k_pad = RoundUp(std::max<size_t>(K, 1), kernel.k_align);
  l.lda = RoundUp(QActRowBytes(kernel.act, l.k_pad), 64);
  l.ldcorr = kernel.act.corr_mul != 0 ? RoundUp(l.k_pad, 16) / 16 : 0;
  l.q_bytes = M * l.lda;
  l.scale_off = RoundUp(l.q_bytes, 64);
  l.corr_off = l.scale_off + RoundUp(M * sizeof(float), 64);
  l.total = l.corr_off + RoundUp(M * l.ldcorr * sizeof(int32_t), 64);
  return l;
}

struct QuantTask {
  const QGemmKernel* kernel;
  const float* x;
  size_t ldx;
  const QGemmArgs* args;
  float* scale;
  int32_t* corr;
};

void QuantRows(void* ctx, size_t m0, size_t mc) {
  const QuantTask* t = static_cast<const QuantTask*>(ctx);
  const QGemmArgs& a = *t->args;
  t->kernel->quantize(t->x + m0 * t->ldx, t->ldx, mc, a.K, a.k_pad, t->kernel->act,
                      const_cast<uint8_t*>(a.a) + m0 * a.lda, a.lda, t->scale + m0,
                      t->corr ? t->corr + m0 * a.ldcorr : nullptr, a.ldcorr);
}

struct TileTask {
  const QGemmKernel* kernel;
  const QGemmArgs* args;
};

void GemmTile(void* ctx, size_t m0, size_t n0, size_t mc, size_t nc) {
  const TileTask* t = static_cast<const TileTask*>(ctx);
  t->kernel->tile(*t->args, m0, mc, n0, nc);
}

}  // namespace

size_t QGemmScratchBytes(const QGemmKernel& kernel, size_t M, size_t K) {
  return LayoutFor(kernel, M, K).total;
}

void QGemmRun(const QGemmKernel& kernel, const float* x, size_t ldx, QGemmArgs args,
              void* scratch, pthreadpool_t pool) {
  const size_t M = args.M, N = args.N;
  if (M == 0 || N == 0) return;
  const ActLayout l = LayoutFor(kernel, M, args.K);
  uint8_t* base = static_cast<uint8_t*>(scratch);
  float* scale = reinterpret_cast<float*>(base + l.scale_off);
  int32_t* corr = l.ldcorr ? reinterpret_cast<int32_t*>(base + l.corr_off) : nullptr;
  args.k_pad = l.k_pad;
  args.a = base;
  args.lda = l.lda;
  args.a_scale = scale;
  args.a_corr = corr;
  args.ldcorr = l.ldcorr;

  QuantTask qt = {&kernel, x, ldx, &args, scale, corr};
  // A few rows are quantized on the calling thread: waking the pool costs
  // more than the work (and each extra synchronization is a chance to wait
  // for a descheduled worker).
  if (M <= 32) {
    QuantRows(&qt, 0, M);
  } else {
    pthreadpool_parallelize_1d_tile_1d(pool, QuantRows, &qt, M, 16, 0);
  }

  // Task shape: up to 16 register tiles of rows and 2 of columns; with few
  // rows, narrower column tasks so that every thread gets work.
  const size_t threads = pool ? pthreadpool_get_threads_count(pool) : 1;
  size_t tile_m = std::min(RoundUp(M, kernel.mr), kernel.mr * 16);
  size_t tile_n = kernel.nr * 2;
  const size_t m_tasks = (M + tile_m - 1) / tile_m;
  while (tile_n > 16 && m_tasks * ((N + tile_n - 1) / tile_n) < 4 * threads) tile_n -= 16;
  TileTask tt = {&kernel, &args};
  pthreadpool_parallelize_2d_tile_2d(pool, GemmTile, &tt, M, N, tile_m, tile_n, 0);
}

// ---------------------------------------------------------------- oracles

void Qs8GemmRef(const float* x, size_t M, size_t K, const int8_t* q, const float* w_scale,
                const float* bias, size_t N, float* y) {
  std::vector<uint8_t> qa(M * (K + 1));
  std::vector<float> sa(M);
  QuantizeRowsRef(x, K, M, K, K, QActFormat(), qa.data(), K + 1, sa.data(), nullptr, 0);
  for (size_t m = 0; m < M; ++m) {
    const int8_t* xr = reinterpret_cast<const int8_t*>(qa.data() + m * (K + 1));
    for (size_t n = 0; n < N; ++n) {
      int32_t acc = 0;
      for (size_t k = 0; k < K; ++k) acc += int32_t(xr[k]) * q[n * K + k];
      y[m * N + n] = std::fma(static_cast<float>(acc) * sa[m], w_scale[n], bias ? bias[n] : 0.0f);
    }
  }
}

void Qnvfp4GemmRef(const float* x, size_t M, size_t K, const uint8_t* codes,
                   const uint8_t* scales, float tensor_scale, const float* bias, size_t N,
                   float* y) {
  std::vector<uint8_t> qa(M * (K + 1));
  std::vector<float> sa(M);
  QuantizeRowsRef(x, K, M, K, K, QActFormat(), qa.data(), K + 1, sa.data(), nullptr, 0);
  const size_t nb = (K + 15) / 16;
  const float half = 0.5f * tensor_scale;
  for (size_t m = 0; m < M; ++m) {
    const int8_t* xr = reinterpret_cast<const int8_t*>(qa.data() + m * (K + 1));
    for (size_t n = 0; n < N; ++n) {
      float f = 0.0f;
      for (size_t b = 0; b < nb; ++b) {
        int32_t acc = 0;
        for (size_t k = b * 16; k < std::min(K, b * 16 + 16); ++k) {
          acc += int32_t(xr[k]) * kE2M1Times2[Nvfp4CodeAt(codes, K, n, k)];
        }
        f = std::fma(static_cast<float>(acc), E4M3Decode(scales[n * nb + b]), f);
      }
      y[m * N + n] = std::fma(f, sa[m] * half, bias ? bias[n] : 0.0f);
    }
  }
}

}  // namespace edge
