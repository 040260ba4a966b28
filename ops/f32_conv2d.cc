#include "ops/f32_conv2d.h"

#include <algorithm>
#include <cstring>

#include "ops/conv2d_chunks.h"
#include "ops/slot_units.h"

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

namespace {

// Output pixels per im2col chunk (ops/conv2d_chunks.h). A whole number of
// panels: panels then start at the same pixels for any chunking, and each
// output is one microkernel sum over all of K, so results do not depend on
// the chunking or the thread count.
size_t ChunkPixels(const F32GemmConfig& cfg, const F32Conv2dParams& p, size_t threads) {
  return Conv2dChunkPixels((GroupK(p) + 1) * sizeof(float), cfg.nr, p.out_h * p.out_w, threads);
}

}  // namespace

size_t f32_conv2d_scratch_floats(const F32GemmConfig& cfg, const F32Conv2dParams& p, size_t threads) {
  return Conv2dSlots(threads) * f32_gemm_packed_floats(ChunkPixels(cfg, p, threads), GroupK(p) + 1, cfg.nr);
}

namespace {

struct Im2ColTask {
  const F32Conv2dParams* p;
  const float* x;  // first channel of the group, this image
  float* col;      // the chunk's packed columns
  size_t nr, kg, pixels, first;  // first: the chunk's first output pixel
};

// dst[0, n) = the input row iy of channel plane xc at columns
// ix0 + t * stride_w, t < n (0 outside the image). Unit stride: one copy
// between zero edges.
void GatherRow(const F32Conv2dParams& p, const float* xc, long iy, long ix0, size_t n, float* dst) {
  const long w = static_cast<long>(p.in_w);
  if (iy < 0 || iy >= static_cast<long>(p.in_h)) {
    std::memset(dst, 0, n * sizeof(float));
    return;
  }
  const float* row = xc + iy * w;
  if (p.stride_w == 1) {
    // Runs are short (a panel is 4 to 32 pixels): plain loops, not calls.
    const long lo = std::min<long>(std::max<long>(-ix0, 0), static_cast<long>(n));
    const long hi = std::max<long>(std::min<long>(w - ix0, static_cast<long>(n)), lo);
    for (long t = 0; t < lo; ++t) dst[t] = 0.f;
    for (long t = lo; t < hi; ++t) dst[t] = row[ix0 + t];
    for (long t = hi; t < static_cast<long>(n); ++t) dst[t] = 0.f;
    return;
  }
  for (size_t t = 0; t < n; ++t) {
    const long ix = ix0 + static_cast<long>(t * p.stride_w);
    dst[t] = ix >= 0 && ix < w ? row[ix] : 0.f;
  }
}

// dst[0, nr) = src[0, nr): fixed sizes for the GEMM panel widths, so the
// copy compiles to a few vector moves instead of a call.
inline void CopyPanelRow(float* dst, const float* src, size_t nr) {
  switch (nr) {
    case 4: std::memcpy(dst, src, 4 * sizeof(float)); break;
    case 16: std::memcpy(dst, src, 16 * sizeof(float)); break;
    case 32: std::memcpy(dst, src, 32 * sizeof(float)); break;
    default: std::memcpy(dst, src, nr * sizeof(float)); break;
  }
}

// One panel of nr output pixels: for each k = (c, ky, kx), the nr input
// values that pixel window position touches (0 outside the image), then the
// row of ones for the bias. Runs of pixels within one output row read one
// input row (GatherRow).
void Im2ColPanel(void* ctx, size_t panel) {
  const Im2ColTask& t = *static_cast<const Im2ColTask*>(ctx);
  const F32Conv2dParams& p = *t.p;
  const size_t p0 = t.first + panel * t.nr;
  const size_t np = std::min(t.nr, t.pixels - p0);
  float* out = t.col + panel * t.nr * (t.kg + 1);
  const bool patch = f32_conv2d_is_patchify(p);
  if (patch && p.kernel_h == 1 && p.kernel_w == 1) {
    // Pointwise (1x1, stride 1): the panel's pixels are contiguous in every
    // channel plane, so each k row is one straight copy.
    for (size_t c = 0; c < t.kg; ++c) {
      const float* src = t.x + c * p.in_h * p.in_w + p0;
      float* dst = out + c * t.nr;
      for (size_t j = 0; j < np; ++j) dst[j] = src[j];
      for (size_t j = np; j < t.nr; ++j) dst[j] = 0.f;
    }
    for (size_t j = 0; j < t.nr; ++j) out[t.kg * t.nr + j] = 1.f;
    return;
  }
  // Where the panel starts (divisions once per panel, not per k), and
  // whether it lies in one output row: then a window position inside the
  // image is one copy of nr values (the common case).
  const size_t oy0 = p0 / p.out_w, ox0 = p0 % p.out_w;
  const bool full_row_run = !patch && np == t.nr && ox0 + np <= p.out_w && p.stride_w == 1;
  size_t k = 0;
  for (size_t c = 0; c < p.in_c / p.groups; ++c) {
    const float* xc = t.x + c * p.in_h * p.in_w;
    for (size_t ky = 0; ky < p.kernel_h; ++ky) {
      for (size_t kx = 0; kx < p.kernel_w; ++kx, ++k) {
        float* dst = out + k * t.nr;
        size_t oy = oy0, ox = ox0;
        if (full_row_run) {
          const long iy = static_cast<long>(oy * p.stride_h + ky * p.dilation_h) - static_cast<long>(p.pad_top);
          const long ix = static_cast<long>(ox + kx * p.dilation_w) - static_cast<long>(p.pad_left);
          if (iy >= 0 && iy < static_cast<long>(p.in_h) && ix >= 0 && ix + static_cast<long>(t.nr) <= static_cast<long>(p.in_w)) {
            CopyPanelRow(dst, xc + iy * static_cast<long>(p.in_w) + ix, t.nr);
          } else {
            GatherRow(p, xc, iy, ix, np, dst);
          }
          continue;
        }
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
          for (size_t j = 0; j < np;) {
            const size_t run = std::min(np - j, p.out_w - ox);
            const long iy = static_cast<long>(oy * p.stride_h + ky * p.dilation_h) - static_cast<long>(p.pad_top);
            const long ix = static_cast<long>(ox * p.stride_w + kx * p.dilation_w) - static_cast<long>(p.pad_left);
            GatherRow(p, xc, iy, ix, run, dst + j);
            j += run;
            ox = 0;
            ++oy;
          }
        }
        for (size_t j = np; j < t.nr; ++j) dst[j] = 0.f;
      }
    }
  }
  float* ones = out + t.kg * t.nr;
  for (size_t j = 0; j < t.nr; ++j) ones[j] = 1.f;
}


