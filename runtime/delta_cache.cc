#include "runtime/delta_cache.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace edge {
namespace {

const char* const kPolicyNames[kNumCachePolicies] = {"none", "tdc", "fb", "tea", "mag", "static", "taylor"};

// Fixed-order double sums: the decisions are reproducible.
double RelL1(const float* a, const float* b, size_t n) {
  double diff = 0.0, norm = 0.0;
  for (size_t j = 0; j < n; ++j) {
    diff += std::fabs(double(a[j]) - double(b[j]));
    norm += std::fabs(double(b[j]));
  }
  return norm > 0.0 ? diff / norm : (diff > 0.0 ? 1e30 : 0.0);
}

double Poly(const Array<float>& c, double x) {
  if (c.empty()) return x;
  double y = 0.0;
  for (float v : c) y = y * x + double(v);
  return y;
}

}  // namespace

const char* CachePolicyName(CachePolicy p) {
  const int i = static_cast<int>(p);
  return i >= 0 && i < kNumCachePolicies ? kPolicyNames[i] : "?";
}

bool ParseCachePolicy(const char* s, CachePolicy* out) {
  if (s == nullptr) return false;
  for (int i = 0; i < kNumCachePolicies; ++i) {
    if (std::strcmp(s, kPolicyNames[i]) == 0) {
      *out = static_cast<CachePolicy>(i);
      return true;
    }
  }
  return false;
}

float CacheFallbackThreshold(CachePolicy p) {
  // Points that kept >= 30 dB on the demo models without calibration
  // (bench/results/cache_curves.md); calibrated files override them.
  switch (p) {
    case CachePolicy::kTdc: return 0.1f;
    case CachePolicy::kTaylor: return 0.1f;
    case CachePolicy::kFirstBlock: return 0.05f;
    case CachePolicy::kTeaCache: return 0.1f;
    case CachePolicy::kMagCache: return 0.05f;
    case CachePolicy::kStatic: return 2.f;
    default: return 0.f;
  }
}

Status ResolveCacheOptions(const Model& model, const CacheRequest& q, CacheOptions* o, bool* calibrated) {
  EDGE_CHECK_OR_RETURN(o != nullptr, StatusCode::kInvalidArgument, "cache: null options");
  EDGE_CHECK_OR_RETURN(std::isfinite(q.scale) && q.scale >= 0.f, StatusCode::kInvalidArgument,
                       "cache: scale must be finite and >= 0, got %g", q.scale);
  EDGE_CHECK_OR_RETURN(std::isfinite(q.threshold), StatusCode::kInvalidArgument, "cache: threshold must be finite");
  *o = CacheOptions();
  if (calibrated != nullptr) *calibrated = false;
  o->max_skips = q.max_skips >= 0 ? q.max_skips : 2;
  o->warmup_steps = q.warmup_steps;
  o->compute_steps = q.compute_steps;
  const fb::CacheCalibration* cc = model.fb()->cache_calibration();
  // The first stored target unless one is asked for.
  float target = q.target_psnr;
  if (target <= 0.f && cc != nullptr && cc->policies() != nullptr && cc->policies()->size() > 0) {
    target = cc->policies()->Get(0)->target_psnr();
  }
  const fb::CachePolicyCalibration* entry = nullptr;
  CachePolicy policy = q.policy;
  if (q.model_default) {
    // The validator checked that the index names an entry.
    const fb::Tuning* tu = model.fb()->tuning();
    policy = CachePolicy::kNone;
    if (tu != nullptr && tu->cache_entry() >= 0 && cc != nullptr && cc->policies() != nullptr) {
      entry = cc->policies()->Get(static_cast<flatbuffers::uoffset_t>(tu->cache_entry()));
      policy = static_cast<CachePolicy>(entry->policy());
    }
  }
  if (cc != nullptr && cc->policies() != nullptr && !q.model_default) {
    for (const fb::CachePolicyCalibration* e : *cc->policies()) {
      if (e->target_psnr() != target) continue;
      if (q.automatic) {
        if (entry == nullptr || e->skip_fraction() > entry->skip_fraction()) entry = e;
      } else if (e->policy() == static_cast<int>(policy)) {
        entry = e;
        break;
      }
    }
  }
  if (cc != nullptr) {
    if (cc->tea_poly() != nullptr) o->tea_poly.assign(cc->tea_poly()->begin(), cc->tea_poly()->end());
    if (cc->mag_ratios() != nullptr && static_cast<int>(cc->mag_ratios()->size()) == cc->steps()) {
      o->mag_ratios.assign(cc->mag_ratios()->begin(), cc->mag_ratios()->end());
    }
  }
  if (q.automatic) {
    EDGE_CHECK_OR_RETURN(entry != nullptr, StatusCode::kInvalidArgument,
                         "cache auto: the model has no cache calibration%s (edge-convert --cache-calibrate)",
                         q.target_psnr > 0.f ? " for that target" : "");
    policy = static_cast<CachePolicy>(entry->policy());
  }
  o->policy = policy;
  if (policy == CachePolicy::kNone) return Status::Ok();
  if (entry != nullptr && calibrated != nullptr) *calibrated = q.threshold < 0.f;
  if (entry != nullptr && q.max_skips < 0 && entry->max_skips() >= 0) o->max_skips = entry->max_skips();
  if (policy == CachePolicy::kStatic) {
    float k = q.threshold >= 0.f ? q.threshold : (entry != nullptr ? entry->threshold() : CacheFallbackThreshold(policy));
    if (q.interval > 0) k = float(q.interval);
    o->interval = static_cast<int>(std::lround(k));
    return Status::Ok();
  }
  if (q.threshold >= 0.f) {
    o->threshold = q.threshold;
  } else if (entry != nullptr) {
    o->threshold = entry->threshold() * q.scale;
    if (entry->block_thresholds() != nullptr && entry->block_thresholds()->size() > 0) {
      for (float t : *entry->block_thresholds()) o->block_thresholds.push_back(t * q.scale);
    }
  } else {
    o->threshold = CacheFallbackThreshold(policy) * q.scale;
  }
  return Status::Ok();
}

