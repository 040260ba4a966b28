#include "runtime/noise.h"

#include <cmath>

namespace edge {
namespace {

constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;

inline void MulHiLo(uint32_t a, uint32_t b, uint32_t* hi, uint32_t* lo) {
  const uint64_t p = uint64_t(a) * b;
  *hi = uint32_t(p >> 32);
  *lo = uint32_t(p);
}

// Uniform in (0, 1): never 0, so log() is finite.
inline double Uniform(uint32_t x) { return (double(x) + 0.5) * (1.0 / 4294967296.0); }

}  // namespace

void Philox4x32(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4]) {
  uint32_t c0 = counter[0], c1 = counter[1], c2 = counter[2], c3 = counter[3];
  uint32_t k0 = key[0], k1 = key[1];
  for (int r = 0; r < 10; ++r) {
    if (r > 0) {
      k0 += kW0;
      k1 += kW1;
    }
    uint32_t hi0, lo0, hi1, lo1;
    MulHiLo(kM0, c0, &hi0, &lo0);
    MulHiLo(kM1, c2, &hi1, &lo1);
    const uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
    c0 = n0; c1 = n1; c2 = n2; c3 = n3;
  }
  out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

void GaussianNoise(uint64_t seed, uint64_t stream, float* out, size_t n) {
  const uint32_t key[2] = {uint32_t(seed), uint32_t(seed >> 32)};
  const double two_pi = 6.283185307179586476925286766559;
  for (size_t base = 0; base < n; base += 4) {
    const uint64_t block = base / 4;
    const uint32_t ctr[4] = {uint32_t(block), uint32_t(block >> 32), uint32_t(stream),
                             uint32_t(stream >> 32)};
    uint32_t r[4];
    Philox4x32(ctr, key, r);
    double z[4];
    for (int p = 0; p < 2; ++p) {
      const double radius = std::sqrt(-2.0 * std::log(Uniform(r[2 * p])));
      const double angle = two_pi * Uniform(r[2 * p + 1]);
      z[2 * p] = radius * std::cos(angle);
      z[2 * p + 1] = radius * std::sin(angle);
    }
    for (size_t j = 0; j < 4 && base + j < n; ++j) out[base + j] = static_cast<float>(z[j]);
  }
}

}  // namespace edge
