#include "ops/kernel_config.h"
#include "ops/qs8_conv2d.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <vector>

#include "ops/conv2d_chunks.h"
#include "ops/slot_units.h"

namespace edge {
namespace {

size_t GroupK(const F32Conv2dParams& p) { return p.in_c / p.groups * p.kernel_h * p.kernel_w; }
size_t GroupOut(const F32Conv2dParams& p) { return p.out_c / p.groups; }
size_t Align64(size_t bytes) { return RoundUp(bytes, 64); }

// Byte offsets of the four arrays of Qs8Conv2dWeights in its buffer.
struct WeightLayout {
  size_t panel_bytes, np, scale_off, corr_off, bias_off, total;
};

WeightLayout WeightLayoutOf(const F32Conv2dParams& p) {
  WeightLayout l;
  l.panel_bytes = Align64(Qs8PackedBytes(GroupOut(p), GroupK(p)));
  l.np = RoundUp(GroupOut(p), 16);
  const size_t per_channel = Align64(p.groups * l.np * 4);
  l.scale_off = p.groups * l.panel_bytes;
  l.corr_off = l.scale_off + per_channel;
  l.bias_off = l.corr_off + per_channel;
  l.total = l.bias_off + per_channel;
  return l;
}

}  // namespace

size_t qs8_conv2d_weight_bytes(const F32Conv2dParams& p) { return WeightLayoutOf(p).total; }

void qs8_conv2d_pack_weights(const F32Conv2dParams& p, const int8_t* q, const float* scale,
                             const float* bias, void* buffer, Qs8Conv2dWeights* out) {
  const WeightLayout l = WeightLayoutOf(p);
  const size_t og = GroupOut(p), kg = GroupK(p);
  uint8_t* base = static_cast<uint8_t*>(buffer);
  std::memset(base, 0, l.total);
  float* s = reinterpret_cast<float*>(base + l.scale_off);
  int32_t* corr = reinterpret_cast<int32_t*>(base + l.corr_off);
  float* b = reinterpret_cast<float*>(base + l.bias_off);
  for (size_t g = 0; g < p.groups; ++g) {
    uint8_t* panels = base + g * l.panel_bytes;
    Qs8PackN16K4(q + g * og * kg, og, kg, panels);
    Qs8ColumnCorrection(panels, og, kg, corr + g * l.np);
    std::memcpy(s + g * l.np, scale + g * og, og * sizeof(float));
    if (bias != nullptr) std::memcpy(b + g * l.np, bias + g * og, og * sizeof(float));
  }
  out->panels = base;
  out->scale = s;
  out->corr = corr;
  out->bias = b;
  out->panel_bytes = l.panel_bytes;
  out->np = l.np;
}

namespace {

// One slot of the scratch: the chunk's im2col rows, the GEMM's quantized
// rows, and its [pixels, Og] result before the NCHW write.
struct SlotLayout {
  size_t chunk, col_off, gemm_off, tile_off, total;
};

SlotLayout SlotLayoutOf(const QGemmKernel& kernel, const F32Conv2dParams& p, size_t threads) {
  const size_t kg = GroupK(p), og = GroupOut(p);
  const size_t gemm_per_pixel = QGemmScratchBytes(kernel, 1, kg);
  SlotLayout l;
  l.chunk = Conv2dChunkPixels((kg + og) * sizeof(float) + gemm_per_pixel, kernel.mr, p.out_h * p.out_w,
                              threads);
  l.col_off = 0;
  l.gemm_off = Align64(l.chunk * kg * sizeof(float));
  l.tile_off = l.gemm_off + Align64(QGemmScratchBytes(kernel, l.chunk, kg));
  l.total = l.tile_off + Align64(l.chunk * og * sizeof(float));
  return l;
}

// dst[0, kw) = line[ix0 + kx * dw], 0 outside [0, in_w).
inline void WindowCols(const float* line, long ix0, long kw, long dw, long in_w, float* dst) {
  if (ix0 >= 0 && ix0 + (kw - 1) * dw < in_w) {
    // Inside the image (the common case): the 3-wide and 1-wide unit-
    // dilation windows of decoders as fixed copies, not a loop.
    if (dw == 1 && kw == 3) {
      dst[0] = line[ix0];
      dst[1] = line[ix0 + 1];
      dst[2] = line[ix0 + 2];
      return;
    }
    for (long kx = 0; kx < kw; ++kx) dst[kx] = line[ix0 + kx * dw];
    return;
  }
  for (long kx = 0; kx < kw; ++kx) {
    const long ix = ix0 + kx * dw;
    dst[kx] = ix >= 0 && ix < in_w ? line[ix] : 0.f;
  }
}

// The im2col rows of n output pixels (oy, ox0 + i) of one output row: row i
// (kg floats at col + i * kg) is the window over the group's channels
// starting at xg, in (c, ky, kx) order, 0 outside the image. The input row
// of each (c, ky) is found once for all n pixels.
void WindowRows(const F32Conv2dParams& p, const float* xg, size_t oy, size_t ox0, size_t n, size_t kg,
                float* col) {
  const long in_h = static_cast<long>(p.in_h), in_w = static_cast<long>(p.in_w);
  const long kw = static_cast<long>(p.kernel_w), dw = static_cast<long>(p.dilation_w);
  const long sw = static_cast<long>(p.stride_w), pl = static_cast<long>(p.pad_left);
  const long iy0 = static_cast<long>(oy * p.stride_h) - static_cast<long>(p.pad_top);
  for (size_t c = 0; c < p.in_c / p.groups; ++c) {
    const float* plane = xg + c * p.in_h * p.in_w;
    for (size_t ky = 0; ky < p.kernel_h; ++ky) {
      float* dst = col + (c * p.kernel_h + ky) * p.kernel_w;
      const long iy = iy0 + static_cast<long>(ky * p.dilation_h);
      if (iy < 0 || iy >= in_h) {
        for (size_t i = 0; i < n; ++i) std::fill(dst + i * kg, dst + i * kg + kw, 0.f);
        continue;
      }
      const float* line = plane + iy * in_w;
      long ix0 = static_cast<long>(ox0) * sw - pl;
      for (size_t i = 0; i < n; ++i, ix0 += sw) WindowCols(line, ix0, kw, dw, in_w, dst + i * kg);
    }
  }
}

// y[o * pixels + i] = t[i * og + o] for the chunk's n pixels: the GEMM's
// pixel-major result into the NCHW planes of the group's channels.
void StoreNchw(const float* t, size_t n, size_t og, size_t pixels, float* y) {
  for (size_t o = 0; o < og; ++o) {
    float* dst = y + o * pixels;
    for (size_t i = 0; i < n; ++i) dst[i] = t[i * og + o];
  }
}

// The work of one qs8_conv2d call: units = (image, group, chunk).
struct ConvRun {
  const QGemmKernel* kernel;
  const F32Conv2dParams* p;
  const float* x;
  const Qs8Conv2dWeights* w;
  float* y;
  uint8_t* scratch;
  SlotLayout slot;
  size_t chunks;
};

void RunUnit(void* ctx, size_t slot, size_t u) {
  const ConvRun& r = *static_cast<const ConvRun*>(ctx);
  const F32Conv2dParams& p = *r.p;
  const size_t kg = GroupK(p), og = GroupOut(p), cg = p.in_c / p.groups;
  const size_t pixels = p.out_h * p.out_w;
  const Conv2dUnit un = Conv2dUnitAt(u, p.groups, r.slot.chunk, r.chunks, pixels);
  const size_t b = un.image, g = un.group, first = un.first, n = un.pixels;
  uint8_t* base = r.scratch + slot * r.slot.total;
  float* col = reinterpret_cast<float*>(base + r.slot.col_off);
  float* tile = reinterpret_cast<float*>(base + r.slot.tile_off);
  const float* xg = r.x + (b * p.in_c + g * cg) * p.in_h * p.in_w;
  // One call per output row the chunk touches.
  for (size_t i = 0; i < n;) {
    const size_t oy = (first + i) / p.out_w, ox = (first + i) % p.out_w, run = std::min(n - i, p.out_w - ox);
    WindowRows(p, xg, oy, ox, run, kg, col + i * kg);
    i += run;
  }
  QGemmArgs a;
  a.M = n;
  a.N = og;
  a.K = kg;
  a.w = r.w->panels + g * r.w->panel_bytes;
  a.w_scale = r.w->scale + g * r.w->np;
  a.w_corr = r.w->corr + g * r.w->np;
  a.bias = r.w->bias + g * r.w->np;
  a.y = tile;
  a.ldy = og;
  // One thread per unit: the slots are the parallelism.
  QGemmRun(*r.kernel, col, kg, a, base + r.slot.gemm_off, nullptr);
  StoreNchw(tile, n, og, pixels, r.y + (b * p.out_c + g * og) * pixels + first);
}

}  // namespace

size_t qs8_conv2d_scratch_bytes(const QGemmKernel& kernel, const F32Conv2dParams& p, size_t threads) {
  return Conv2dSlots(threads) * SlotLayoutOf(kernel, p, threads).total;
}

void qs8_conv2d(const QGemmKernel& kernel, const F32Conv2dParams& p, size_t threads, const float* x,
                const Qs8Conv2dWeights& w, float* y, void* scratch, pthreadpool_t pool) {
  const size_t pixels = p.out_h * p.out_w;
  if (pixels == 0 || p.out_c == 0) return;
  ConvRun r;
  r.kernel = &kernel;
  r.p = &p;
  r.x = x;
  r.w = &w;
  r.y = y;
  r.scratch = static_cast<uint8_t*>(scratch);
  r.slot = SlotLayoutOf(kernel, p, threads);
  r.chunks = (pixels + r.slot.chunk - 1) / r.slot.chunk;
  ForEachUnitInSlots(p.batch * p.groups * r.chunks, Conv2dSlots(threads), RunUnit, &r, pool);
}

namespace {

// Conv names of every GEMM variant of this build, made once from the GEMM
// names ("qs8_gemm_" + rest -> "qs8_conv2d_{im2col,patchify}_gemm_" + rest).
struct ConvNames {
  static constexpr size_t kMaxVariants = 16;
  const QGemmKernel* kernel[kMaxVariants] = {};
  char name[kMaxVariants][2][80] = {};
  size_t count = 0;
};

ConvNames MakeConvNames() {
  ConvNames t;
  const QGemmKernel* const* list = nullptr;
  const size_t n = std::min(Qs8GemmVariants(&list), ConvNames::kMaxVariants);
  const size_t prefix = std::strlen("qs8_gemm_");
  for (size_t i = 0; i < n; ++i) {
    const char* rest = list[i]->name + std::min(prefix, std::strlen(list[i]->name));
    t.kernel[i] = list[i];
    std::snprintf(t.name[i][0], sizeof t.name[i][0], "qs8_conv2d_im2col_gemm_%s", rest);
    std::snprintf(t.name[i][1], sizeof t.name[i][1], "qs8_conv2d_patchify_gemm_%s", rest);
  }
  t.count = n;
  return t;
}

}  // namespace

const char* qs8_conv2d_kernel_name(const QGemmKernel& kernel, bool patchify) {
  static const ConvNames names = MakeConvNames();
  for (size_t i = 0; i < names.count; ++i) {
    if (names.kernel[i] == &kernel) return names.name[i][patchify ? 1 : 0];
  }
  return patchify ? "qs8_conv2d_patchify_gemm" : "qs8_conv2d_im2col_gemm";
}

void qs8_conv2d_ref(const F32Conv2dParams& p, const float* x, const int8_t* q, const float* scale,
                    const float* bias, float* y) {
  const size_t cg = p.in_c / p.groups, og = GroupOut(p), kg = GroupK(p);
  std::vector<float> window(kg);
  std::vector<uint8_t> qa(kg + 1);
  for (size_t b = 0; b < p.batch; ++b) {
    for (size_t g = 0; g < p.groups; ++g) {
      for (size_t oy = 0; oy < p.out_h; ++oy) {
        for (size_t ox = 0; ox < p.out_w; ++ox) {
          size_t k = 0;
          for (size_t c = 0; c < cg; ++c) {
            for (size_t ky = 0; ky < p.kernel_h; ++ky) {
              for (size_t kx = 0; kx < p.kernel_w; ++kx, ++k) {
                const long iy = static_cast<long>(oy * p.stride_h + ky * p.dilation_h) - static_cast<long>(p.pad_top);
                const long ix = static_cast<long>(ox * p.stride_w + kx * p.dilation_w) - static_cast<long>(p.pad_left);
                const bool inside = iy >= 0 && ix >= 0 && iy < static_cast<long>(p.in_h) && ix < static_cast<long>(p.in_w);
                window[k] = inside ? x[((b * p.in_c + g * cg + c) * p.in_h + iy) * p.in_w + ix] : 0.f;
              }
            }
          }
          float sa = 0.f;
          QuantizeRowsRef(window.data(), kg, 1, kg, kg, QActFormat(), qa.data(), kg + 1, &sa, nullptr, 0);
          for (size_t o = g * og; o < (g + 1) * og; ++o) {
            double s = bias != nullptr ? bias[o] : 0.0;
            for (size_t j = 0; j < kg; ++j) {
              const double a = static_cast<double>(static_cast<int8_t>(qa[j])) * sa;
              s += a * (static_cast<double>(q[o * kg + j]) * scale[o]);
            }
            y[((b * p.out_c + o) * p.out_h + oy) * p.out_w + ox] = static_cast<float>(s);
          }
        }
      }
    }
  }
}

}  // namespace edge