Result<std::unique_ptr<DeltaCache>> DeltaCache::Create(Session* session, const CacheOptions& options,
                                                       int branches, int steps) {
  EDGE_CHECK_OR_RETURN(session != nullptr && branches >= 1 && steps >= 1, StatusCode::kInvalidArgument,
                       "delta cache: bad arguments");
  const int pol = static_cast<int>(options.policy);
  EDGE_CHECK_OR_RETURN(pol >= 0 && pol < kNumCachePolicies, StatusCode::kInvalidArgument,
                       "delta cache: unknown policy %d", pol);
  EDGE_CHECK_OR_RETURN(std::isfinite(options.threshold) && options.threshold >= 0.f,
                       StatusCode::kInvalidArgument, "delta cache: threshold must be >= 0, got %g",
                       options.threshold);
  EDGE_CHECK_OR_RETURN(options.max_skips >= 0 && options.warmup_steps >= 0 && options.interval >= 0,
                       StatusCode::kInvalidArgument,
                       "delta cache: max_skips, warmup_steps and interval must be >= 0");
  for (int s : options.compute_steps) {
    EDGE_CHECK_OR_RETURN(s >= 0, StatusCode::kInvalidArgument, "delta cache: step %d in the step list", s);
  }
  for (float t : options.block_thresholds) {
    EDGE_CHECK_OR_RETURN(std::isfinite(t) && t >= 0.f, StatusCode::kInvalidArgument,
                         "delta cache: per-block thresholds must be finite and >= 0");
  }
  for (float t : options.tea_poly) {
    EDGE_CHECK_OR_RETURN(std::isfinite(t), StatusCode::kInvalidArgument,
                         "delta cache: rescaling polynomial must be finite");
  }
  for (float t : options.mag_ratios) {
    EDGE_CHECK_OR_RETURN(std::isfinite(t) && t > 0.f, StatusCode::kInvalidArgument,
                         "delta cache: magnitude ratios must be finite and > 0");
  }
  std::unique_ptr<DeltaCache> c(new (std::nothrow) DeltaCache());
  EDGE_CHECK_OR_RETURN(c != nullptr && CopyOptions(options, &c->options_), StatusCode::kOutOfMemory,
                       "delta cache: out of memory");
  c->session_ = session;
  c->branches_ = branches;
  const Model& m = session->model();

  // Usable regions: F32 input/output of equal size, ranges disjoint, and no
  // tensor made inside the range other than its output read after it (else
  // skipping would leave that tensor stale). Others are simply always run.
  Array<int> last_reader;
  EDGE_CHECK_OR_RETURN(last_reader.Reset(static_cast<size_t>(m.num_tensors()), -1) &&
                           c->regions_.Reset(m.cache_regions().size()),
                       StatusCode::kOutOfMemory, "delta cache: out of memory");
  size_t num_regions = 0;
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
    const size_t token = out.rank >= 1 && out.dims[out.rank - 1] > 0 ? static_cast<size_t>(out.dims[out.rank - 1]) : 1;
    c->regions_[num_regions++] = {r.first_op, r.last_op, r.input, r.output, static_cast<size_t>(out.num_elements),
                                  static_cast<size_t>(out.num_elements) % token == 0 ? token : 1};
    prev_last = r.last_op;
  }
  c->regions_.Truncate(num_regions);
  if (!options.block_thresholds.empty()) {
    EDGE_CHECK_OR_RETURN(options.block_thresholds.size() == c->regions_.size(), StatusCode::kInvalidArgument,
                         "delta cache: %zu per-block thresholds for %zu cache regions",
                         options.block_thresholds.size(), c->regions_.size());
  }

  // TeaCache indicator: block 0's modulated input, i.e. the output of its
  // first Modulate op, else the input of its first Linear on a tensor of the
  // residual's size, else the block input itself.
  if (!c->regions_.empty()) {
    const Region& r0 = c->regions_[0];
    c->tea_op_ = r0.first_op - 1;
    c->tea_tensor_ = r0.input;
    for (int i = r0.first_op; i <= r0.last_op; ++i) {
      const NodeInfo& n = m.node(i);
      if (n.type == fb::OpType::Modulate && !n.outputs.empty() &&
          m.tensor(n.outputs[0]).num_elements == static_cast<int64_t>(r0.elements) &&
          m.tensor(n.outputs[0]).dtype == fb::DType::F32) {
        c->tea_op_ = i;
        c->tea_tensor_ = n.outputs[0];
        break;
      }
      if (n.type == fb::OpType::Linear && !n.inputs.empty() && n.inputs[0] >= 0 &&
          m.tensor(n.inputs[0]).num_elements == static_cast<int64_t>(r0.elements) &&
          m.tensor(n.inputs[0]).dtype == fb::DType::F32) {
        c->tea_op_ = i - 1;
        c->tea_tensor_ = n.inputs[0];
        break;
      }
    }
    c->tea_elements_ = static_cast<size_t>(m.tensor(c->tea_tensor_).num_elements);
  }

  // All storage planned here: nothing is allocated while running. Every
  // Reset zero-fills; one that fails is kOutOfMemory (the cache and what it
  // got so far are freed with it).
  bool ok = c->stats_.step_skipped.Reset(steps) && c->stats_.step_computed.Reset(steps) &&
            c->stats_.step_blocks.Reset(steps);
  const size_t mask_len = size_t(branches) * (c->regions_.size() + 1) - 1;
  for (int s = 0; ok && s < steps; ++s) {
    Array<char>& mask = c->stats_.step_blocks[s];
    ok = mask.Reset(mask_len + 1, '-');
    if (!ok) break;
    mask[mask_len] = '\0';
    for (int b = 1; b < branches; ++b) mask[size_t(b) * (c->regions_.size() + 1) - 1] = '|';
  }
  if (ok && options.probe) {
    ok = c->stats_.probe_tea_rel.Reset(steps) && c->stats_.probe_resid_rel.Reset(steps) &&
         c->stats_.probe_mag.Reset(steps) && c->stats_.probe_count.Reset(steps);
  }
  if (ok && (c->enabled() || options.probe)) {
    const bool forecast = options.policy == CachePolicy::kTaylor;
    ok = c->states_.Reset(branches) && c->global_.Reset(branches);
    for (size_t b = 0; ok && b < c->states_.size(); ++b) {
      Array<RegionState>& branch = c->states_[b];
      ok = branch.Reset(c->regions_.size());
      for (size_t i = 0; ok && i < branch.size(); ++i) {
        const size_t e = c->regions_[i].elements, tokens = e / c->regions_[i].token;
        // fb never reuses block 0 and compares its residual directly: kept in FP32.
        const bool int8 = c->Int8(i);
        if (int8) {
          ok = branch[i].q.Reset(e) && branch[i].scale.Reset(tokens);
          c->delta_bytes_ += e + tokens * sizeof(float);
        } else {
          ok = branch[i].delta.Reset(e);
          c->delta_bytes_ += e * sizeof(float);
        }
        if (forecast && int8) {
          ok = ok && branch[i].q_prev.Reset(e) && branch[i].scale_prev.Reset(tokens);
          c->delta_bytes_ += e + tokens * sizeof(float);
        } else if (forecast) {
          ok = ok && branch[i].delta_prev.Reset(e);
          c->delta_bytes_ += e * sizeof(float);
        }
      }
    }
    for (size_t b = 0; ok && b < c->global_.size(); ++b) {
      size_t n = 0;
      if (options.policy == CachePolicy::kFirstBlock && !c->regions_.empty()) n = c->regions_[0].elements;
      if (options.policy == CachePolicy::kTeaCache || options.probe) n = c->tea_elements_;
      ok = c->global_[b].ref.Reset(n);
      c->delta_bytes_ += n * sizeof(float);
    }
  }
  EDGE_CHECK_OR_RETURN(ok, StatusCode::kOutOfMemory,
                       "delta cache: out of memory for %d steps of %zu regions in %d branches", steps,
                       c->regions_.size(), branches);
  return c;
}

