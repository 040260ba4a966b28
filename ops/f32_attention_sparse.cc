// Block-sparse attention planning (see f32_sparse_attention_plan in
// f32_attention.h). Training-free, in the spirit of SpargeAttn's pooled-score
// block selection and SVG-EAR's centroid compensation, with fixed contiguous
// 64-key tiles instead of clusters so the exact part runs on the dense tile
// kernel unchanged:
//   mass(qb, t) ~ n_t * exp(q_mean(qb) . k_mean(t) * scale)
// keep the top ceil(density * ktiles) tiles per query block; the others
// enter the softmax through (k_mean, v_mean, ln n_t).
#include <cmath>
#include <cstring>

#include "ops/f32_attention.h"

namespace edge {
namespace {

constexpr size_t kTile = 64;

struct Layout {
  size_t keep, comp_k, comp_v, comp_logn, qmean, scores, total;  // byte offsets
};

size_t Align64(size_t v) { return (v + 63) / 64 * 64; }

Layout MakeLayout(const F32AttentionParams& p, size_t query_block) {
  const size_t bh = p.batch * p.heads;
  const size_t qblocks = (p.nq + query_block - 1) / query_block;
  const size_t ktiles = (p.nk + kTile - 1) / kTile;
  Layout l;
  size_t off = 0;
  l.keep = off;
  off = Align64(off + bh * qblocks * ktiles);
  l.comp_k = off;
  off = Align64(off + bh * ktiles * p.head_dim * sizeof(float));
  l.comp_v = off;
  off = Align64(off + bh * ktiles * p.head_dim * sizeof(float));
  l.comp_logn = off;
  off = Align64(off + bh * ktiles * sizeof(float));
  l.qmean = off;  // one pooled query per (b, h) work item
  off = Align64(off + bh * p.head_dim * sizeof(float));
  l.scores = off;  // ktiles scores per (b, h) work item
  off = Align64(off + bh * ktiles * sizeof(float));
  l.total = off;
  return l;
}

struct PlanTask {
  F32AttentionParams* p;
  uint8_t* base;
  Layout l;
  size_t query_block;
  size_t keep_count;
  bool compensate;
};

void PlanHead(void* ctx, size_t bh) {
  const PlanTask& t = *static_cast<const PlanTask*>(ctx);
  F32AttentionParams& p = *t.p;
  const size_t b = bh / p.heads, h = bh % p.heads, dh = p.head_dim;
  const size_t T = p.ktiles;
  float* ck = reinterpret_cast<float*>(t.base + t.l.comp_k) + bh * T * dh;
  float* cv = reinterpret_cast<float*>(t.base + t.l.comp_v) + bh * T * dh;
  float* cl = reinterpret_cast<float*>(t.base + t.l.comp_logn) + bh * T;
  float* qm = reinterpret_cast<float*>(t.base + t.l.qmean) + bh * dh;
  float* sc = reinterpret_cast<float*>(t.base + t.l.scores) + bh * T;
  uint8_t* keep = t.base + t.l.keep + bh * p.qblocks * T;

  // Mean key and value per tile.
  for (size_t tile = 0; tile < T; ++tile) {
    const size_t k0 = tile * kTile, kn = p.nk - k0 < kTile ? p.nk - k0 : kTile;
    float* km = ck + tile * dh;
    float* vm = cv + tile * dh;
    std::memset(km, 0, dh * sizeof(float));
    std::memset(vm, 0, dh * sizeof(float));
    for (size_t j = 0; j < kn; ++j) {
      const float* kr = p.k + b * p.k_bs + h * p.k_hs + (k0 + j) * p.k_ts;
      const float* vr = p.v + b * p.v_bs + h * p.v_hs + (k0 + j) * p.v_ts;
      for (size_t d = 0; d < dh; ++d) {
        km[d] += kr[d];
        vm[d] += vr[d];
      }
    }
    const float inv = 1.f / static_cast<float>(kn);
    for (size_t d = 0; d < dh; ++d) {
      km[d] *= inv;
      vm[d] *= inv;
    }
    cl[tile] = std::log(static_cast<float>(kn));
  }
  // Per query block: pooled query, estimated tile masses, top-k tiles.
  for (size_t qb = 0; qb < p.qblocks; ++qb) {
    const size_t q0 = qb * t.query_block, qn = p.nq - q0 < t.query_block ? p.nq - q0 : t.query_block;
    std::memset(qm, 0, dh * sizeof(float));
    for (size_t i = 0; i < qn; ++i) {
      const float* qr = p.q + b * p.q_bs + h * p.q_hs + (q0 + i) * p.q_ts;
      for (size_t d = 0; d < dh; ++d) qm[d] += qr[d];
    }
    for (size_t d = 0; d < dh; ++d) qm[d] /= static_cast<float>(qn);
    for (size_t tile = 0; tile < T; ++tile) {
      double s = 0;
      for (size_t d = 0; d < dh; ++d) s += static_cast<double>(qm[d]) * ck[tile * dh + d];
      sc[tile] = static_cast<float>(s * p.scale) + cl[tile];
    }
    uint8_t* row = keep + qb * T;
    std::memset(row, 0, T);
    // Selection by repeated max: T is small (N / 64) and ties go to the
    // lower index, so plans are reproducible.
    for (size_t r = 0; r < t.keep_count; ++r) {
      size_t best = T;
      for (size_t tile = 0; tile < T; ++tile) {
        if (row[tile] == 0 && (best == T || sc[tile] > sc[best])) best = tile;
      }
      row[best] = 1;
    }
  }
}

}  // namespace

size_t f32_sparse_attention_workspace_bytes(const F32AttentionParams& p, size_t query_block) {
  return MakeLayout(p, query_block).total;
}

void f32_sparse_attention_plan(F32AttentionParams* p, size_t query_block, float density,
                               bool compensate, void* workspace, pthreadpool_t pool) {
  PlanTask t;
  t.p = p;
  t.base = static_cast<uint8_t*>(workspace);
  t.l = MakeLayout(*p, query_block);
  t.query_block = query_block;
  p->q_block = query_block;
  p->qblocks = (p->nq + query_block - 1) / query_block;
  p->ktiles = (p->nk + kTile - 1) / kTile;
  size_t k = static_cast<size_t>(std::ceil(static_cast<double>(density) * p->ktiles));
  if (k < 1) k = 1;
  if (k > p->ktiles) k = p->ktiles;
  t.keep_count = k;
  t.compensate = compensate;
  p->keep = t.base + t.l.keep;
  p->comp_k = compensate ? reinterpret_cast<const float*>(t.base + t.l.comp_k) : nullptr;
  p->comp_v = compensate ? reinterpret_cast<const float*>(t.base + t.l.comp_v) : nullptr;
  p->comp_logn = compensate ? reinterpret_cast<const float*>(t.base + t.l.comp_logn) : nullptr;
  const size_t items = p->batch * p->heads;
  if (items == 0 || p->nk == 0 || p->nq == 0) {
    p->keep = nullptr;
    return;
  }
  if (pool != nullptr && items > 1) {
    pthreadpool_parallelize_1d(pool, PlanHead, &t, items, 0);
  } else {
    for (size_t i = 0; i < items; ++i) PlanHead(&t, i);
  }
}

}  // namespace edge
