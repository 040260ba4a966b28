// Attention: reference, portable tile, the kernels of this build and the
// parallel driver.
#include "ops/f32_attention.h"

#include <cmath>
#include <vector>

#include "ops/f32_attention_tile.h"
#include "ops/slot_units.h"

namespace edge {

namespace {
constexpr int kScalarMR = 4;
constexpr size_t kScalarQB = kScalarMR * 16;
}  // namespace

void f32_attention_4x64__scalar(const F32AttentionParams& p, size_t b, size_t h, size_t q0,
                                size_t qn, float* scratch) {
  attention_tile<VecScalar, kScalarMR, 4, 4>(p, b, h, q0, qn, scratch);
}

size_t f32_attention_scratch_floats__scalar(size_t head_dim) {
  return attn_scratch_floats<VecScalar, kScalarMR>(head_dim, kScalarQB);
}

const F32AttentionKernel kF32AttentionScalar = {"f32_attention_4x64__scalar", f32_attention_4x64__scalar,
                                                f32_attention_scratch_floats__scalar, kScalarQB};
#if defined(__x86_64__)
const F32AttentionKernel kF32AttentionAvx2 = {"f32_attention_6x64__avx2", f32_attention_6x64__avx2,
                                              f32_attention_scratch_floats__avx2, 6 * 16};
const F32AttentionKernel kF32AttentionAvx512 = {"f32_attention_6x64__avx512", f32_attention_6x64__avx512,
                                                f32_attention_scratch_floats__avx512, 6 * 16};
#endif
#if defined(__aarch64__)
const F32AttentionKernel kF32AttentionNeon = {"f32_attention_4x64__neon", f32_attention_4x64__neon,
                                              f32_attention_scratch_floats__neon, 4 * 16};
#endif

void f32_attention_set_layout(F32AttentionParams* p, AttentionLayout layout) {
  const size_t H = p->heads, dh = p->head_dim;
  if (layout == AttentionLayout::kBSHD) {
    p->q_ts = p->o_ts = p->k_ts = p->v_ts = H * dh;
    p->q_hs = p->o_hs = p->k_hs = p->v_hs = dh;
    p->q_bs = p->o_bs = p->nq * H * dh;
    p->k_bs = p->v_bs = p->nk * H * dh;
  } else {
    p->q_ts = p->o_ts = p->k_ts = p->v_ts = dh;
    p->q_hs = p->o_hs = p->nq * dh;
    p->k_hs = p->v_hs = p->nk * dh;
    p->q_bs = p->o_bs = H * p->nq * dh;
    p->k_bs = p->v_bs = H * p->nk * dh;
  }
}

size_t f32_attention_scratch_bytes(const F32AttentionKernel& kernel, size_t head_dim,
                                   size_t num_threads) {
  if (num_threads == 0) num_threads = 1;
  return kernel.scratch_floats(head_dim) * sizeof(float) * num_threads;
}

namespace {

struct AttnTask {
  const F32AttentionKernel* kernel;
  const F32AttentionParams* p;
  float* scratch;
  size_t per_thread;  // floats
  size_t qblocks;
};

// Unit u = (batch, head, query block), run with slot `slot`'s scratch
// (ops/slot_units.h: slots claim units one at a time).
void AttnUnit(void* ctx, size_t slot, size_t it) {
  const AttnTask& a = *static_cast<const AttnTask*>(ctx);
  const size_t qb = a.kernel->query_block;
  const size_t blk = it % a.qblocks;
  const size_t bh = it / a.qblocks;
  const size_t h = bh % a.p->heads, b = bh / a.p->heads;
  const size_t q0 = blk * qb;
  const size_t qn = a.p->nq - q0 < qb ? a.p->nq - q0 : qb;
  a.kernel->tile(*a.p, b, h, q0, qn, a.scratch + slot * a.per_thread);
}

// Cluster mode: units are (batch, head, query cluster); a cluster larger than
// the kernel's query block is cut into near-equal chunks, so a cluster of
// 100 rows runs as 50 + 50 rather than 96 + 4.
void ClusterUnit(void* ctx, size_t slot, size_t it) {
  const AttnTask& a = *static_cast<const AttnTask*>(ctx);
  const F32AttentionParams& p = *a.p;
  float* scratch = a.scratch + slot * a.per_thread;
  const size_t qb = a.kernel->query_block;
  const size_t c = it % p.qclusters;
  const size_t bh = it / p.qclusters;
  const size_t h = bh % p.heads, b = bh / p.heads;
  const uint32_t* off = p.q_off + bh * (p.qclusters + 1);
  const size_t start = off[c], n = off[c + 1] - off[c];
  const size_t pieces = (n + qb - 1) / qb;
  for (size_t k = 0; k < pieces; ++k) {
    const size_t s0 = start + k * n / pieces, s1 = start + (k + 1) * n / pieces;
    a.kernel->tile(p, b, h, s0, s1 - s0, scratch);
  }
}

}  // namespace

void f32_attention(const F32AttentionKernel& kernel, const F32AttentionParams& p, void* scratch,
                   pthreadpool_t pool) {
  if (p.batch == 0 || p.heads == 0 || p.nq == 0 || p.head_dim == 0) return;
  if (p.nk == 0) {  // softmax over nothing: define the output as zeros
    for (size_t b = 0; b < p.batch; ++b)
      for (size_t h = 0; h < p.heads; ++h)
        for (size_t i = 0; i < p.nq; ++i)
          for (size_t d = 0; d < p.head_dim; ++d)
            p.out[b * p.o_bs + h * p.o_hs + i * p.o_ts + d] = 0.f;
    return;
  }
  AttnTask a;
  a.kernel = &kernel;
  a.p = &p;
  a.scratch = static_cast<float*>(scratch);
  a.per_thread = kernel.scratch_floats(p.head_dim);
  a.qblocks = (p.nq + kernel.query_block - 1) / kernel.query_block;
  const bool clustered = p.q_perm != nullptr;
  const size_t units = p.batch * p.heads * (clustered ? p.qclusters : a.qblocks);
  const size_t threads = pool != nullptr ? pthreadpool_get_threads_count(pool) : 1;
  ForEachUnitInSlots(units, threads, clustered ? ClusterUnit : AttnUnit, &a, pool);
}

void f32_attention_ref(const F32AttentionParams& p) {
  const size_t kTile = 64;
  const bool clustered = p.q_perm != nullptr;
  // Key groups: 64-key tiles, or key clusters in cluster mode.
  const size_t groups = clustered ? p.kclusters : p.ktiles;
  std::vector<double> logits(p.nk + groups), acc(p.head_dim);
  std::vector<size_t> qgroup(p.nq), kgroup(p.nk);
  for (size_t b = 0; b < p.batch; ++b) {
    for (size_t h = 0; h < p.heads; ++h) {
      const size_t bh = b * p.heads + h;
      // Group of each query and key token.
      for (size_t i = 0; i < p.nq; ++i) qgroup[i] = p.q_block > 0 ? i / p.q_block : 0;
      for (size_t j = 0; j < p.nk; ++j) kgroup[j] = j / kTile;
      if (clustered) {
        const uint32_t* qo = p.q_off + bh * (p.qclusters + 1);
        const uint32_t* ko = p.k_off + bh * (p.kclusters + 1);
        for (size_t c = 0; c < p.qclusters; ++c)
          for (uint32_t r = qo[c]; r < qo[c + 1]; ++r) qgroup[p.q_perm[bh * p.nq + r]] = c;
        for (size_t c = 0; c < p.kclusters; ++c)
          for (uint32_t r = ko[c]; r < ko[c + 1]; ++r) kgroup[p.k_perm[bh * p.nk + r]] = c;
      }
      const size_t qgroups = clustered ? p.qclusters : p.qblocks;
      for (size_t i = 0; i < p.nq; ++i) {
        const float* q = p.q + b * p.q_bs + h * p.q_hs + i * p.q_ts;
        const uint8_t* keep =
            p.keep != nullptr ? p.keep + (bh * qgroups + qgroup[i]) * groups : nullptr;
        // Exact keys of kept groups, then centroids of skipped ones.
        double mx = -HUGE_VAL;
        for (size_t j = 0; j < p.nk; ++j) {
          if (keep != nullptr && keep[kgroup[j]] == 0) continue;
          const float* k = p.k + b * p.k_bs + h * p.k_hs + j * p.k_ts;
          double s = 0;
          for (size_t d = 0; d < p.head_dim; ++d) s += static_cast<double>(q[d]) * k[d];
          logits[j] = s * p.scale;
          if (logits[j] > mx) mx = logits[j];
        }
        const bool comp = keep != nullptr && p.comp_k != nullptr;
        for (size_t t = 0; comp && t < groups; ++t) {
          if (keep[t] != 0) continue;
          const float* k = p.comp_k + (bh * groups + t) * p.head_dim;
          double s = 0;
          for (size_t d = 0; d < p.head_dim; ++d) s += static_cast<double>(q[d]) * k[d];
          logits[p.nk + t] = s * p.scale + p.comp_logn[bh * groups + t];
          if (logits[p.nk + t] > mx) mx = logits[p.nk + t];
        }
        double sum = 0;
        for (size_t d = 0; d < p.head_dim; ++d) acc[d] = 0;
        for (size_t j = 0; j < p.nk; ++j) {
          if (keep != nullptr && keep[kgroup[j]] == 0) continue;
          const double e = std::exp(logits[j] - mx);
          sum += e;
          const float* v = p.v + b * p.v_bs + h * p.v_hs + j * p.v_ts;
          for (size_t d = 0; d < p.head_dim; ++d) acc[d] += e * v[d];
        }
        for (size_t t = 0; comp && t < groups; ++t) {
          if (keep[t] != 0) continue;
          const double e = std::exp(logits[p.nk + t] - mx);
          sum += e;
          const float* v = p.comp_v + (bh * groups + t) * p.head_dim;
          for (size_t d = 0; d < p.head_dim; ++d) acc[d] += e * v[d];
        }
        float* o = p.out + b * p.o_bs + h * p.o_hs + i * p.o_ts;
        for (size_t d = 0; d < p.head_dim; ++d) {
          o[d] = sum > 0 ? static_cast<float>(acc[d] / sum) : 0.f;
        }
      }
    }
  }
}

}  // namespace edge
