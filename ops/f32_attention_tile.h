// The attention tile, written once over ops/f32_vec.h and instantiated per
// ISA file. For one (batch, head) and a block of up to QB queries:
//
//   for each tile of KT = 64 keys:
//     pack K^T of the tile ([dh][64], zero-padded keys) into scratch
//     for each group of MR query rows:
//       S[MR][64] = (q . K^T) * scale          (register-blocked, like the GEMM)
//       per row: m' = max(m, max S); alpha = e^(m - m'); P = e^(S - m');
//                l = l*alpha + sum P
//       O[MR][dh] = alpha * O + P . V           (register-blocked over dh)
//   out = O / l
//
// The running max starts at -FLT_MAX (never -inf), so every exponent is of a
// finite, non-positive number: logits of 1e4 cannot overflow and there are
// no inf - inf NaNs. Key-tile tails are masked to -FLT_MAX before the max.
#pragma once

#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstring>

#include "ops/f32_attention.h"
#include "ops/f32_vec.h"

namespace edge {
namespace {

constexpr size_t kAttnKeyTile = 64;

template <class O>
static inline size_t attn_dh_pad(size_t dh) {
  return (dh + O::kW - 1) / O::kW * O::kW;
}

// K^T tile, P rows, O accumulators, running max/sum, and for the sparse
// centroid pass a gathered V tile plus its logit biases.
template <class O, int MR>
static size_t attn_scratch_floats(size_t dh, size_t qb) {
  const size_t f = dh * kAttnKeyTile + MR * kAttnKeyTile + qb * attn_dh_pad<O>(dh) + 2 * qb + MR +
                   kAttnKeyTile * dh + kAttnKeyTile + 16;
  return (f + 15) / 16 * 16;
}

// S rows (scaled) for one chunk of NS vectors of keys.
template <class O, int MR, int NS>
static inline void attn_qk_chunk(const float* const* qrow, size_t dh, const float* kt,
                                 float* const* prow, float scale) {
  using V = typename O::V;
  V acc[MR][NS];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int v = 0; v < NS; ++v) acc[i][v] = O::zero();
  for (size_t d = 0; d < dh; ++d) {
    V b[NS];
#pragma GCC unroll 8
    for (int v = 0; v < NS; ++v) b[v] = O::load(kt + d * kAttnKeyTile + v * O::kW);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const V a = O::set1(qrow[i][d]);
#pragma GCC unroll 8
      for (int v = 0; v < NS; ++v) acc[i][v] = O::fmadd(a, b[v], acc[i][v]);
    }
  }
  const V s = O::set1(scale);
#pragma GCC unroll 16
  for (int i = MR - 1; i >= 0; --i)
#pragma GCC unroll 8
    for (int v = 0; v < NS; ++v) O::store(prow[i] + v * O::kW, O::mul(acc[i][v], s));
}

// O[:, c0 : c0 + ncol] = alpha * O + P . V for one chunk of NV vectors of dh.
// V rows come through pointers (vrows[j] + c0), so a tile's keys may be
// gathered from anywhere: contiguous tokens, cluster members or centroids.
template <class O, int MR, int NV>
static inline void attn_pv_chunk(float* const* orow, float* const* prow, const float* alpha,
                                 const float* const* vrows, size_t c0,
                                 size_t kn, size_t ncol) {
  using V = typename O::V;
  V acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    const V a = O::set1(alpha[i]);
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[i][v] = O::mul(O::load(orow[i] + v * O::kW), a);
  }
  const bool full = ncol == static_cast<size_t>(NV * O::kW);
  const int tail = static_cast<int>(ncol) - (NV - 1) * O::kW;
  for (size_t j = 0; j < kn; ++j) {
    const float* vr = vrows[j] + c0;
    V b[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV - 1; ++v) b[v] = O::load(vr + v * O::kW);
    b[NV - 1] = full ? O::load(vr + (NV - 1) * O::kW) : O::load_n(vr + (NV - 1) * O::kW, tail);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const V a = O::set1(prow[i][j]);
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[i][v] = O::fmadd(a, b[v], acc[i][v]);
    }
  }
#pragma GCC unroll 16
  for (int i = MR - 1; i >= 0; --i)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) O::store(orow[i] + v * O::kW, acc[i][v]);
}