bool DeltaCache::CopyOptions(const CacheOptions& from, Options* to) {
  to->policy = from.policy;
  to->threshold = from.threshold;
  to->max_skips = from.max_skips;
  to->warmup_steps = from.warmup_steps;
  to->interval = from.interval;
  to->probe = from.probe;
  to->drop_instead_of_reuse = from.drop_instead_of_reuse;
  to->delta_int8 = from.delta_int8;
  return to->compute_steps.Assign(from.compute_steps.begin(), from.compute_steps.end()) &&
         to->block_thresholds.Assign(from.block_thresholds.begin(), from.block_thresholds.end()) &&
         to->tea_poly.Assign(from.tea_poly.begin(), from.tea_poly.end()) &&
         to->mag_ratios.Assign(from.mag_ratios.begin(), from.mag_ratios.end());
}

bool DeltaCache::enabled() const {
  if (regions_.empty() || options_.probe) return false;
  switch (options_.policy) {
    case CachePolicy::kNone:
      return false;
    case CachePolicy::kStatic:
      return options_.interval > 1 || !options_.compute_steps.empty();
    default:
      return options_.threshold > 0.f;
  }
}

void DeltaCache::Reset() {
  for (auto& branch : states_) {
    for (RegionState& s : branch) {
      s.computes = 0;
      s.last_compute_step = s.prev_compute_step = -1;
      s.skips_in_row = 0;
      s.rate = s.acc = 0.0;
    }
  }
  for (GlobalState& g : global_) {
    g.computes = 0;
    g.last_compute_step = g.mag_prev_step = -1;
    g.skips_in_row = 0;
    g.acc = 0.0;
    g.ratio_acc = 1.0;
    g.mag_last = g.mag_prev = 0.0;
    g.has_ref = false;
  }
}

