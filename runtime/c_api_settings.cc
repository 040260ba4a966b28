#include "runtime/c_api_settings.h"

#include <cmath>

namespace edge {

namespace {

// Same bounds as edge-run's parser for the same settings.
constexpr int kMaxAttentionCount = 1 << 20;
constexpr int kMaxCacheSteps = 100000;

// < 0: as stored; else within [0, hi]. NaN is refused.
bool StoredOrWithin(float v, float hi) { return !std::isnan(v) && (v < 0.f || v <= hi); }
bool StoredOrCount(int v) { return v >= -1 && v <= kMaxAttentionCount; }

}  // namespace

void DefaultSessionSettings(edge_session_options* o) {
  o->pin_threads = 0;
  o->attention_compensation = 1;
  o->attention_sparse = -1;
  o->attention_top_p = -1.f;
  o->attention_min_frac = -1.f;
  o->attention_err_tol = -1.f;
  o->attention_cluster_size = 0;
  o->attention_key_cluster_size = 0;
  o->attention_kmeans_iters = -1;
  o->attention_refresh = -1;
  o->attention_replan = -1;
  o->attention_dense_steps = -1;
  const TokenReuseOptions tr;
  o->token_reuse_threshold = tr.threshold;
  o->token_reuse_warmup = tr.warmup_steps;
  o->token_reuse_max_stale = tr.max_stale;
  o->token_reuse_order = tr.order;
}

void DefaultGenerateSettings(edge_generate_options* o) {
  o->cache_target_psnr = 0.f;
  o->cache_steps = nullptr;
  o->num_cache_steps = 0;
  o->cache_max_skips = -1;
  o->cache_warmup = CacheRequest().warmup_steps;
  o->cache_int8 = 0;
  o->cache_drop = 0;
}

const char* ApplySessionSettings(const edge_session_options& in, SessionOptions* out) {
  if (in.attention_sparse < -1 || in.attention_sparse > 2) {
    return "edge_session_create: attention_sparse must be -1, 0, 1 or 2";
  }
  if (!StoredOrWithin(in.attention_top_p, 1.f) || !StoredOrWithin(in.attention_min_frac, 1.f) ||
      !StoredOrWithin(in.attention_err_tol, INFINITY)) {
    return "edge_session_create: attention_top_p and attention_min_frac must be < 0 or in [0, 1], "
           "attention_err_tol < 0 or >= 0 and finite";
  }
  if (in.attention_cluster_size < 0 || in.attention_cluster_size > kMaxAttentionCount ||
      in.attention_key_cluster_size < 0 || in.attention_key_cluster_size > kMaxAttentionCount) {
    return "edge_session_create: attention_cluster_size and attention_key_cluster_size must be in [0, 2^20]";
  }
  if (!StoredOrCount(in.attention_kmeans_iters) || !StoredOrCount(in.attention_refresh) ||
      !StoredOrCount(in.attention_replan) || !StoredOrCount(in.attention_dense_steps)) {
    return "edge_session_create: attention_kmeans_iters, attention_refresh, attention_replan and "
           "attention_dense_steps must be in [-1, 2^20]";
  }
  if (std::isnan(in.token_reuse_threshold) || std::isinf(in.token_reuse_threshold) || in.token_reuse_warmup < 0 ||
      in.token_reuse_max_stale < 0 || in.token_reuse_max_stale > 255 ||
      (in.token_reuse_order != 0 && in.token_reuse_order != 1)) {
    return "edge_session_create: token_reuse_threshold must be finite (< 0: as stored), token_reuse_warmup >= 0, "
           "token_reuse_max_stale in [0, 255] and token_reuse_order 0 or 1";
  }
  out->token_reuse.threshold = in.token_reuse_threshold;
  out->token_reuse.warmup_steps = in.token_reuse_warmup;
  out->token_reuse.max_stale = in.token_reuse_max_stale;
  out->token_reuse.order = in.token_reuse_order;
  out->pin_big_cores = in.pin_threads != 0;
  out->attention_compensation = in.attention_compensation != 0;
  AttentionSparseOptions& a = out->attention_sparse;
  a.mode = in.attention_sparse;
  a.top_p = in.attention_top_p;
  a.min_frac = in.attention_min_frac;
  a.err_tol = in.attention_err_tol;
  a.cluster_tokens = in.attention_cluster_size;
  a.k_cluster_tokens = in.attention_key_cluster_size;
  a.kmeans_iters = in.attention_kmeans_iters;
  a.refresh = in.attention_refresh;
  a.replan = in.attention_replan;
  a.dense_steps = in.attention_dense_steps;
  return nullptr;
}

const char* ApplyCacheRequestSettings(const edge_generate_options& in, CacheRequest* out) {
  if (!(in.cache_target_psnr >= 0.f) || std::isinf(in.cache_target_psnr)) {
    return "edge_generate: cache_target_psnr must be 0 or a PSNR in dB > 0";
  }
  if (in.num_cache_steps < 0 || in.num_cache_steps > kMaxCacheSteps ||
      (in.num_cache_steps > 0 && in.cache_steps == nullptr)) {
    return "edge_generate: cache_steps must hold num_cache_steps (at most 100000) steps";
  }
  if (in.cache_max_skips < -1 || in.cache_max_skips > 1000) {
    return "edge_generate: cache_max_skips must be in [-1, 1000]";
  }
  if (in.cache_warmup < 0 || in.cache_warmup > 10000) return "edge_generate: cache_warmup must be in [0, 10000]";
  out->target_psnr = in.cache_target_psnr;
  out->compute_steps.clear();
  for (int i = 0; i < in.num_cache_steps; ++i) {
    if (in.cache_steps[i] < 0 || in.cache_steps[i] > kMaxCacheSteps) {
      return "edge_generate: cache_steps must be steps in [0, 100000]";
    }
    out->compute_steps.push_back(in.cache_steps[i]);
  }
  out->max_skips = in.cache_max_skips;
  out->warmup_steps = in.cache_warmup;
  return nullptr;
}

void ApplyCacheStorageSettings(const edge_generate_options& in, CacheOptions* out) {
  out->delta_int8 = in.cache_int8 != 0;
  out->drop_instead_of_reuse = in.cache_drop != 0;
}

}  // namespace edge
