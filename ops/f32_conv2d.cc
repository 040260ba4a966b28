#include "ops/f32_conv2d.h"

#include <algorithm>
#include <cstring>

namespace edge {

size_t f32_conv2d_out_size(size_t in, size_t kernel, size_t stride, size_t pad_begin,
                           size_t pad_end, size_t dilation) {
  const size_t span = dilation * (kernel - 1) + 1;
  const size_t padded = in + pad_begin + pad_end;
  if (kernel == 0 || stride == 0 || padded < span) return 0;
  return (padded - span) / stride + 1;
}

bool f32_conv2d_is_patchify(const F32Conv2dParams& p) {
  return p.stride_h == p.kernel_h && p.stride_w == p.kernel_w && p.pad_top == 0 &&
         p.pad_left == 0 && p.dilation_h == 1 && p.dilation_w == 1;
}

namespace {
size_t GroupK(const F32Conv2dParams& p) {
  return p.in_c / p.groups * p.kernel_h * p.kernel_w;
}
}  // namespace

size_t f32_conv2d_packed_weight_floats(const F32Conv2dParams& p) {
  return p.out_c * (GroupK(p) + 1);
}

void f32_conv2d_pack_weights(const F32Conv2dParams& p, const float* w, const float* bias,
                             float* packed) {
  const size_t kg = GroupK(p);
  for (size_t o = 0; o < p.out_c; ++o) {
    std::memcpy(packed + o * (kg + 1), w + o * kg, kg * sizeof(float));
    packed[o * (kg + 1) + kg] = bias != nullptr ? bias[o] : 0.f;
  }
}

size_t f32_conv2d_scratch_floats(const F32GemmConfig& cfg, const F32Conv2dParams& p) {
  return f32_gemm_packed_floats(p.out_h * p.out_w, GroupK(p) + 1, cfg.nr);
}

namespace {

struct Im2ColTask {
  const F32Conv2dParams* p;
  const float* x;  // first channel of the group, this image
  float* col;
  size_t nr, kg, pixels;
};

// One panel of nr output pixels: for each k = (c, ky, kx), the nr input
// values that pixel window position touches (0 outside the image), then the
// row of ones for the bias.
void Im2ColPanel(void* ctx, size_t panel) {
  const Im2ColTask& t = *static_cast<const Im2ColTask*>(ctx);
  const F32Conv2dParams& p = *t.p;
  const size_t p0 = panel * t.nr;
  const size_t np = std::min(t.nr, t.pixels - p0);
  float* out = t.col + panel * t.nr * (t.kg + 1);
  const bool patch = f32_conv2d_is_patchify(p);
  size_t k = 0;
  for (size_t c = 0; c < p.in_c / p.groups; ++c) {
    const float* xc = t.x + c * p.in_h * p.in_w;
    for (size_t ky = 0; ky < p.kernel_h; ++ky) {
      for (size_t kx = 0; kx < p.kernel_w; ++kx, ++k) {
        float* dst = out + k * t.nr;
        size_t oy = p0 / p.out_w, ox = p0 % p.out_w;
        if (patch) {
          // Non-overlapping windows: always inside, a strided gather.
          for (size_t j = 0; j < np; ++j) {
            dst[j] = xc[(oy * p.kernel_h + ky) * p.in_w + ox * p.kernel_w + kx];
            if (++ox == p.out_w) {
              ox = 0;
              ++oy;
            }
          }
        } else {
          for (size_t j = 0; j < np; ++j) {
            // Unsigned wrap-around makes negative coordinates fail the < test.
            const size_t iy = oy * p.stride_h + ky * p.dilation_h - p.pad_top;
            const size_t ix = ox * p.stride_w + kx * p.dilation_w - p.pad_left;
            dst[j] = (iy < p.in_h && ix < p.in_w) ? xc[iy * p.in_w + ix] : 0.f;
            if (++ox == p.out_w) {
              ox = 0;
              ++oy;
            }
          }
        }
        for (size_t j = np; j < t.nr; ++j) dst[j] = 0.f;
      }
    }
  }
  float* ones = out + t.kg * t.nr;
  for (size_t j = 0; j < t.nr; ++j) ones[j] = 1.f;
}

}  // namespace

void f32_conv2d(const F32GemmConfig& cfg, const F32Conv2dParams& p, const float* x,
                const float* packed_w, float* y, float* scratch, pthreadpool_t pool) {
  const size_t kg = GroupK(p);
  const size_t cg = p.in_c / p.groups, og = p.out_c / p.groups;
  const size_t pixels = p.out_h * p.out_w;
  const size_t panels = (pixels + cfg.nr - 1) / cfg.nr;
  for (size_t b = 0; b < p.batch; ++b) {
    for (size_t g = 0; g < p.groups; ++g) {
      Im2ColTask t = {&p, x + (b * p.in_c + g * cg) * p.in_h * p.in_w, scratch, cfg.nr, kg,
                      pixels};
      if (pool != nullptr && pthreadpool_get_threads_count(pool) > 1) {
        pthreadpool_parallelize_1d(pool, Im2ColPanel, &t, panels, 0);
      } else {
        for (size_t i = 0; i < panels; ++i) Im2ColPanel(&t, i);
      }
      // Rows = output channels of the group (the weights, read in place),
      // columns = pixels (the packed col): y lands in NCHW order.
      f32_gemm_packed(cfg, og, pixels, kg + 1, packed_w + g * og * (kg + 1), kg + 1, scratch,
                      nullptr, y + (b * p.out_c + g * og) * pixels, pixels,
                      GemmActivation::kNone, pool);
    }
  }
}

void f32_conv2d_ref(const F32Conv2dParams& p, const float* x, const float* w, const float* bias,
                    float* y) {
  const size_t cg = p.in_c / p.groups, og = p.out_c / p.groups;
  for (size_t b = 0; b < p.batch; ++b) {
    for (size_t o = 0; o < p.out_c; ++o) {
      const size_t g = o / og;
      for (size_t oy = 0; oy < p.out_h; ++oy) {
        for (size_t ox = 0; ox < p.out_w; ++ox) {
          double s = bias != nullptr ? bias[o] : 0.0;
          for (size_t c = 0; c < cg; ++c) {
            for (size_t ky = 0; ky < p.kernel_h; ++ky) {
              for (size_t kx = 0; kx < p.kernel_w; ++kx) {
                const long iy = static_cast<long>(oy * p.stride_h + ky * p.dilation_h) -
                                static_cast<long>(p.pad_top);
                const long ix = static_cast<long>(ox * p.stride_w + kx * p.dilation_w) -
                                static_cast<long>(p.pad_left);
                if (iy < 0 || ix < 0 || iy >= static_cast<long>(p.in_h) ||
                    ix >= static_cast<long>(p.in_w)) {
                  continue;
                }
                const float xv = x[((b * p.in_c + g * cg + c) * p.in_h + iy) * p.in_w + ix];
                const float wv = w[((o * cg + c) * p.kernel_h + ky) * p.kernel_w + kx];
                s += static_cast<double>(xv) * wv;
              }
            }
          }
          y[((b * p.out_c + o) * p.out_h + oy) * p.out_w + ox] = static_cast<float>(s);
        }
      }
    }
  }
}

}  // namespace edge