double DeltaCache::Threshold(int region) const {
  if (!options_.block_thresholds.empty()) return options_.block_thresholds[static_cast<size_t>(region)];
  return options_.threshold;
}

void DeltaCache::Mark(int branch, int step, int region, char c) {
  if (step < 0 || step >= static_cast<int>(stats_.step_blocks.size())) return;
  stats_.step_blocks[step][size_t(branch) * (regions_.size() + 1) + size_t(region)] = c;
  if (c == 'c') {
    stats_.blocks_computed += 1;
    stats_.step_computed[step] += 1;
  } else {
    stats_.blocks_skipped += 1;
    stats_.step_skipped[step] += 1;
  }
}

Status DeltaCache::Compute(int index, RegionState* st, int step, int first_op) {
  const Region& r = regions_[static_cast<size_t>(index)];
  if (first_op <= r.last_op) EDGE_RETURN_IF_ERROR(session_->InvokeRange(first_op, r.last_op));
  const float* in = static_cast<const float*>(session_->data(r.input));
  const float* out = static_cast<const float*>(session_->data(r.output));
  // New delta, and how much it moved since the last compute.
  double diff = 0.0, norm = 0.0;
  if (!st->q.empty()) {
    StoreInt8(r, st, in, out, &diff, &norm);
  } else {
    float* d = st->delta.data();
    if (!st->delta_prev.empty() && st->computes >= 1) std::memcpy(st->delta_prev.data(), d, r.elements * sizeof(float));
    for (size_t j = 0; j < r.elements; ++j) {
      const float nd = out[j] - in[j];
      diff += std::fabs(double(nd) - double(d[j]));
      norm += std::fabs(double(d[j]));
      d[j] = nd;
    }
  }
  if (st->computes >= 1) {
    const int gap = std::max(1, step - st->last_compute_step);
    st->rate = norm > 0.0 ? diff / norm / gap : 1e30;
  }
  st->computes += 1;
  st->prev_compute_step = st->last_compute_step;
  st->last_compute_step = step;
  st->skips_in_row = 0;
  st->acc = 0.0;
  return Status::Ok();
}

