// Nearest upsampling of x[outer, H, W] by integer factors on the last two
// axes: y[o, i, j] = x[o, i / fh, j / fw] (what a VAE decoder's
// Upsample2D / ONNX Resize nearest with integer scales computes).
// One portable implementation: the op only moves data, so it runs at memory
// speed without ISA-specific code (the widening loop vectorizes as written).
#pragma once

#include <cstddef>

#include <pthreadpool.h>

namespace edge {

struct F32UpsampleParams {
  size_t outer = 0, in_h = 0, in_w = 0, factor_h = 1, factor_w = 1;
};

void f32_upsample_nearest(const F32UpsampleParams& p, const float* x, float* y, pthreadpool_t pool);

}  // namespace edge
