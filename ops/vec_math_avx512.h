// The AVX-512 (F/BW/VL/DQ) vector type of the elementwise kernels
// (ops/*_simd.h) and the vector math (ops/vec_math_impl.h): f32_vec.h's
// VecAvx512. Include only from *__avx512.cc files.
#pragma once

#include <immintrin.h>

#include "ops/f32_vec.h"

namespace edge {
namespace avx512 {
using V = VecAvx512;
}  // namespace avx512
}  // namespace edge

#include "ops/vec_math_impl.h"