void DeltaCache::StoreInt8(const Region& r, RegionState* st, const float* in, const float* out, double* diff,
                           double* norm) {
  if (!st->q_prev.empty() && st->computes >= 1) {
    std::memcpy(st->q_prev.data(), st->q.data(), r.elements);
    std::memcpy(st->scale_prev.data(), st->scale.data(), st->scale.size() * sizeof(float));
  }
  const size_t T = r.token;
  for (size_t t = 0; t < st->scale.size(); ++t) {
    const float* a = in + t * T;
    const float* b = out + t * T;
    int8_t* q = st->q.data() + t * T;
    const float s_old = st->scale[t];
    float amax = 0.f;
    for (size_t j = 0; j < T; ++j) {
      const float nd = b[j] - a[j];
      const float od = float(q[j]) * s_old;
      *diff += std::fabs(double(nd) - double(od));
      *norm += std::fabs(double(od));
      amax = std::max(amax, std::fabs(nd));
    }
    // Symmetric per-token scale; a zero row keeps scale 0 and codes 0.
    const float s = amax / 127.f;
    const float inv = s > 0.f ? 1.f / s : 0.f;
    for (size_t j = 0; j < T; ++j) {
      const float v = std::nearbyint((b[j] - a[j]) * inv);
      q[j] = static_cast<int8_t>(std::max(-127.f, std::min(127.f, v)));
    }
    st->scale[t] = s;
  }
}

double DeltaCache::DeltaL1(const Region& r, const RegionState& st) const {
  double a = 0.0;
  if (!st.q.empty()) {
    for (size_t j = 0; j < r.elements; ++j) a += std::fabs(double(st.q[j]) * double(st.scale[j / r.token]));
  } else {
    for (size_t j = 0; j < r.elements; ++j) a += std::fabs(double(st.delta[j]));
  }
  return a;
}

void DeltaCache::Reuse(int index, RegionState* st, int step) {
  const Region& r = regions_[static_cast<size_t>(index)];
  const float* in = static_cast<const float*>(session_->data(r.input));
  float* out = static_cast<float*>(session_->data(r.output));
  const float* d = st->delta.data();
  if (options_.drop_instead_of_reuse) {
    std::memcpy(out, in, r.elements * sizeof(float));
  } else if (!st->q.empty()) {
    const size_t T = r.token;
    const bool fc = !st->q_prev.empty() && st->computes >= 2 && st->prev_compute_step >= 0;
    const float a = fc ? float(step - st->last_compute_step) /
                             float(std::max(1, st->last_compute_step - st->prev_compute_step))
                       : 0.f;
    for (size_t t = 0; t < st->scale.size(); ++t) {
      const int8_t* q = st->q.data() + t * T;
      const float s = st->scale[t];
      const size_t o = t * T;
      if (fc) {
        const int8_t* q0 = st->q_prev.data() + t * T;
        const float s0 = st->scale_prev[t];
        for (size_t j = 0; j < T; ++j) {
          const float d1 = float(q[j]) * s, d0 = float(q0[j]) * s0;
          out[o + j] = in[o + j] + (d1 + a * (d1 - d0));
        }
      } else {
        for (size_t j = 0; j < T; ++j) out[o + j] = in[o + j] + float(q[j]) * s;
      }
    }
  } else if (options_.policy == CachePolicy::kTaylor && st->computes >= 2 && st->prev_compute_step >= 0) {
    // First-order forecast in step index from the last two computations.
    const float a = float(step - st->last_compute_step) /
                    float(std::max(1, st->last_compute_step - st->prev_compute_step));
    const float* d0 = st->delta_prev.data();
    for (size_t j = 0; j < r.elements; ++j) out[j] = in[j] + (d[j] + a * (d[j] - d0[j]));
  } else {
    for (size_t j = 0; j < r.elements; ++j) out[j] = in[j] + d[j];
  }
  st->skips_in_row += 1;
}

