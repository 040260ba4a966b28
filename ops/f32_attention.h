// F32 attention softmax(q.k^T * scale) . v that never materializes the
// Nq x Nk matrix: for a block of queries, loop over tiles of 64 keys with an
// online softmax (running max and sum per query row, accumulators rescaled
// when the max grows), as in FlashAttention. Parallel over
// (batch, head, query block). Supports any strides, so both BSHD
// ([B, N, H*dh], heads packed) and BHSD ([B, H, N, dh]) layouts, and
// cross-attention (Nq != Nk). v has the same head_dim as q and k.
#pragma once

#include <cstddef>
#include <cstdint>

#include <pthreadpool.h>

namespace edge {

enum class AttentionLayout : int { kBSHD = 0, kBHSD = 1 };

struct F32AttentionParams {
  size_t batch = 1, heads = 1, nq = 0, nk = 0, head_dim = 0;
  float scale = 1.f;
  const float* q = nullptr;
  const float* k = nullptr;
  const float* v = nullptr;
  float* out = nullptr;
  // Strides in floats: batch, head, token (the channel stride is 1).
  size_t q_bs = 0, q_hs = 0, q_ts = 0;
  size_t k_bs = 0, k_hs = 0, k_ts = 0;
  size_t v_bs = 0, v_hs = 0, v_ts = 0;
  size_t o_bs = 0, o_hs = 0, o_ts = 0;

  // Block-sparse attention (keep == null: dense). Queries come in blocks of
  // `q_block` (the kernel's query_block), keys in tiles of 64. For query block
  // qb of (b, h), keep[((b * heads + h) * qblocks + qb) * ktiles + t] != 0
  // marks key tile t as computed exactly. When comp_k is set, each skipped
  // tile still contributes through its centroid: its mean key comp_k and mean
  // value comp_v enter the same online softmax with logit bias comp_logn
  // (= ln of the tile's key count), i.e. n_t * exp(q.k_mean * scale) weight.
  // Layouts: comp_k/comp_v [B*H][ktiles][head_dim], comp_logn [B*H][ktiles].
  const uint8_t* keep = nullptr;
  size_t q_block = 0, qblocks = 0, ktiles = 0;
  const float* comp_k = nullptr;
  const float* comp_v = nullptr;
  const float* comp_logn = nullptr;

