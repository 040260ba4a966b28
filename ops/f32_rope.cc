// RoPE kernels and tables. RoPE is memory bound (a few flops per loaded
// value), so one portable kernel whose inner loops the compiler vectorizes is
// enough; the work is split over (batch, token) rows on the pool.
#include "ops/f32_rope.h"

#include <cmath>
#include <vector>

namespace edge {

namespace {

struct RopeTask {
  const F32RopeParams* p;
  const float* x;
  const float* cos;
  const float* sin;
  float* out;
};

inline size_t RowOffset(const F32RopeParams& p, size_t b, size_t n, size_t h) {
  const size_t dh = p.head_dim;
  if (p.layout == AttentionLayout::kBSHD) return ((b * p.tokens + n) * p.heads + h) * dh;
  return ((b * p.heads + h) * p.tokens + n) * dh;
}

// One head vector. Reads all of x before writing (out may alias x).
inline void RopeVec(size_t dh, bool interleaved, const float* __restrict x,
                    const float* __restrict c, const float* __restrict s, float* out) {
  float tmp[512];
  float* o = dh <= 512 ? tmp : out;
  if (dh > 512) {  // rare: process in place pair by pair
    if (!interleaved) {
      const size_t half = dh / 2;
      for (size_t i = 0; i < half; ++i) {
        const float x1 = x[i], x2 = x[i + half];
        out[i] = x1 * c[i] - x2 * s[i];
        out[i + half] = x2 * c[i + half] + x1 * s[i + half];
      }
    } else {
      for (size_t i = 0; i < dh; i += 2) {
        const float x0 = x[i], x1 = x[i + 1];
        out[i] = x0 * c[i] - x1 * s[i];
        out[i + 1] = x1 * c[i + 1] + x0 * s[i + 1];
      }
    }
    return;
  }
  if (!interleaved) {
    const size_t half = dh / 2;
    for (size_t i = 0; i < half; ++i) o[i] = x[i] * c[i] - x[i + half] * s[i];
    for (size_t i = half; i < dh; ++i) o[i] = x[i] * c[i] + x[i - half] * s[i];
  } else {
    for (size_t i = 0; i < dh; i += 2) {
      o[i] = x[i] * c[i] - x[i + 1] * s[i];
      o[i + 1] = x[i + 1] * c[i + 1] + x[i] * s[i + 1];
    }
  }
  for (size_t i = 0; i < dh; ++i) out[i] = o[i];
}

void RopeRow(void* ctx, size_t row) {
  const RopeTask& t = *static_cast<const RopeTask*>(ctx);
  const F32RopeParams& p = *t.p;
  const size_t b = row / p.tokens, n = row % p.tokens;
  const float* c = t.cos + n * p.head_dim;
  const float* s = t.sin + n * p.head_dim;
  for (size_t h = 0; h < p.heads; ++h) {
    const size_t off = RowOffset(p, b, n, h);
    RopeVec(p.head_dim, p.interleaved, t.x + off, c, s, t.out + off);
  }
}

}  // namespace

void f32_rope(const F32RopeParams& p, const float* x, const float* cos, const float* sin,
              float* out, pthreadpool_t pool) {
  RopeTask t = {&p, x, cos, sin, out};
  const size_t rows = p.batch * p.tokens;
  if (pool == nullptr || pthreadpool_get_threads_count(pool) <= 1) {
    for (size_t r = 0; r < rows; ++r) RopeRow(&t, r);
    return;
  }
  pthreadpool_parallelize_1d(pool, RopeRow, &t, rows, 0);
}

void f32_rope_ref(const F32RopeParams& p, const float* x, const float* cos, const float* sin,
                  float* out) {
  const size_t dh = p.head_dim, half = dh / 2;
  std::vector<float> rot(dh);
  for (size_t b = 0; b < p.batch; ++b) {
    for (size_t n = 0; n < p.tokens; ++n) {
      for (size_t h = 0; h < p.heads; ++h) {
        const size_t off = RowOffset(p, b, n, h);
        const float* xv = x + off;
        for (size_t d = 0; d < dh; ++d) {
          if (p.interleaved) {
            rot[d] = (d % 2 == 0) ? -xv[d + 1] : xv[d - 1];
          } else {
            rot[d] = d < half ? -xv[d + half] : xv[d - half];
          }
        }
        for (size_t d = 0; d < dh; ++d) {
          out[off + d] = static_cast<float>(static_cast<double>(xv[d]) * cos[n * dh + d] +
                                            static_cast<double>(rot[d]) * sin[n * dh + d]);
        }
      }
    }
  }
}

void f32_rope_tables_from_angles(size_t n, size_t head_dim, const double* angles,
                                 bool interleaved, float* cos, float* sin) {
  const size_t half = head_dim / 2;
  for (size_t t = 0; t < n; ++t) {
    for (size_t i = 0; i < half; ++i) {
      const double a = angles[t * half + i];
      const float c = static_cast<float>(std::cos(a)), s = static_cast<float>(std::sin(a));
      const size_t i0 = interleaved ? 2 * i : i;
      const size_t i1 = interleaved ? 2 * i + 1 : i + half;
      cos[t * head_dim + i0] = cos[t * head_dim + i1] = c;
      sin[t * head_dim + i0] = sin[t * head_dim + i1] = s;
    }
  }
}

void f32_rope_tables_1d(size_t n, size_t head_dim, double theta, bool interleaved, float* cos,
                        float* sin) {
  const size_t half = head_dim / 2;
  std::vector<double> angles(n * half);
  for (size_t t = 0; t < n; ++t) {
    for (size_t i = 0; i < half; ++i) {
      angles[t * half + i] =
          static_cast<double>(t) * std::pow(theta, -2.0 * static_cast<double>(i) / head_dim);
    }
  }
  f32_rope_tables_from_angles(n, head_dim, angles.data(), interleaved, cos, sin);
}

bool f32_rope_tables_3d(size_t frames, size_t height, size_t width, size_t head_dim, size_t d_t,
                        size_t d_h, size_t d_w, double theta, bool interleaved, float* cos,
                        float* sin) {
  if (d_t + d_h + d_w != head_dim || d_t % 2 || d_h % 2 || d_w % 2) return false;
  const size_t half = head_dim / 2, n = frames * height * width;
  std::vector<double> angles(n * half);
  const size_t dims[3] = {d_t, d_h, d_w};
  for (size_t f = 0; f < frames; ++f) {
    for (size_t y = 0; y < height; ++y) {
      for (size_t x = 0; x < width; ++x) {
        const size_t t = (f * height + y) * width + x;
        const size_t pos[3] = {f, y, x};
        size_t slot = 0;
        for (int a = 0; a < 3; ++a) {
          for (size_t i = 0; i < dims[a] / 2; ++i, ++slot) {
            angles[t * half + slot] = static_cast<double>(pos[a]) *
                                      std::pow(theta, -2.0 * static_cast<double>(i) / dims[a]);
          }
        }
      }
    }
  }
  f32_rope_tables_from_angles(n, head_dim, angles.data(), interleaved, cos, sin);
  return true;
}

void f32_rope_split_3d(size_t head_dim, size_t* d_t, size_t* d_h, size_t* d_w) {
  *d_h = *d_w = 2 * (head_dim / 6);
  *d_t = head_dim - *d_h - *d_w;
}

}  // namespace edge