Status DeltaCache::RunPerBlock(int branch, int step, int steps) {
  const int num_ops = session_->model().num_nodes();
  const bool forecast = options_.policy == CachePolicy::kTaylor;
  int cursor = 0;
  for (size_t i = 0; i < regions_.size(); ++i) {
    const Region& r = regions_[i];
    RegionState* st = &states_[branch][i];
    if (cursor < r.first_op) EDGE_RETURN_IF_ERROR(session_->InvokeRange(cursor, r.first_op - 1));
    cursor = r.last_op + 1;
    const bool must_compute = step < options_.warmup_steps || step == steps - 1 || st->computes < 2;
    if (!must_compute) {
      st->acc += st->rate;
      if (st->acc < Threshold(static_cast<int>(i)) && st->skips_in_row < options_.max_skips) {
        Reuse(static_cast<int>(i), st, step);
        Mark(branch, step, static_cast<int>(i), forecast ? 'f' : 's');
        continue;
      }
    }
    EDGE_RETURN_IF_ERROR(Compute(static_cast<int>(i), st, step, r.first_op));
    Mark(branch, step, static_cast<int>(i), 'c');
  }
  if (cursor < num_ops) EDGE_RETURN_IF_ERROR(session_->InvokeRange(cursor, num_ops - 1));
  return Status::Ok();
}

