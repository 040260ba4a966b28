// NVFP4 / E4M3 / int8 numerics against hand-computed values.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "ops/nvfp4.h"
#include "ops/quant_gemm.h"

namespace edge {
namespace {

TEST(QuantNvfp4, E2M1RoundsToNearestEven) {
  struct Case { float x; float want; };
  const Case cases[] = {
      {0.0f, 0.0f},   {0.1f, 0.0f},   {0.25f, 0.0f},  {0.2500001f, 0.5f}, {0.5f, 0.5f},
      {0.7499f, 0.5f}, {0.75f, 1.0f},  {1.0f, 1.0f},   {1.25f, 1.0f},  {1.2500001f, 1.5f},
      {1.5f, 1.5f},   {1.75f, 2.0f},  {1.7499f, 1.5f}, {2.0f, 2.0f},   {2.5f, 2.0f},
      {2.5000002f, 3.0f}, {3.0f, 3.0f}, {3.5f, 4.0f},  {3.4999f, 3.0f}, {4.0f, 4.0f},
      {5.0f, 4.0f},   {5.0000005f, 6.0f}, {6.0f, 6.0f}, {7.0f, 6.0f},  {1e30f, 6.0f},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(E2M1Decode(E2M1Encode(c.x)), c.want) << c.x;
    EXPECT_EQ(E2M1Decode(E2M1Encode(-c.x)), -c.want) << -c.x;
  }
  // Exact codes for the ties (even code wins).
  EXPECT_EQ(E2M1Encode(0.25f), 0);
  EXPECT_EQ(E2M1Encode(0.75f), 2);
  EXPECT_EQ(E2M1Encode(1.25f), 2);
  EXPECT_EQ(E2M1Encode(1.75f), 4);
  EXPECT_EQ(E2M1Encode(2.5f), 4);
  EXPECT_EQ(E2M1Encode(3.5f), 6);
  EXPECT_EQ(E2M1Encode(5.0f), 6);
  EXPECT_EQ(E2M1Encode(-6.0f), 15);
  EXPECT_EQ(E2M1Encode(-0.1f), 0);  // zero is always code 0
  for (int c = 0; c < 16; ++c) {
    EXPECT_EQ(2.0f * E2M1Decode(static_cast<uint8_t>(c)), static_cast<float>(kE2M1Times2[c]));
    if (c != 8) {
      EXPECT_EQ(E2M1Encode(E2M1Decode(static_cast<uint8_t>(c))), c);
    }
  }
}

TEST(QuantNvfp4, E4M3EncodeDecode) {
  EXPECT_EQ(E4M3Encode(0.0f), 0x00);
  EXPECT_EQ(E4M3Encode(1.0f), 0x38);  // e=7, m=0
  EXPECT_EQ(E4M3Decode(0x38), 1.0f);
  EXPECT_EQ(E4M3Encode(448.0f), 0x7E);
  EXPECT_EQ(E4M3Decode(0x7E), 448.0f);
  EXPECT_EQ(E4M3Encode(1000.0f), 0x7E);  // saturates
  EXPECT_EQ(E4M3Encode(std::numeric_limits<float>::infinity()), 0x7E);
  EXPECT_EQ(E4M3Encode(-448.0f), 0xFE);
  EXPECT_EQ(E4M3Encode(464.0f), 0x7E);   // tie between 448 and 480 (not representable)
  EXPECT_EQ(E4M3Encode(416.0f), 0x7D);   // 1.625 * 256
  EXPECT_EQ(E4M3Decode(0x7D), 416.0f);
  EXPECT_EQ(E4M3Encode(440.0f), 0x7E);   // tie 416 / 448 -> even m = 6
  EXPECT_TRUE(std::isnan(E4M3Decode(0x7F)));
  EXPECT_TRUE(std::isnan(E4M3Decode(0xFF)));
  EXPECT_EQ(E4M3Encode(std::nanf("")), 0x7F);
  // Subnormals: m * 2^-9.
  EXPECT_EQ(E4M3Decode(0x01), std::ldexp(1.0f, -9));
  EXPECT_EQ(E4M3Decode(0x07), 7 * std::ldexp(1.0f, -9));
  EXPECT_EQ(E4M3Encode(std::ldexp(1.0f, -9)), 0x01);
  EXPECT_EQ(E4M3Encode(std::ldexp(1.0f, -10)), 0x00);        // tie -> even (0)
  EXPECT_EQ(E4M3Encode(3 * std::ldexp(1.0f, -10)), 0x02);    // 1.5 * 2^-9 tie -> 2
  EXPECT_EQ(E4M3Encode(std::ldexp(1.0f, -11)), 0x00);
  EXPECT_EQ(E4M3Encode(7.5f * std::ldexp(1.0f, -9)), 0x08);  // rounds up into the normals
  EXPECT_EQ(E4M3Decode(0x08), std::ldexp(1.0f, -6));
  // Normal ties: 1 + 1/16 lies between 1 (m=0) and 1.125 (m=1) -> even m=0.
  EXPECT_EQ(E4M3Encode(1.0625f), 0x38);
  EXPECT_EQ(E4M3Encode(1.1875f), 0x3A);  // between 1.125 (m=1) and 1.25 (m=2) -> m=2
  EXPECT_EQ(E4M3Encode(1.9375f), 0x40);  // tie 1.875 / 2.0 -> 2.0 (m=0 of the next binade)
  // Every finite code round-trips.
  for (int c = 0; c < 256; ++c) {
    const float v = E4M3Decode(static_cast<uint8_t>(c));
    if (std::isnan(v)) continue;
    const uint8_t back = E4M3Encode(v);
    if (v == 0.0f) {
      EXPECT_EQ(back & 0x7F, 0);
    } else {
      EXPECT_EQ(back, c) << c;
    }
  }
}

TEST(QuantNvfp4, QuantizerHandComputed) {
  // One row of 20 with amax = 2688 -> g_enc = g_dec = 1 (exact arithmetic).
  // Block 0: amax_b = 2688 -> s_b = e4m3(448) = 448: unit 448.
  // Block 1 (k 16..19, short): amax_b = 3 -> s_b = e4m3(0.5) = 0.5.
  std::vector<float> w(20, 0.0f);
  w[0] = 2688.0f; w[1] = -336.0f; w[2] = 560.0f; w[3] = 89.6f; w[4] = -2240.0f; w[15] = 1120.0f;
  w[16] = 3.0f; w[17] = -0.25f; w[18] = 1.2f; w[19] = 0.125f;
  uint8_t codes[10], scales[2];
  float ts = 0;
  ASSERT_TRUE(Nvfp4Quantize(w.data(), 1, 20, 20, codes, scales, &ts));
  EXPECT_EQ(ts, 1.0f);
  EXPECT_EQ(scales[0], 0x7E);
  EXPECT_EQ(scales[1], 0x30);   // 0.5 = 2^-1: e = 6
  EXPECT_EQ(Nvfp4CodeAt(codes, 20, 0, 0), 7);   // 6
  EXPECT_EQ(Nvfp4CodeAt(codes, 20, 0, 1), 10);  // -0.75 -> -1 (tie to even)
  EXPECT_EQ(Nvfp4CodeAt(codes, 20, 0, 2), 2);   // 1.25 -> 1 (tie to even)
  EXPECT_EQ(Nvfp4CodeAt(codes, 20, 0, 3), 0);   // 0.2 -> 0
  EXPECT_EQ(Nvfp4CodeAt(codes, 20, 0, 4), 14);  // -5 -> -4 (tie to even)
  EXPECT_EQ(Nvfp4CodeAt(codes, 20, 0, 15), 4);  // 2.5 -> 2 (tie to even)
  EXPECT_EQ(Nvfp4CodeAt(codes, 20, 0, 16), 7);  // 6
  EXPECT_EQ(Nvfp4CodeAt(codes, 20, 0, 17), 9);  // -0.5
  EXPECT_EQ(Nvfp4CodeAt(codes, 20, 0, 18), 4);  // 2.4 -> 2
  EXPECT_EQ(Nvfp4CodeAt(codes, 20, 0, 19), 0);  // 0.25 -> 0 (tie to even)
  EXPECT_EQ(codes[0], 0xA7);                    // k=1 in the high nibble
  std::vector<float> back(20);
  Nvfp4Dequantize(codes, scales, ts, 1, 20, back.data(), 20);
  EXPECT_EQ(back[0], 2688.0f);
  EXPECT_EQ(back[1], -448.0f);
  EXPECT_EQ(back[16], 3.0f);
  EXPECT_EQ(back[18], 1.0f);
  EXPECT_EQ(back[19], 0.0f);
}

TEST(QuantNvfp4, ZerosTinyAndNonFinite) {
  std::vector<float> w(33, 0.0f);
  uint8_t codes[17], scales[3];
  float ts = 0;
  ASSERT_TRUE(Nvfp4Quantize(w.data(), 1, 33, 33, codes, scales, &ts));
  EXPECT_EQ(ts, 1.0f);  // amax = 0 -> g_enc = 1
  for (uint8_t c : codes) EXPECT_EQ(c, 0);
  for (uint8_t s : scales) EXPECT_EQ(s, 0);
  // A block far below the tensor's amax gets a subnormal or zero scale.
  w[0] = 1000.0f;
  w[16] = 1000.0f * 3e-5f;   // s_b = 448 * 3e-5 = 0.01344 -> subnormal e4m3
  w[32] = 1000.0f * 1e-7f;   // rounds to scale 0 -> code 0
  ASSERT_TRUE(Nvfp4Quantize(w.data(), 1, 33, 33, codes, scales, &ts));
  EXPECT_LT(scales[1], 0x08);
  EXPECT_GT(scales[1], 0x00);
  EXPECT_EQ(scales[2], 0x00);
  EXPECT_EQ(Nvfp4CodeAt(codes, 33, 0, 32), 0);
  std::vector<float> back(33);
  Nvfp4Dequantize(codes, scales, ts, 1, 33, back.data(), 33);
  EXPECT_NEAR(back[16], w[16], 0.2f * w[16]);
  w[5] = std::nanf("");
  EXPECT_FALSE(Nvfp4Quantize(w.data(), 1, 33, 33, codes, scales, &ts));
  w[5] = -std::numeric_limits<float>::infinity();
  EXPECT_FALSE(Nvfp4Quantize(w.data(), 1, 33, 33, codes, scales, &ts));
}

TEST(QuantInt8, PerChannelHandComputed) {
  const float w[2 * 4] = {127.0f, -63.5f, 0.5f, 1.5f, 0, 0, 0, 0};
  int8_t q[8];
  float s[2];
  ASSERT_TRUE(Qs8QuantizePerChannel(w, 2, 4, 4, q, s));
  EXPECT_EQ(s[0], 1.0f);
  EXPECT_EQ(q[0], 127);
  EXPECT_EQ(q[1], -64);  // -63.5 -> -64 (ties to even)
  EXPECT_EQ(q[2], 0);    // 0.5 -> 0
  EXPECT_EQ(q[3], 2);    // 1.5 -> 2
  EXPECT_EQ(s[1], 1.0f); // all-zero row
  for (int k = 4; k < 8; ++k) EXPECT_EQ(q[k], 0);
  const float bad[2] = {1.0f, std::numeric_limits<float>::infinity()};
  EXPECT_FALSE(Qs8QuantizePerChannel(bad, 1, 2, 2, q, s));
}

TEST(QuantInt8, ActivationQuantizerRef) {
  const float x[5] = {63.5f, -127.0f, 0.5f, 1.5f, 0.0f};  // amax 127: scale 1
  uint8_t q[16];
  float s;
  int32_t corr[1];
  QActFormat f;
  f.corr_mul = -12;
  QuantizeRowsRef(x, 5, 1, 5, 16, f, q, 16, &s, corr, 1);
  EXPECT_EQ(s, 1.0f);
  EXPECT_EQ(static_cast<int8_t>(q[0]), 64);  // 63.5 -> 64
  EXPECT_EQ(static_cast<int8_t>(q[1]), -127);
  EXPECT_EQ(static_cast<int8_t>(q[2]), 0);   // 0.5 -> 0
  EXPECT_EQ(static_cast<int8_t>(q[3]), 2);   // 1.5 -> 2
  for (int k = 4; k < 16; ++k) EXPECT_EQ(q[k], 0);
  EXPECT_EQ(corr[0], -12 * (64 - 127 + 2));
  f.xor_mask = 0x80;
  QuantizeRowsRef(x, 5, 1, 5, 16, f, q, 16, &s, corr, 1);
  EXPECT_EQ(q[0], 192);
  EXPECT_EQ(q[4], 128);
}

}  // namespace
}  // namespace edge
