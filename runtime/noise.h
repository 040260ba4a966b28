// Seeded Gaussian noise from a counter-based generator (Philox4x32-10), so the
// same (seed, stream) gives the same numbers on every platform and in every
// batch layout: sample k of a generation always uses stream k.
//
// Layout: element j of a stream comes from Philox block j/4 with counter
// (j/4 low, j/4 high, stream low, stream high) and key (seed low, seed high);
// each block's four 32-bit words give two Box-Muller pairs, computed in double
// and rounded to float. tests/python/edge_noise.py is an independent copy.
#pragma once

#include <cstddef>
#include <cstdint>

namespace edge {

void Philox4x32(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4]);
void GaussianNoise(uint64_t seed, uint64_t stream, float* out, size_t n);

}  // namespace edge