// The work of one f32_conv2d call: units = (image, group, chunk).
struct ConvRun {
  const F32GemmConfig* cfg;
  const F32Conv2dParams* p;
  const float* x;
  const float* w;
  float* y;
  float* scratch;
  size_t slot_floats, chunk, chunks;
};

void RunUnit(void* ctx, size_t slot, size_t u) {
  const ConvRun& r = *static_cast<const ConvRun*>(ctx);
  const F32Conv2dParams& p = *r.p;
  const size_t kg = GroupK(p), cg = p.in_c / p.groups, og = p.out_c / p.groups;
  const size_t pixels = p.out_h * p.out_w, nr = r.cfg->nr;
  float* col = r.scratch + slot * r.slot_floats;
  const Conv2dUnit un = Conv2dUnitAt(u, p.groups, r.chunk, r.chunks, pixels);
  const size_t b = un.image, g = un.group, first = un.first, n = un.pixels;
  Im2ColTask t = {&p, r.x + (b * p.in_c + g * cg) * p.in_h * p.in_w, col, nr, kg, pixels, first};
  for (size_t i = 0; i < (n + nr - 1) / nr; ++i) Im2ColPanel(&t, i);
  // Rows = output channels of the group (the weights, read in place),
  // columns = the chunk's pixels: y lands in NCHW order.
  f32_gemm_packed(*r.cfg, og, n, kg + 1, r.w + g * og * (kg + 1), kg + 1, col, nullptr,
                  r.y + (b * p.out_c + g * og) * pixels + first, pixels, GemmActivation::kNone, nullptr);
}

}  // namespace

void f32_conv2d(const F32GemmConfig& cfg, const F32Conv2dParams& p, size_t threads, const float* x,
                const float* packed_w, float* y, float* scratch, pthreadpool_t pool) {
  const size_t pixels = p.out_h * p.out_w;
  if (pixels == 0 || p.out_c == 0) return;
  ConvRun r;
  r.cfg = &cfg;
  r.p = &p;
  r.x = x;
  r.w = packed_w;
  r.y = y;
  r.scratch = scratch;
  r.chunk = ChunkPixels(cfg, p, threads);
  r.slot_floats = f32_gemm_packed_floats(r.chunk, GroupK(p) + 1, cfg.nr);
  r.chunks = (pixels + r.chunk - 1) / r.chunk;
  ForEachUnitInSlots(p.batch * p.groups * r.chunks, Conv2dSlots(threads), RunUnit, &r, pool);
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