// Policies deciding once per step for all blocks (fb: all but block 0), plus
// the probe (every block computed, the signals recorded).
Status DeltaCache::RunGlobal(int branch, int step, int steps) {
  const int num_ops = session_->model().num_nodes();
  GlobalState& g = global_[branch];
  Array<RegionState>& states = states_[branch];
  const CachePolicy pol = options_.policy;
  const bool probe = options_.probe;
  bool must_compute = step < options_.warmup_steps || step == steps - 1 || g.computes < 1;
  for (const RegionState& s : states) must_compute = must_compute || s.computes < 1;

  const Region& r0 = regions_[0];
  if (r0.first_op > 0) EDGE_RETURN_IF_ERROR(session_->InvokeRange(0, r0.first_op - 1));
  int r0_done = r0.first_op;  // next op of region 0 still to run
  bool skip = false;
  double tea_rel = 0.0;
  if (pol == CachePolicy::kTeaCache || probe) {
    if (tea_op_ >= r0.first_op) EDGE_RETURN_IF_ERROR(session_->InvokeRange(r0.first_op, tea_op_));
    r0_done = tea_op_ + 1;
    const float* m = static_cast<const float*>(session_->data(tea_tensor_));
    // The indicator is refreshed every step (TeaCache's rule).
    tea_rel = g.has_ref ? RelL1(m, g.ref.data(), tea_elements_) : 0.0;
    std::memcpy(g.ref.data(), m, tea_elements_ * sizeof(float));
    const bool had_ref = g.has_ref;
    g.has_ref = true;
    if (pol == CachePolicy::kTeaCache && !probe) {
      if (!had_ref) must_compute = true;
      g.acc += Poly(options_.tea_poly, tea_rel);
      skip = !must_compute && g.acc < options_.threshold && g.skips_in_row < options_.max_skips;
    }
  }
  if (probe) skip = false;
  else if (pol == CachePolicy::kFirstBlock) {
    // Block 0 always runs; its residual change since the last full step decides.
    EDGE_RETURN_IF_ERROR(Compute(0, &states[0], step, r0_done));
    Mark(branch, step, 0, 'c');
    r0_done = r0.last_op + 1;
    const double rel = g.has_ref ? RelL1(states[0].delta.data(), g.ref.data(), r0.elements) : 1e30;
    skip = !must_compute && rel < options_.threshold && g.skips_in_row < options_.max_skips;
    if (!skip) {
      std::memcpy(g.ref.data(), states[0].delta.data(), r0.elements * sizeof(float));
      g.has_ref = true;
    }
  } else if (pol == CachePolicy::kMagCache) {
    double ratio;
    if (!options_.mag_ratios.empty()) {
      const size_t n = options_.mag_ratios.size();
      // Calibrated curve; a run with other step counts samples it by position.
      const size_t k = steps > 1 ? std::min(n - 1, size_t(std::lround(double(step) * (n - 1) / (steps - 1)))) : 0;
      ratio = options_.mag_ratios[k];
    } else if (g.mag_prev > 0.0 && g.mag_prev_step >= 0) {
      const int gap = std::max(1, g.last_compute_step - g.mag_prev_step);
      ratio = std::pow(g.mag_last / g.mag_prev, 1.0 / gap);
    } else {
      ratio = 0.0;  // unknown: forces a compute below
      must_compute = true;
    }
    g.ratio_acc *= ratio;
    g.acc += std::fabs(1.0 - g.ratio_acc);
    skip = !must_compute && g.acc < options_.threshold && g.skips_in_row < options_.max_skips;
  } else if (pol == CachePolicy::kStatic) {
    bool compute_now;
    if (!options_.compute_steps.empty()) {
      compute_now = std::find(options_.compute_steps.begin(), options_.compute_steps.end(), step) !=
                    options_.compute_steps.end();
    } else {
      compute_now = step < options_.warmup_steps || (step - options_.warmup_steps) % options_.interval == 0;
    }
    skip = !must_compute && !compute_now;
  }

  int cursor = r0_done;
  double mag = 0.0, resid_rel = 0.0;
  const int first = (pol == CachePolicy::kFirstBlock && !probe) ? 1 : 0;
  for (size_t i = first; i < regions_.size(); ++i) {
    const Region& r = regions_[i];
    if (i > 0 && cursor < r.first_op) EDGE_RETURN_IF_ERROR(session_->InvokeRange(cursor, r.first_op - 1));
    if (skip) {
      Reuse(static_cast<int>(i), &states[i], step);
      Mark(branch, step, static_cast<int>(i), 's');
    } else {
      EDGE_RETURN_IF_ERROR(Compute(static_cast<int>(i), &states[i], step, i == 0 ? r0_done : r.first_op));
      Mark(branch, step, static_cast<int>(i), 'c');
      mag += DeltaL1(r, states[i]) / double(r.elements);
      resid_rel += states[i].rate;
    }
    cursor = r.last_op + 1;
  }
  if (cursor < num_ops) EDGE_RETURN_IF_ERROR(session_->InvokeRange(cursor, num_ops - 1));

  if (skip) {
    g.skips_in_row += 1;
  } else {
    if (pol == CachePolicy::kMagCache || probe) {
      g.mag_prev = g.mag_last;
      g.mag_prev_step = g.last_compute_step;
      g.mag_last = mag;
    }
    g.computes += 1;
    g.last_compute_step = step;
    g.skips_in_row = 0;
    g.acc = 0.0;
    g.ratio_acc = 1.0;
  }
  if (probe && step < static_cast<int>(stats_.probe_count.size())) {
    // Signals between consecutive computed steps (every step in a probe).
    const double n = double(regions_.size() - first);
    stats_.probe_tea_rel[step] += tea_rel;
    stats_.probe_resid_rel[step] += n > 0 ? resid_rel / n : 0.0;
    stats_.probe_mag[step] += g.mag_prev > 0.0 ? g.mag_last / g.mag_prev : 1.0;
    stats_.probe_count[step] += 1;
  }
  return Status::Ok();
}

Status DeltaCache::Run(int branch, int step, int steps) {
  if (!enabled() && !options_.probe) {
    if (step >= 0 && step < static_cast<int>(stats_.step_computed.size())) {
      stats_.step_computed[step] += static_cast<int64_t>(regions_.size());
      for (size_t i = 0; i < regions_.size(); ++i) {
        stats_.step_blocks[step][size_t(branch) * (regions_.size() + 1) + i] = 'c';
      }
    }
    stats_.blocks_computed += static_cast<int64_t>(regions_.size());
    return session_->Invoke();
  }
  EDGE_CHECK_OR_RETURN(branch >= 0 && branch < static_cast<int>(states_.size()), StatusCode::kInternal,
                       "delta cache: branch %d out of range", branch);
  EDGE_CHECK_OR_RETURN(step >= 0 && step < static_cast<int>(stats_.step_computed.size()), StatusCode::kInvalidArgument,
                       "delta cache: step %d outside the %zu planned", step, stats_.step_computed.size());
  if (!options_.probe && (options_.policy == CachePolicy::kTdc || options_.policy == CachePolicy::kTaylor)) {
    return RunPerBlock(branch, step, steps);
  }
  return RunGlobal(branch, step, steps);
}

}  // namespace edge
