// Attention approximations on real activations: Q/K/V of the trained testbed
// video DiT (tests/data/testbed_qkv: first and last block, early and late
// step, one head each, 2048 tokens, head_dim 64). INT8 attention must stay
// within cosine 0.999 and relative L2 3e-2 of FP32 attention on each case;
// the sparse plans are reported next to it (their quality is judged on whole
// sampling runs, bench/quality/).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "ops/cpu_features.h"
#include "ops/f32_attention.h"
#include "ops/f32_attention_cluster.h"
#include "ops/kernel_config.h"
#include "ops/qs8_attention.h"

#ifndef EDGE_TEST_DATA_DIR
#error "EDGE_TEST_DATA_DIR must name tests/data"
#endif

namespace edge {
namespace {

float HalfToFloat(uint16_t h) {
  const uint32_t sign = (h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1F, man = h & 0x3FFu;
  uint32_t bits;
  if (exp == 0x1F) {
    bits = sign | 0x7F800000u | (man << 13);  // inf / NaN
  } else if (exp == 0) {
    if (man == 0) {
      bits = sign;
    } else {  // subnormal: normalize
      int e = -1;
      do {
        man <<= 1;
        ++e;
      } while ((man & 0x400u) == 0);
      bits = sign | static_cast<uint32_t>(127 - 15 - e) << 23 | ((man & 0x3FFu) << 13);
    }
  } else {
    bits = sign | (exp + 127 - 15) << 23 | (man << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// [3][2048][64] float16 (.npy v1, '<f2') -> q, k, v as float.
bool LoadCase(const std::string& name, std::vector<float>* qkv) {
  const std::string path = std::string(EDGE_TEST_DATA_DIR) + "/testbed_qkv/" + name + ".npy";
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return false;
  unsigned char pre[10];
  bool ok = std::fread(pre, 1, 10, f) == 10 && std::memcmp(pre, "\x93NUMPY", 6) == 0 && pre[6] == 1;
  const size_t hlen = ok ? pre[8] | (pre[9] << 8) : 0;
  std::string header(hlen, '\0');
  ok = ok && std::fread(&header[0], 1, hlen, f) == hlen && header.find("'<f2'") != std::string::npos &&
       header.find("(3, 2048, 64)") != std::string::npos;
  std::vector<uint16_t> raw(3 * 2048 * 64);
  ok = ok && std::fread(raw.data(), 2, raw.size(), f) == raw.size();
  std::fclose(f);
  if (!ok) return false;
  qkv->resize(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) (*qkv)[i] = HalfToFloat(raw[i]);
  return true;
}

void Compare(const std::vector<float>& got, const std::vector<float>& ref, double* rel_l2, double* cos) {
  double dd = 0, rr = 0, gg = 0, gr = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double d = double(got[i]) - ref[i];
    dd += d * d;
    rr += double(ref[i]) * ref[i];
    gg += double(got[i]) * got[i];
    gr += double(got[i]) * ref[i];
  }
  *rel_l2 = std::sqrt(dd / rr);
  *cos = gr / std::sqrt(gg * rr);
}

TEST(RealActivations, HalfToFloatIsExact) {
  EXPECT_EQ(HalfToFloat(0x3C00), 1.f);
  EXPECT_EQ(HalfToFloat(0xC000), -2.f);
  EXPECT_EQ(HalfToFloat(0x0001), std::ldexp(1.f, -24));  // smallest subnormal
  EXPECT_EQ(HalfToFloat(0x7BFF), 65504.f);
  EXPECT_TRUE(std::isinf(HalfToFloat(0x7C00)));
}

TEST(RealActivations, Int8AttentionWithinTargetOfFp32) {
  const CpuFeatures& cpu = DetectCpuFeatures();
  const F32AttentionKernel& f32 = *kernel_config().attention;
  const Qs8AttentionKernel& q8 = *kernel_config().qs8_attention;
  for (const char* name : {"L0_s2_h0", "L0_s17_h1", "L3_s2_h2", "L3_s17_h3"}) {
    std::vector<float> qkv;
    ASSERT_TRUE(LoadCase(name, &qkv)) << "missing or malformed " << name;
    const size_t n = 2048, dh = 64;
    F32AttentionParams p;
    p.nq = p.nk = n;
    p.head_dim = dh;
    p.scale = 0.125f;
    f32_attention_set_layout(&p, AttentionLayout::kBHSD);
    p.q = qkv.data();
    p.k = qkv.data() + n * dh;
    p.v = qkv.data() + 2 * n * dh;
    std::vector<float> ref(n * dh), got(n * dh);
    std::vector<uint8_t> scratch(std::max(f32_attention_scratch_bytes(f32, dh, 1),
                                          qs8_attention_scratch_bytes(q8, p, 1)) + 64);
    void* sa = reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(scratch.data()) + 63) / 64 * 64);
    p.out = ref.data();
    f32_attention(f32, p, sa, nullptr);
    p.out = got.data();
    qs8_attention(q8, p, sa, nullptr);
    double l2, cs;
    Compare(got, ref, &l2, &cs);
    std::printf("%s: %s vs FP32: rel L2 %.3e, cosine %.6f\n", name, q8.name, l2, cs);
    EXPECT_LE(l2, 3e-2) << name;
    EXPECT_GE(cs, 0.999) << name;
    // The cluster plan at its defaults, reported beside it.
    ClusterAttentionConfig cc;
    std::vector<uint8_t> state(f32_cluster_attention_state_bytes(p, cc) + 64, 0);
    void* st = reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(state.data()) + 63) / 64 * 64);
    ClusterAttentionStats stats;
    F32AttentionParams ps = p;
    f32_cluster_attention_plan(&ps, cc, st, nullptr, &stats);
    ps.out = got.data();
    f32_attention(f32, ps, sa, nullptr);
    Compare(got, ref, &l2, &cs);
    std::printf("%s: clusters (defaults) vs dense: %.0f%% exact pairs, rel L2 %.3e, cosine %.6f\n", name,
                100.0 * stats.exact_pairs / stats.total_pairs, l2, cs);
    EXPECT_GE(cs, 0.99) << name;  // a broken plan or compensation falls far below
  }
}

}  // namespace
}  // namespace edge
