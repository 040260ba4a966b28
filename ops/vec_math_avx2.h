// The AVX2+FMA vector type of the elementwise kernels (ops/*_simd.h) and the
// vector math (ops/vec_math_impl.h): f32_vec.h's VecAvx2, the one AVX2 type
// of every kernel family. Include only from *__avx2.cc files.
#pragma once

#include <immintrin.h>

#include "ops/f32_vec.h"

namespace edge {
namespace avx2 {
using V = VecAvx2;
}  // namespace avx2
}  // namespace edge

#include "ops/vec_math_impl.h"