template <class O, int MR, int NV>
static inline void attn_pv(float* const* orow, float* const* prow, const float* alpha,
                           const float* const* vrows, size_t kn, size_t dh) {
  constexpr size_t kCW = NV * O::kW;
  size_t c0 = 0;
  for (; c0 + kCW <= dh; c0 += kCW) {
    float* oref[MR];
    for (int i = 0; i < MR; ++i) oref[i] = orow[i] + c0;
    attn_pv_chunk<O, MR, NV>(oref, prow, alpha, vrows, c0, kn, kCW);
  }
  if (c0 < dh) {
    const size_t ncol = dh - c0;
    float* oref[MR];
    for (int i = 0; i < MR; ++i) oref[i] = orow[i] + c0;
    const size_t nv = (ncol + O::kW - 1) / O::kW;
    // Dispatch on the number of vectors left (1 .. NV-1, or NV with a tail).
    if (nv >= NV) attn_pv_chunk<O, MR, NV>(oref, prow, alpha, vrows, c0, kn, ncol);
    else if (NV > 1 && nv == 1) attn_pv_chunk<O, MR, 1>(oref, prow, alpha, vrows, c0, kn, ncol);
    else if (NV > 2 && nv == 2) attn_pv_chunk<O, MR, (NV > 2 ? 2 : 1)>(oref, prow, alpha, vrows, c0, kn, ncol);
    else attn_pv_chunk<O, MR, (NV > 3 ? 3 : 1)>(oref, prow, alpha, vrows, c0, kn, ncol);
  }
}

