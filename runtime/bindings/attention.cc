// Attention: softmax(q . k^T * scale) . v per head, on the tiled online-softmax
// kernel (never materializes Nq x Nk). Layouts: BSHD q[B, Nq, H*dh],
// k/v[B, Nk, H*dh]; BHSD q[B, H, Nq, dh], k/v[B, H, Nk, dh]. The output has
// q's shape. scale 0 means 1/sqrt(dh).
// Block-sparse: with a density in (0, 1) (the op's sparse_density, or the
// session's attention_density override) each query block computes only its
// highest-mass key tiles exactly and the rest through tile centroids
// (f32_sparse_attention_plan), planned per eval in the op's scratch.
// Precision: AttentionOptions.precision or the session's override picks FP32
// or INT8 (ops/qs8_attention.h) tiles, for dense attention and for the exact
// part of either sparse plan.
// Cluster-sparse (KernelSettings::attention_sparse.mode 2): the plan of
// ops/f32_attention_cluster.h, whose centroids persist across evals in a
// buffer the state allocates at prepare.
// Token reuse (KernelSettings::token_reuse, else AttentionOptions.token_reuse;
// dense attention only): during a generation (RunContext step >= 0) query
// rows whose output is predicted to change little keep a forecast of their
// cached output (ops/attention_row_reuse.h); one state per guidance branch
// run as its own call, reset when the generation changes.
#include <cmath>
#include <cstring>
#include <new>

#include "ops/attention_row_reuse.h"
#include "ops/f32_attention.h"
#include "ops/f32_attention_cluster.h"
#include "ops/qs8_attention.h"
#include "runtime/kernel.h"
#include "runtime/bindings/kernel_util.h"
#include "runtime/kernel_settings.h"

