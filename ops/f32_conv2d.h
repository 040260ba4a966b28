// F32 Conv2d, NCHW, with stride, padding, dilation and groups, as a GEMM per
// (image, group): y[Og, P] = Wb[Og, Kg+1] . col[Kg+1, P] where P = out_h*out_w
// pixels, Kg = (C/groups)*kh*kw, and the extra row of ones in `col` meets the
// bias column appended to the weights (so the bias costs nothing extra).
// col is written by im2col straight into the GEMM's packed panel layout, one
// chunk of output pixels at a time per thread (so it stays in cache), and y
// lands in NCHW order with no transpose. When stride == kernel with no
// padding or dilation (PatchEmbed), patches do not overlap: the packing is a
// plain gather that reads every input value once.
#pragma once

#include <cstddef>

#include <pthreadpool.h>

#include "ops/f32_gemm.h"

namespace edge {

struct F32Conv2dParams {
  size_t batch = 1, in_c = 0, in_h = 0, in_w = 0;
  size_t out_c = 0, out_h = 0, out_w = 0;
  size_t kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1;
  size_t pad_top = 0, pad_left = 0;  // bottom/right padding is implied by out_h/out_w
  size_t dilation_h = 1, dilation_w = 1, groups = 1;
};

// Output extent for one axis; 0 if the window does not fit.
size_t f32_conv2d_out_size(size_t in, size_t kernel, size_t stride, size_t pad_begin,
                           size_t pad_end, size_t dilation);
bool f32_conv2d_is_patchify(const F32Conv2dParams& p);

// Weights with the bias column appended: [groups][Og][Kg+1].
size_t f32_conv2d_packed_weight_floats(const F32Conv2dParams& p);
void f32_conv2d_pack_weights(const F32Conv2dParams& p, const float* w, const float* bias,
                             float* packed);
// Scratch for `threads` threads: per thread, the packed columns of one chunk
// of output pixels (at most about 2 MB), not of the whole image.
size_t f32_conv2d_scratch_floats(const F32GemmConfig& cfg, const F32Conv2dParams& p, size_t threads);

// `threads`: what the scratch was sized for (uses at most that many of the
// pool's threads). Results are the same bits for any thread count.
void f32_conv2d(const F32GemmConfig& cfg, const F32Conv2dParams& p, size_t threads, const float* x,
                const float* packed_w, float* y, float* scratch, pthreadpool_t pool);

// Reference: direct loops, accumulation in double. bias may be null.
void f32_conv2d_ref(const F32Conv2dParams& p, const float* x, const float* w, const float* bias,
                    float* y);

}  // namespace edge
