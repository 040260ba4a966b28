#include "runtime/delta_cache.h"

#include <algorithm>
#include <cmath>

namespace edge {

Result<std::unique_ptr<DeltaCache>> DeltaCache::Create(Session* session, const CacheOptions& options,
                                                       int branches) {
  EDGE_CHECK_OR_RETURN(session != nullptr && branches >= 1, StatusCode::kInvalidArgument,
                       "delta cache: bad arguments");
  EDGE_CHECK_OR_RETURN(std::isfinite(options.threshold) && options.threshold >= 0.f,
                       StatusCode::kInvalidArgument, "delta cache: threshold must be >= 0, got %g",
                       options.threshold);
  EDGE_CHECK_OR_RETURN(options.max_skips >= 0 && options.warmup_steps >= 0, StatusCode::kInvalidArgument,
                       "delta cache: max_skips and warmup_steps must be >= 0");
  std::unique_ptr<DeltaCache> c(new (std::nothrow) DeltaCache());
  EDGE_CHECK_OR_RETURN(c != nullptr, StatusCode::kOutOfMemory, "delta cache: out of memory");
  c->session_ = session;
  c->options_ = options;
  const Model& m = session->model();

  // Usable regions: F32 input/output of equal size, ranges disjoint, and no
  // tensor made inside the range other than its output read after it (else
  // skipping would leave that tensor stale). Others are simply always run.
  std::vector<int> last_reader(m.num_tensors(), -1);
  for (int i = 0; i < m.num_nodes(); ++i) {
    for (int t : m.node(i).inputs) {
      if (t >= 0) last_reader[t] = i;
    }
  }
  for (int t : m.outputs()) last_reader[t] = m.num_nodes();
  int prev_last = -1;
  for (const CacheRegionInfo& r : m.cache_regions()) {
    const TensorInfo& in = m.tensor(r.input);
    const TensorInfo& out = m.tensor(r.output);
    bool ok = r.first_op > prev_last && in.dtype == fb::DType::F32 && out.dtype == fb::DType::F32 &&
              in.num_elements == out.num_elements && !in.is_constant;
    for (int i = r.first_op; ok && i <= r.last_op; ++i) {
      for (int t : m.node(i).outputs) {
        if (t != r.output && last_reader[t] > r.last_op) ok = false;
      }
    }
    if (!ok) continue;
    c->regions_.push_back({r.first_op, r.last_op, r.input, r.output, static_cast<size_t>(out.num_elements)});
    prev_last = r.last_op;
  }
  if (options.threshold > 0.f) {
    c->states_.assign(branches, std::vector<RegionState>(c->regions_.size()));
    for (auto& branch : c->states_) {
      for (size_t i = 0; i < branch.size(); ++i) branch[i].delta.assign(c->regions_[i].elements, 0.f);
    }
  }
  return c;
}

void DeltaCache::Reset() {
  for (auto& branch : states_) {
    for (RegionState& s : branch) {
      s.computes = 0;
      s.last_compute_step = -1;
      s.skips_in_row = 0;
      s.rate = s.acc = 0.0;
    }
  }
}

Status DeltaCache::RunRegion(const Region& r, RegionState* st, int step, int steps) {
  float* in = static_cast<float*>(session_->data(r.input));
  float* out = static_cast<float*>(session_->data(r.output));
  const bool must_compute = step < options_.warmup_steps || step == steps - 1 || st->computes < 2;
  if (!must_compute) {
    st->acc += st->rate;
    if (st->acc < options_.threshold && st->skips_in_row < options_.max_skips) {
      for (size_t j = 0; j < r.elements; ++j) out[j] = in[j] + st->delta[j];
      st->skips_in_row += 1;
      stats_.blocks_skipped += 1;
      return Status::Ok();
    }
  }
  EDGE_RETURN_IF_ERROR(session_->InvokeRange(r.first_op, r.last_op));
  stats_.blocks_computed += 1;
  // New delta, and how much it moved since the last compute (fixed-order
  // sums in double: the decision is reproducible).
  double diff = 0.0, norm = 0.0;
  float* d = st->delta.data();
  for (size_t j = 0; j < r.elements; ++j) {
    const float nd = out[j] - in[j];
    diff += std::fabs(double(nd) - double(d[j]));
    norm += std::fabs(double(d[j]));
    d[j] = nd;
  }
  if (st->computes >= 1) {
    const int gap = std::max(1, step - st->last_compute_step);
    st->rate = norm > 0.0 ? diff / norm / gap : 1e30;
  }
  st->computes += 1;
  st->last_compute_step = step;
  st->skips_in_row = 0;
  st->acc = 0.0;
  return Status::Ok();
}

Status DeltaCache::Run(int branch, int step, int steps) {
  if (!enabled()) {
    stats_.blocks_computed += static_cast<int64_t>(regions_.size());
    return session_->Invoke();
  }
  EDGE_CHECK_OR_RETURN(branch >= 0 && branch < static_cast<int>(states_.size()), StatusCode::kInternal,
                       "delta cache: branch %d out of range", branch);
  const int num_ops = session_->model().num_nodes();
  int cursor = 0;
  for (size_t i = 0; i < regions_.size(); ++i) {
    const Region& r = regions_[i];
    if (cursor < r.first_op) EDGE_RETURN_IF_ERROR(session_->InvokeRange(cursor, r.first_op - 1));
    EDGE_RETURN_IF_ERROR(RunRegion(r, &states_[branch][i], step, steps));
    cursor = r.last_op + 1;
  }
  if (cursor < num_ops) EDGE_RETURN_IF_ERROR(session_->InvokeRange(cursor, num_ops - 1));
  return Status::Ok();
}

}  // namespace edge