  // Cluster-sparse attention (q_perm != null): queries and keys of each
  // (b, h) are grouped by semantic cluster (ops/f32_attention_cluster.h) and
  // the kernel gathers rows through the permutations, so no permuted copy of
  // q/k/v exists. Query cluster c of (b, h) holds the tokens
  // q_perm[bh * nq + q_off[bh * (qclusters + 1) + c] ... + c + 1]; keys
  // likewise with k_perm/k_off. Then keep is [B*H][qclusters][kclusters]
  // (key cluster computed exactly or not) and comp_k/comp_v/comp_logn are
  // per key cluster, [B*H][kclusters][head_dim] and [B*H][kclusters]; the
  // tile fields above are unused. In this mode the tile's q0 is a position
  // in q_perm and [q0, q0 + qn) lies inside one query cluster.
  const uint32_t* q_perm = nullptr;
  const uint32_t* q_off = nullptr;
  const uint32_t* k_perm = nullptr;
  const uint32_t* k_off = nullptr;
  size_t qclusters = 0, kclusters = 0;
};

// The keep row of a sparse plan for the query block (or, with clusters, the
// query cluster holding permuted position q0) of head bh, and the number of
// key groups (tiles or clusters) it indexes; null when the plan is dense.
// Shared by every tile kernel that follows the plan.
struct AttentionKeepRow {
  const uint8_t* keep;
  size_t groups;
};
inline AttentionKeepRow attention_keep_row(const F32AttentionParams& p, size_t bh, size_t q0) {
  if (p.q_perm != nullptr) {
    // Last cluster start <= q0 (clusters are few, N / 64 or so, and empty
    // ones share their start with the next).
    const uint32_t* qoff = p.q_off + bh * (p.qclusters + 1);
    size_t lo = 0, hi = p.qclusters;
    while (hi - lo > 1) {
      const size_t mid = (lo + hi) / 2;
      if (qoff[mid] <= q0) lo = mid; else hi = mid;
    }
    return {p.keep + (bh * p.qclusters + lo) * p.kclusters, p.kclusters};
  }
  if (p.keep != nullptr) return {p.keep + (bh * p.qblocks + q0 / p.q_block) * p.ktiles, p.ktiles};
  return {nullptr, p.ktiles};
}

// Fills the strides for q/out with nq tokens and k/v with nk tokens, all in
// `layout` (dense tensors).
void f32_attention_set_layout(F32AttentionParams* p, AttentionLayout layout);

struct F32AttentionKernel {
  const char* name;  // e.g. "f32_attention_6x64__avx512"
  // Queries [q0, q0+qn) of one (batch, head); qn <= query_block.
  void (*tile)(const F32AttentionParams& p, size_t b, size_t h, size_t q0, size_t qn,
               float* scratch);
  size_t (*scratch_floats)(size_t head_dim);  // per thread
  size_t query_block;
};

// The kernels of this build; ops/kernel_config.h picks one per CPU.
extern const F32AttentionKernel kF32AttentionScalar;
#if defined(__x86_64__)
extern const F32AttentionKernel kF32AttentionAvx2;
extern const F32AttentionKernel kF32AttentionAvx512;
#endif
#if defined(__aarch64__)
extern const F32AttentionKernel kF32AttentionNeon;
#endif
// Scratch for f32_attention with this many threads (64-byte aligned chunks).
size_t f32_attention_scratch_bytes(const F32AttentionKernel& kernel, size_t head_dim,
                                   size_t num_threads);
// `scratch` is 64-byte aligned and f32_attention_scratch_bytes() long for
// the pool's thread count (1 when pool is null).
void f32_attention(const F32AttentionKernel& kernel, const F32AttentionParams& p, void* scratch,
                   pthreadpool_t pool);

// Reference: full softmax per query row in double; honours the block-sparse
// fields (keep mask and centroid compensation) exactly as the tiles do.
void f32_attention_ref(const F32AttentionParams& p);

// Block-sparse planning: fills p->keep / comp_* from q and k/v (pooled
// queries per block, mean keys/values per tile; per query block the
// ceil(density * ktiles) tiles with the largest estimated mass
// q_mean.k_mean * scale + ln(count) are kept, ties to the lower index).
// `workspace` must be f32_sparse_attention_workspace_bytes() long, 64-byte
// aligned; it holds the plan, so it must stay alive through f32_attention.
size_t f32_sparse_attention_workspace_bytes(const F32AttentionParams& p, size_t query_block);
void f32_sparse_attention_plan(F32AttentionParams* p, size_t query_block, float density,
                               bool compensate, void* workspace, pthreadpool_t pool);

// ISA tiles (see F32AttentionKernel::tile).
void f32_attention_4x64__scalar(const F32AttentionParams& p, size_t b, size_t h, size_t q0,
                                size_t qn, float* scratch);
void f32_attention_6x64__avx2(const F32AttentionParams& p, size_t b, size_t h, size_t q0,
                              size_t qn, float* scratch);
void f32_attention_6x64__avx512(const F32AttentionParams& p, size_t b, size_t h, size_t q0,
                                size_t qn, float* scratch);
void f32_attention_4x64__neon(const F32AttentionParams& p, size_t b, size_t h, size_t q0,
                              size_t qn, float* scratch);
size_t f32_attention_scratch_floats__neon(size_t head_dim);
size_t f32_attention_scratch_floats__scalar(size_t head_dim);
size_t f32_attention_scratch_floats__avx2(size_t head_dim);
size_t f32_attention_scratch_floats__avx512(size_t head_dim);

}  // namespace edge