template <class O, int MR, int NS, int NV>
static void attention_tile(const F32AttentionParams& p, size_t b, size_t h, size_t q0, size_t qn,
                           float* scratch) {
  using V = typename O::V;
  constexpr size_t KT = kAttnKeyTile;
  constexpr size_t kSW = NS * O::kW;  // keys per S chunk
  static_assert(KT % kSW == 0, "key tile must be a multiple of the S chunk");
  const size_t dh = p.head_dim;
  const size_t dh_pad = attn_dh_pad<O>(dh);
  const size_t bh = b * p.heads + h;
  float* kt = scratch;
  float* pbuf = kt + dh * KT;
  float* obuf = pbuf + MR * KT;
  float* mrow = obuf + qn * dh_pad;
  float* lrow = mrow + qn;

  const float* qhead = p.q + b * p.q_bs + h * p.q_hs;
  const float* kbase = p.k + b * p.k_bs + h * p.k_hs;
  const float* vbase = p.v + b * p.v_bs + h * p.v_hs;
  float* ohead = p.out + b * p.o_bs + h * p.o_hs;
  // Cluster mode: row i of this block is token q_perm[q0 + i] (a gather);
  // otherwise token q0 + i.
  const bool clustered = p.q_perm != nullptr;
  const uint32_t* qtok = clustered ? p.q_perm + bh * p.nq + q0 : nullptr;
  auto qtoken = [&](size_t i) -> size_t { return clustered ? qtok[i] : q0 + i; };

  std::memset(obuf, 0, qn * dh_pad * sizeof(float));
  for (size_t i = 0; i < qn; ++i) {
    mrow[i] = -FLT_MAX;
    lrow[i] = 0.f;
  }

  float* bias = lrow + qn + KT * dh;  // [KT] centroid logit biases
  const float* vrows[KT];             // V row of each key in the packed tile

  // One key tile (already packed as K^T in kt, V rows in vrows) through the
  // online softmax.
  auto run_tile = [&](size_t kn, const float* tile_bias) {
    const size_t s_chunks = (kn + kSW - 1) / kSW;
    const size_t kvec = (kn + O::kW - 1) / O::kW;
    for (size_t r0 = 0; r0 < qn; r0 += MR) {
      const size_t mr = qn - r0 < static_cast<size_t>(MR) ? qn - r0 : MR;
      const float* qrow[MR];
      float* prow[MR];
      float* orow[MR];
      float alpha[MR];
      for (int i = 0; i < MR; ++i) {
        // Rows past mr alias the last valid one (same inputs, same values).
        const size_t r = static_cast<size_t>(i) < mr ? i : mr - 1;
        qrow[i] = qhead + qtoken(r0 + r) * p.q_ts;
        prow[i] = pbuf + r * KT;
        orow[i] = obuf + (r0 + r) * dh_pad;
      }
      for (size_t c = 0; c < s_chunks; ++c) {
        float* pc[MR];
        for (int i = 0; i < MR; ++i) pc[i] = prow[i] + c * kSW;
        attn_qk_chunk<O, MR, NS>(qrow, dh, kt + c * kSW, pc, p.scale);
      }
      // Online softmax on each valid row.
      for (size_t i = 0; i < mr; ++i) {
        float* row = pbuf + i * KT;
        if (tile_bias != nullptr) {
          for (size_t j = 0; j < kn; ++j) row[j] += tile_bias[j];
        }
        V mx = O::set1(-FLT_MAX);
        for (size_t v = 0; v < kvec; ++v) {
          mx = O::max(mx, O::load_n_fill(row + v * O::kW, static_cast<int>(kn - v * O::kW), -FLT_MAX));
        }
        const float m_old = mrow[r0 + i];
        const float tmax = O::reduce_max(mx);
        const float m_new = tmax > m_old ? tmax : m_old;
        const float a = std::exp(m_old - m_new);  // 0 on the first tile (m_old = -FLT_MAX)
        const V mv = O::set1(m_new);
        V sum = O::zero();
        for (size_t v = 0; v < kvec; ++v) {
          // Masked lanes become e^(-FLT_MAX - m) = 0, never inf.
          const V x = O::load_n_fill(row + v * O::kW, static_cast<int>(kn - v * O::kW), -FLT_MAX);
          const V e = vecmath::Exp<O>(O::sub(x, mv));
          O::store(row + v * O::kW, e);
          sum = O::add(sum, e);
        }
        lrow[r0 + i] = lrow[r0 + i] * a + O::reduce_add(sum);
        mrow[r0 + i] = m_new;
        alpha[i] = a;
      }
      for (size_t i = mr; i < static_cast<size_t>(MR); ++i) alpha[i] = alpha[mr - 1];
      attn_pv<O, MR, NV>(orow, prow, alpha, vrows, kn, dh);
    }
  };
  // K^T of `kn` rows (row j at base + rows[j] * ts, or base + j * ts when
  // rows is null), keys past kn zeroed (their logits are masked).
  auto pack_kt = [&](const float* base, size_t ts, size_t kn, const uint32_t* rows) {
    for (size_t j = 0; j < kn; ++j) {
      const float* kr = base + (rows != nullptr ? rows[j] : j) * ts;
      for (size_t d = 0; d < dh; ++d) kt[d * KT + j] = kr[d];
    }
    if (kn < KT) {
      for (size_t d = 0; d < dh; ++d) std::memset(kt + d * KT + kn, 0, (KT - kn) * sizeof(float));
    }
  };

  const AttentionKeepRow kr = attention_keep_row(p, bh, q0);
  const uint8_t* keep = kr.keep;
  const size_t groups = kr.groups;
  if (clustered) {
    // Exact part: members of the kept key clusters, concatenated into full
    // tiles (the online softmax does not care which keys share a tile).
    const uint32_t* kperm = p.k_perm + bh * p.nk;
    const uint32_t* koff = p.k_off + bh * (p.kclusters + 1);
    uint32_t rows[KT];
    size_t n = 0;
    for (size_t c = 0; c < p.kclusters; ++c) {
      if (keep[c] == 0) continue;
      for (uint32_t j = koff[c]; j < koff[c + 1]; ++j) {
        rows[n] = kperm[j];
        vrows[n] = vbase + static_cast<size_t>(kperm[j]) * p.v_ts;
        if (++n == KT) {
          pack_kt(kbase, p.k_ts, n, rows);
          run_tile(n, nullptr);
          n = 0;
        }
      }
    }
    if (n > 0) {
      pack_kt(kbase, p.k_ts, n, rows);
      run_tile(n, nullptr);
    }
  } else {
    for (size_t k0 = 0; k0 < p.nk; k0 += KT) {
      if (keep != nullptr && keep[k0 / KT] == 0) continue;
      const size_t kn = p.nk - k0 < KT ? p.nk - k0 : KT;
      for (size_t j = 0; j < kn; ++j) vrows[j] = vbase + (k0 + j) * p.v_ts;
      pack_kt(kbase + k0 * p.k_ts, p.k_ts, kn, nullptr);
      run_tile(kn, nullptr);
    }
  }
  if (keep != nullptr && p.comp_k != nullptr) {
    // Centroids of the skipped tiles / clusters, up to KT of them per pass.
    const float* ck = p.comp_k + bh * groups * dh;
    const float* cv = p.comp_v + bh * groups * dh;
    const float* cl = p.comp_logn + bh * groups;
    uint32_t rows[KT];
    size_t n = 0;
    for (size_t t = 0; t <= groups; ++t) {
      if (t < groups && keep[t] == 0) {
        rows[n] = static_cast<uint32_t>(t);
        bias[n] = cl[t];
        vrows[n] = cv + t * dh;
        ++n;
      }
      if (n > 0 && (n == KT || t == groups)) {
        pack_kt(ck, dh, n, rows);
        run_tile(n, bias);
        n = 0;
      }
    }
  }
  for (size_t i = 0; i < qn; ++i) {
    const V inv = O::set1(1.f / lrow[i]);
    const float* orow = obuf + i * dh_pad;
    float* dst = ohead + qtoken(i) * p.o_ts;
    size_t d = 0;
    for (; d + O::kW <= dh; d += O::kW) O::store(dst + d, O::mul(O::load(orow + d), inv));
    if (d < dh) O::store_n(dst + d, O::mul(O::load(orow + d), inv), static_cast<int>(dh - d));
  }
}

}  // namespace
}  // namespace edge
