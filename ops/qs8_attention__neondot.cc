// AArch64 NEON dotprod INT8 attention tile: Q.K^T on sdot (16 multiply-adds
// per instruction on int8 quads, 4x an FP32 fmla), P.V on smlal by lane
// (int16 P x int16-stored INT8 V, 4 multiply-adds per instruction, as fmla).
// 4 query rows x 16 keys per S block (16 int32x4 accumulators) and 4 rows x
// 16 channels per P.V block.
#include <arm_neon.h>

#include "ops/qs8_attention.h"
#include "ops/qs8_attention_tile.h"

namespace edge {

namespace {

struct QVecNeonDot : VecNeon {
  using KE = int8_t;
  static constexpr int kKG = 4, kVG = 1;
  static constexpr bool kTransposeK8 = false;  // gathers K key by key
  // P.V over 8 keys at a time: P of a row in one int16x8 register.
  static constexpr int kPLanes = 8;
  using PL = int16x8_t;
  static PL pload_lanes(const int16_t* p) { return vld1q_s16(p); }
  template <int MR, int NV, int L>
  static inline void lane(int32x4_t (&acc)[MR][NV], const PL* pl, const int16_t* vrow) {
    int16x4_t b[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) b[v] = vld1_s16(vrow + v * 4);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[i][v] = vmlal_laneq_s16(acc[i][v], b[v], pl[i], L);
  }
  template <int MR, int NV>
  static inline void madd_pv_lanes(int32x4_t (&acc)[MR][NV], const PL* pl, const int16_t* vt, size_t cp) {
    lane<MR, NV, 0>(acc, pl, vt);
    lane<MR, NV, 1>(acc, pl, vt + cp);
    lane<MR, NV, 2>(acc, pl, vt + 2 * cp);
    lane<MR, NV, 3>(acc, pl, vt + 3 * cp);
    lane<MR, NV, 4>(acc, pl, vt + 4 * cp);
    lane<MR, NV, 5>(acc, pl, vt + 5 * cp);
    lane<MR, NV, 6>(acc, pl, vt + 6 * cp);
    lane<MR, NV, 7>(acc, pl, vt + 7 * cp);
  }
  using A = int32x4_t;
  using PK = int8x16_t;  // 4 keys x 4 channels, or one Q quad broadcast
  using PV = int16x4_t;  // 4 channels of one key
  using PP = int16_t;    // one P value
  static A izero() { return vdupq_n_s32(0); }
  static PK pload_k(const KE* p) { return vld1q_s8(p); }
  static PK pbcast_q(const KE* p) {
    int32_t w;
    std::memcpy(&w, p, sizeof(w));
    return vreinterpretq_s8_s32(vdupq_n_s32(w));
  }
  static A madd_qk(A acc, PK a, PK b) { return vdotq_s32(acc, b, a); }
  static PV pload_v(const int16_t* p) { return vld1_s16(p); }
  static PP pbcast_p(const int16_t* p) { return *p; }
  static A madd_pv(A acc, PP a, PV b) { return vmlal_n_s16(acc, b, a); }
  static V to_float(A a) { return vcvtq_f32_s32(a); }
  static A store_p16x2(int16_t* dst, V x0, V x1) {
    const int32x4_t i0 = vcvtq_s32_f32(x0), i1 = vcvtq_s32_f32(x1);  // truncation, as the scalar form
    vst1q_s16(dst, vcombine_s16(vmovn_s32(i0), vmovn_s32(i1)));
    return vaddq_s32(i0, i1);
  }
  static A iadd(A a, A b) { return vaddq_s32(a, b); }
  static int32_t ireduce(A a) { return vaddvq_s32(a); }
  static void quant_store_n(int16_t* dst, V x, int n) {
    const V half = vbslq_f32(vdupq_n_u32(0x80000000u), x, vdupq_n_f32(0.5f));  // copysign(0.5, x)
    int32x4_t i = vcvtq_s32_f32(vaddq_f32(x, half));
    i = vmaxq_s32(vminq_s32(i, vdupq_n_s32(127)), vdupq_n_s32(-127));
    const int16x4_t h = vmovn_s32(i);
    if (n >= 4) {
      vst1_s16(dst, h);
    } else {
      int16_t t[4];
      vst1_s16(t, h);
      for (int k = 0; k < n; ++k) dst[k] = t[k];
    }
  }
};

constexpr int kMR = 4;
constexpr size_t kQB = kMR * 16;

}  // namespace

void qs8_attention_4x64__neondot(const F32AttentionParams& p, const Qs8AttentionHead& head,
                                 size_t b, size_t h, size_t q0, size_t qn, float* scratch) {
  qs8_attention_tile<QVecNeonDot, kMR, 4, 4>(p, head, b, h, q0, qn, scratch);
}

Qs8AttentionHead qs8_attention_pack_head__neondot(const F32AttentionParams& p, size_t b, size_t h,
                                                  void* mem) {
  return q8_pack_head<QVecNeonDot>(p, b, h, mem);
}

size_t qs8_attention_scratch_floats__neondot(size_t head_dim) {
  return q8_attn_scratch_floats<kMR>(head_dim, kQB);
}

}  // namespace edge