namespace edge {
namespace {

struct AttentionState {
  const F32AttentionKernel* kernel = nullptr;
  const Qs8AttentionKernel* q8 = nullptr;  // INT8 attention (dense or sparse) when set
  F32AttentionParams p;  // pointers filled per eval
  float density = 0.f;   // (0, 1): block-sparse
  bool compensate = true;
  size_t attn_scratch = 0;  // bytes of the tile scratch; the plan follows it
  // Cluster-sparse: config, persistent plan state (64-byte aligned inside
  // cluster_mem), optional measurement sink.
  bool clustered = false;
  ClusterAttentionConfig cluster;
  uint8_t* cluster_mem = nullptr;
  void* cluster_state = nullptr;
  AttentionSparseOptions::Stats* stats = nullptr;
  uint32_t dense_calls = 0;  // the first evals run dense (early denoising steps)
  uint64_t calls = 0;
  // Token reuse: config, one state per branch (inside reuse_mem), the
  // generation each state belongs to, its scratch offset, measurement sink.
  bool reuse = false;
  AttentionRowReuseConfig reuse_cfg;
  int reuse_warmup = 0;
  uint8_t* reuse_mem = nullptr;
  AttentionRowReuseState reuse_state[2];
  uint64_t reuse_generation[2] = {0, 0};
  size_t reuse_scratch = 0;  // offset of the row-reuse scratch in the op's scratch
  TokenReuseOptions::Stats* reuse_stats = nullptr;
  ~AttentionState() {
    delete[] cluster_mem;
    delete[] reuse_mem;
  }
};

void Destroy(void* p) { delete static_cast<AttentionState*>(p); }

// Early denoising steps set the layout of the whole clip, and an error there
// is carried through every later step, so they run dense (as in SVG2).
constexpr uint32_t kDefaultDenseSteps = 0;

// Query rows per work item of the chosen kernel (tile plans follow it).
size_t QueryBlock(const AttentionState& s) {
  return s.q8 != nullptr ? s.q8->query_block : s.kernel->query_block;
}

// Session overrides on top of the built-in cluster defaults.
ClusterAttentionConfig ClusterConfig(const AttentionSparseOptions& o) {
  ClusterAttentionConfig c;
  if (o.top_p >= 0.f) c.top_p = o.top_p;
  if (o.min_frac >= 0.f) c.min_frac = o.min_frac;
  if (o.err_tol >= 0.f) c.err_tol = o.err_tol;
  if (o.cluster_tokens > 0) c.q_tokens_per_cluster = static_cast<uint32_t>(o.cluster_tokens);
  if (o.k_cluster_tokens > 0) c.k_tokens_per_cluster = static_cast<uint32_t>(o.k_cluster_tokens);
  if (o.kmeans_iters >= 0) c.iters = static_cast<uint32_t>(o.kmeans_iters);
  if (o.refresh >= 0) c.refresh = static_cast<uint32_t>(o.refresh);
  if (o.replan >= 0) c.replan = static_cast<uint32_t>(o.replan);
  return c;
}

Status PrepareClusters(KernelPrepareContext* ctx, AttentionState* s, float model_err_tol) {
  const AttentionSparseOptions none;
  const AttentionSparseOptions& o =
      ctx->options != nullptr ? ctx->options->attention_sparse : none;
  s->cluster = ClusterConfig(o);
  if (o.err_tol < 0.f && model_err_tol >= 0.f) s->cluster.err_tol = model_err_tol;
  s->cluster.compensate = ctx->options == nullptr || ctx->options->attention_compensation;
  s->cluster.gemm = kernel_util::Kernels(ctx).gemm;
  const ClusterAttentionConfig& c = s->cluster;
  EDGE_CHECK_OR_RETURN(std::isfinite(c.top_p) && std::isfinite(c.min_frac) &&
                           std::isfinite(c.err_tol) && c.min_frac <= 1.f,
                       StatusCode::kInvalidArgument,
                       "Attention: cluster-sparse knobs must be finite, min_frac <= 1");
  const size_t bytes = f32_cluster_attention_state_bytes(s->p, c);
  s->cluster_mem = new (std::nothrow) uint8_t[bytes + 64];
  EDGE_CHECK_OR_RETURN(s->cluster_mem != nullptr, StatusCode::kOutOfMemory,
                       "Attention: out of memory for the cluster plan (%zu bytes)", bytes);
  uint8_t* aligned = s->cluster_mem + (64 - reinterpret_cast<uintptr_t>(s->cluster_mem) % 64) % 64;
  std::memset(aligned, 0, bytes);  // zero = nothing clustered yet
  s->cluster_state = aligned;
  s->clustered = true;
  s->stats = o.stats;
  s->dense_calls = o.dense_steps >= 0 ? static_cast<uint32_t>(o.dense_steps) : kDefaultDenseSteps;
  if (s->q8 != nullptr) {
    ctx->kernel_name = c.compensate ? "qs8_attention_clustersparse_centroid" : "qs8_attention_clustersparse";
  } else {
    ctx->kernel_name = c.compensate ? "f32_attention_clustersparse_centroid"
                                    : "f32_attention_clustersparse";
  }
  return Status::Ok();
}

Status PrepareTokenReuse(KernelPrepareContext* ctx, AttentionState* s, const TokenReuseOptions& t,
                         bool sparse) {
  EDGE_CHECK_OR_RETURN(std::isfinite(t.threshold) && t.threshold > 0.f && t.warmup_steps >= 0 &&
                           t.max_stale >= 0 && t.max_stale <= 255 && (t.order == 0 || t.order == 1),
                       StatusCode::kInvalidArgument,
                       "Attention: token reuse needs a finite threshold > 0, warmup >= 0, max_stale in [0, 255] and order 0 or 1");
  EDGE_CHECK_OR_RETURN(!sparse, StatusCode::kInvalidArgument,
                       "Attention: token reuse applies to dense attention; turn sparse attention off "
                       "(--attention-sparse off, --attention-density 0)");
  s->reuse = true;
  s->reuse_cfg.threshold = t.threshold;
  s->reuse_cfg.max_stale = t.max_stale;
  s->reuse_warmup = t.warmup_steps;
  s->reuse_stats = t.stats;
  const size_t one = attention_row_reuse_state_bytes(s->p, t.order);
  s->reuse_mem = new (std::nothrow) uint8_t[2 * one + 64];
  EDGE_CHECK_OR_RETURN(s->reuse_mem != nullptr, StatusCode::kOutOfMemory,
                       "Attention: out of memory for the token-reuse state (%zu bytes)", 2 * one);
  uint8_t* aligned = s->reuse_mem + (64 - reinterpret_cast<uintptr_t>(s->reuse_mem) % 64) % 64;
  for (int b = 0; b < 2; ++b) s->reuse_state[b] = attention_row_reuse_state(s->p, t.order, aligned + b * one);
  if (t.stats != nullptr) t.stats->state_bytes += 2 * one;
  s->reuse_scratch = ctx->scratch_bytes;
  ctx->scratch_bytes += attention_row_reuse_scratch_bytes(s->p);
  // Named like the block-sparse paths: the profile and --verbose show that
  // rows are reused (the recomputed rows run the dense kernel picked above).
  ctx->kernel_name = s->q8 != nullptr ? "qs8_attention_rowreuse" : "f32_attention_rowreuse";
  return Status::Ok();
}

Status Prepare(KernelPrepareContext* ctx) {
  // Arity, F32 dtypes and the options are the validator's; the shapes are ours.
  const fb::AttentionOptions* o = ctx->node->op->options_as_AttentionOptions();
  float density = o->sparse_density();
  if (ctx->options != nullptr && ctx->options->attention_density >= 0.f) {
    density = ctx->options->attention_density;
  }
  EDGE_CHECK_OR_RETURN(std::isfinite(density) && density >= 0.f, StatusCode::kInvalidModel,
                       "Attention: sparse density %g must be >= 0", static_cast<double>(density));
  const int64_t H = o->num_heads();
  EDGE_CHECK_OR_RETURN(H >= 1, StatusCode::kInvalidModel, "Attention: num_heads %lld < 1",
                       static_cast<long long>(H));
  const TensorInfo& q = kernel_util::In(ctx, 0);
  const TensorInfo& k = kernel_util::In(ctx, 1);
  const TensorInfo& v = kernel_util::In(ctx, 2);
  const TensorInfo& y = kernel_util::Out(ctx, 0);
  char b1[96], b2[96], b3[96];
  const bool bshd = o->layout() == fb::TensorLayout::BSHD;
  const int rank = bshd ? 3 : 4;
  EDGE_CHECK_OR_RETURN(q.rank == rank && k.rank == rank && v.rank == rank && y.rank == rank,
                       StatusCode::kInvalidModel,
                       "Attention: %s layout needs rank-%d q/k/v/out, got q %s k %s v %s",
                       bshd ? "BSHD" : "BHSD", rank, kernel_util::ShapeStr(q, b1),
                       kernel_util::ShapeStr(k, b2), kernel_util::ShapeStr(v, b3));
  for (int i = 0; i < rank; ++i) {
    EDGE_CHECK_OR_RETURN(y.dims[i] == q.dims[i], StatusCode::kInvalidModel,
                         "Attention: output %s != q %s", kernel_util::ShapeStr(y, b1),
                         kernel_util::ShapeStr(q, b2));
  }
  F32AttentionParams p;
  p.heads = static_cast<size_t>(H);
  p.batch = static_cast<size_t>(q.dims[0]);
  if (bshd) {
    EDGE_CHECK_OR_RETURN(q.dims[2] % H == 0, StatusCode::kInvalidModel,
                         "Attention: q width %lld is not a multiple of num_heads %lld",
                         static_cast<long long>(q.dims[2]), static_cast<long long>(H));
    p.nq = static_cast<size_t>(q.dims[1]);
    p.nk = static_cast<size_t>(k.dims[1]);
    p.head_dim = static_cast<size_t>(q.dims[2] / H);
  } else {
    EDGE_CHECK_OR_RETURN(q.dims[1] == H, StatusCode::kInvalidModel,
                         "Attention: q heads %lld != num_heads %lld",
                         static_cast<long long>(q.dims[1]), static_cast<long long>(H));
    p.nq = static_cast<size_t>(q.dims[2]);
    p.nk = static_cast<size_t>(k.dims[2]);
    p.head_dim = static_cast<size_t>(q.dims[3]);
  }
  for (const TensorInfo* t : {&k, &v}) {
    bool ok = t->dims[0] == q.dims[0] && t->dims[rank - 1] == q.dims[rank - 1] &&
              t->dims[rank - 2] == k.dims[rank - 2];
    if (!bshd) ok = ok && t->dims[1] == H;
    EDGE_CHECK_OR_RETURN(ok, StatusCode::kInvalidModel,
                         "Attention: k %s / v %s do not match q %s", kernel_util::ShapeStr(k, b1),
                         kernel_util::ShapeStr(v, b2), kernel_util::ShapeStr(q, b3));
  }
  const float scale = o->scale();
  EDGE_CHECK_OR_RETURN(std::isfinite(scale), StatusCode::kInvalidModel,
                       "Attention: scale is not finite");
  p.scale = scale != 0.f ? scale
                         : (p.head_dim > 0 ? 1.f / std::sqrt(static_cast<float>(p.head_dim)) : 1.f);
  f32_attention_set_layout(&p, bshd ? AttentionLayout::kBSHD : AttentionLayout::kBHSD);

  AttentionState* s = new (std::nothrow) AttentionState;
  EDGE_CHECK_OR_RETURN(s != nullptr, StatusCode::kOutOfMemory, "Attention: out of memory");
  ctx->state = s;
  s->kernel = kernel_util::Kernels(ctx).attention;
  s->p = p;
  ctx->kernel_name = s->kernel->name;
  s->attn_scratch = (f32_attention_scratch_bytes(*s->kernel, p.head_dim, kernel_util::Threads(ctx->pool)) + 63) /
                    64 * 64;
  ctx->scratch_bytes = s->attn_scratch;
  int precision = static_cast<int>(o->precision());
  if (ctx->options != nullptr && ctx->options->attention_precision >= 0) {
    precision = ctx->options->attention_precision;
  }
  EDGE_CHECK_OR_RETURN(precision == static_cast<int>(AttentionPrecision::kFp32) ||
                           precision == static_cast<int>(AttentionPrecision::kInt8),
                       StatusCode::kInvalidModel, "Attention: unknown precision %d", precision);
  if (precision == static_cast<int>(AttentionPrecision::kInt8)) {
    EDGE_CHECK_OR_RETURN(p.head_dim <= kQs8AttnMaxHeadDim, StatusCode::kUnsupported,
                         "Attention: INT8 attention supports head_dim <= %zu, got %zu",
                         kQs8AttnMaxHeadDim, p.head_dim);
    s->q8 = kernel_util::Kernels(ctx).qs8_attention;
    ctx->kernel_name = s->q8->name;
    s->attn_scratch = (qs8_attention_scratch_bytes(*s->q8, p, kernel_util::Threads(ctx->pool)) + 63) / 64 * 64;
    ctx->scratch_bytes = s->attn_scratch;
  }
  // Sparse mode: the session's, else tiles when a density applies. Either
  // plan runs on the chosen arithmetic (FP32 or INT8 tiles).
  int mode = ctx->options != nullptr ? ctx->options->attention_sparse.mode : -1;
  if (mode < 0 && o->sparse_mode() == 1) mode = 2;  // the model's default
  TokenReuseOptions tr = ctx->options != nullptr ? ctx->options->token_reuse : TokenReuseOptions();
  if (tr.threshold < 0.f) tr.threshold = o->token_reuse();  // the model's default (validated >= 0)
  if (tr.threshold != 0.f) {
    const bool sparse = (mode == 2 || (mode != 0 && density > 0.f && density < 1.f)) && p.nk > 64;
    return PrepareTokenReuse(ctx, s, tr, sparse);
  }
  if (mode == 2 && p.nk > 64) return PrepareClusters(ctx, s, o->sparse_err_tol());
  if (mode != 0 && density > 0.f && density < 1.f && p.nk > 64) {
    s->density = density;
    s->compensate = ctx->options == nullptr || ctx->options->attention_compensation;
    ctx->scratch_bytes += f32_sparse_attention_workspace_bytes(p, QueryBlock(*s));
    if (s->q8 != nullptr) {
      ctx->kernel_name = s->compensate ? "qs8_attention_blocksparse_centroid" : "qs8_attention_blocksparse";
    } else {
      ctx->kernel_name = s->compensate ? "f32_attention_blocksparse_centroid" : "f32_attention_blocksparse";
    }
  }
  return Status::Ok();
}

// Dense attention of a (sub-)problem on the op's arithmetic.
struct DenseCall {
  const AttentionState* s;
  void* scratch;
  pthreadpool_t pool;
};
void AttendDense(const F32AttentionParams& p, void* user) {
  const DenseCall* c = static_cast<const DenseCall*>(user);
  if (c->s->q8 != nullptr) {
    qs8_attention(*c->s->q8, p, c->scratch, c->pool);
  } else {
    f32_attention(*c->s->kernel, p, c->scratch, c->pool);
  }
}

Status EvalTokenReuse(KernelEvalContext* ctx, AttentionState* s, const F32AttentionParams& p) {
  const RunContext& run = *ctx->run;
  DenseCall call = {s, ctx->scratch, ctx->pool};
  if (run.step < 0) {  // not in a generation: plain dense attention
    AttendDense(p, &call);
    return Status::Ok();
  }
  const int slot = run.branch == 1 ? 1 : 0;
  AttentionRowReuseState* st = &s->reuse_state[slot];
  if (s->reuse_generation[slot] != run.generation) {
    st->valid = false;
    s->reuse_generation[slot] = run.generation;
  }
  const bool full = run.step < s->reuse_warmup || run.step >= run.steps - 1;
  const size_t rows = attention_row_reuse_run(p, s->reuse_cfg, run.step, full, st,
                                              static_cast<uint8_t*>(ctx->scratch) + s->reuse_scratch,
                                              AttendDense, &call);
  TokenReuseOptions::Stats* stats = s->reuse_stats;
  if (stats != nullptr && run.step < stats->steps && stats->step_rows != nullptr) {
    stats->step_rows[run.step] += static_cast<double>(rows);
    stats->step_total[run.step] += static_cast<double>(p.batch * p.heads * p.nq);
  }
  return Status::Ok();
}

Status Eval(KernelEvalContext* ctx) {
  AttentionState* s = static_cast<AttentionState*>(ctx->state);
  F32AttentionParams p = s->p;
  p.q = ctx->input<float>(0);
  p.k = ctx->input<float>(1);
  p.v = ctx->input<float>(2);
  p.out = ctx->output<float>(0);
  if (s->reuse) return EvalTokenReuse(ctx, s, p);
  const bool warmup = s->calls++ < s->dense_calls;
  if (s->clustered && warmup) {
    if (s->stats != nullptr) {
      const double pairs = static_cast<double>(p.batch * p.heads) * p.nq * p.nk;
      s->stats->exact_pairs += pairs;
      s->stats->total_pairs += pairs;
    }
  } else if (s->clustered) {
    ClusterAttentionStats st;
    f32_cluster_attention_plan(&p, s->cluster, s->cluster_state, ctx->pool,
                               s->stats != nullptr ? &st : nullptr);
    if (s->stats != nullptr) {
      s->stats->exact_pairs += st.exact_pairs;
      s->stats->total_pairs += st.total_pairs;
      s->stats->plans += static_cast<int64_t>(st.plans);
    }
  } else if (s->density > 0.f) {
    f32_sparse_attention_plan(&p, QueryBlock(*s), s->density, s->compensate,
                              static_cast<uint8_t*>(ctx->scratch) + s->attn_scratch, ctx->pool);
  }
  if (s->q8 != nullptr) {
    qs8_attention(*s->q8, p, ctx->scratch, ctx->pool);
  } else {
    f32_attention(*s->kernel, p, ctx->scratch, ctx->pool);
  }
  return Status::Ok();
}

}  // namespace

extern const OpKernel kAttentionKernel;
const OpKernel kAttentionKernel = {Prepare, nullptr, Eval, Destroy};

}  // namespace edge
