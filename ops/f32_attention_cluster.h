// Cluster-sparse attention planning (SVG2-style semantic clusters with
// SVG-EAR-style centroid compensation and error-aware routing).
//
// Per (batch, head), queries and keys are clustered separately by a few
// deterministic k-means iterations (strided init, lowest-index tie-break,
// token-order reductions), so plans are the same bits for any thread count.
// Tokens barely move between denoising steps, so the centroids live in a
// state buffer across calls: the first plan iterates from the strided init,
// later ones refine warm-started (refresh schedule below).
//
// Per query cluster i and key cluster j the estimated softmax mass is
//   w_ij ~ n_j * exp(qbar_i . kbar_j * scale), normalized over j.
// Key clusters computed exactly: top-k (min_frac of them) UNION top-p
// (smallest prefix by mass reaching top_p) UNION the error-aware extras:
// each remaining cluster's compensation error is estimated as
//   e_ij = w_ij * ((exp(l^2 / 2) - 1) * |vbar_j - obar_i| + l * sv_j),
//   l = scale * sqrt(qbar_i^T Cov(K_j) qbar_i)  (logit spread inside the
//       cluster, from one pass of qbar_i . k over its keys),
// with sv_j the RMS distance of values to their mean and obar_i the
// estimated output; clusters are added by e_ij / n_j (error
// removed per exact key) until the residual estimate is <= err_tol times
// the RMS spread of all values. Everything skipped enters the softmax
// through (kbar_j, vbar_j, ln n_j) (F32AttentionParams cluster fields).
//
// The plan is kernel-independent: it only fills F32AttentionParams'
// permutations, keep mask and centroids, which any tile kernel that gathers
// rows through q_perm/k_perm can consume.
#pragma once

#include <cstddef>
#include <cstdint>

#include <pthreadpool.h>

#include "ops/f32_attention.h"
#include "ops/f32_gemm.h"  // the centroid GEMM

namespace edge {

struct ClusterAttentionConfig {
  // Cluster counts: ceil(tokens / tokens_per_cluster), at most the tokens.
  // Defaults from bench/results/sparse_attention_curve.md (video DiT, 2048
  // tokens): small key clusters keep the centroid stand-ins tight, so the
  // error-aware budget goes further than mass-only top-p.
  uint32_t q_tokens_per_cluster = 64;
  uint32_t k_tokens_per_cluster = 8;
  uint32_t first_iters = 8;  // k-means iterations of the first plan
  // Warm-started iterations of each later plan; 0 keeps the assignment and
  // only recomputes the means of the current tokens.
  uint32_t iters = 1;
  // Every `refresh`-th plan runs first_iters (warm) instead; 0: never.
  uint32_t refresh = 0;
  // Only every `replan`-th call plans (k-means step, selection); the calls
  // in between keep its clusters and kept pairs and only recompute the key
  // and value centroids of the current tokens (the compensation), since
  // tokens move little between denoising steps. 0 or 1: every call.
  uint32_t replan = 4;
  float top_p = 0.3f;
  float min_frac = 0.02f;
  float err_tol = 0.015f;  // 0: no error-aware extras
  bool compensate = true;
  // GEMM microkernel for the k-means assignment (x . c - |c|^2 / 2 per
  // token and centroid); null: a portable loop. Either way the result does
  // not depend on the thread count.
  const F32GemmConfig* gemm = nullptr;
};

struct ClusterAttentionStats {
  double exact_pairs = 0;  // query-key pairs computed exactly
  double total_pairs = 0;  // nq * nk summed over (batch, head) and plans
  uint64_t plans = 0;
};

size_t f32_cluster_attention_q_clusters(const F32AttentionParams& p,
                                        const ClusterAttentionConfig& c);
size_t f32_cluster_attention_k_clusters(const F32AttentionParams& p,
                                        const ClusterAttentionConfig& c);

// The state holds centroids across calls and the current plan; it must be
// zero-filled before the first plan (zero = nothing clustered yet), 64-byte
// aligned, and stay alive through f32_attention.
size_t f32_cluster_attention_state_bytes(const F32AttentionParams& p,
                                         const ClusterAttentionConfig& c);
// Fills p's cluster fields (and comp_* when c.compensate) from p's q/k/v.
// `stats` (optional) accumulates the exact-pair counts of this plan.
void f32_cluster_attention_plan(F32AttentionParams* p, const ClusterAttentionConfig& c,
                                void* state, pthreadpool_t pool, ClusterAttentionStats* stats);

}  // namespace edge
