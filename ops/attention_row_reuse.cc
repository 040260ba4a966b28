#include "ops/attention_row_reuse.h"

#include <cmath>
#include <cstring>

namespace edge {
namespace {

size_t Align64(size_t n) { return (n + 63) / 64 * 64; }

size_t RefFloats(const F32AttentionParams& p) { return p.batch * p.heads * p.nq * p.head_dim; }

// The dense sub-problem of one (batch, head): its queries `q` (token stride
// q_ts, may be a gathered block) against all keys and values of (b, h).
F32AttentionParams HeadView(const F32AttentionParams& p, size_t b, size_t h, const float* q,
                            size_t q_ts, size_t nq, float* out, size_t o_ts) {
  F32AttentionParams s;
  s.batch = 1;
  s.heads = 1;
  s.nq = nq;
  s.nk = p.nk;
  s.head_dim = p.head_dim;
  s.scale = p.scale;
  s.q = q;
  s.q_ts = q_ts;
  s.k = p.k + b * p.k_bs + h * p.k_hs;
  s.k_ts = p.k_ts;
  s.v = p.v + b * p.v_bs + h * p.v_hs;
  s.v_ts = p.v_ts;
  s.out = out;
  s.o_ts = o_ts;
  return s;
}

// Copies nq rows of dh floats between a strided head and a packed one.
void CopyRows(float* dst, size_t dst_ts, const float* src, size_t src_ts, size_t nq, size_t dh) {
  for (size_t i = 0; i < nq; ++i) std::memcpy(dst + i * dst_ts, src + i * src_ts, dh * sizeof(float));
}

}  // namespace

size_t attention_row_reuse_state_bytes(const F32AttentionParams& p, int order) {
  const size_t rows = p.batch * p.heads * p.nq;
  return (order >= 1 ? 2 : 1) * Align64(RefFloats(p) * sizeof(float)) + Align64(rows * sizeof(float)) +
         2 * Align64(rows * sizeof(int32_t)) + Align64(rows);
}

AttentionRowReuseState attention_row_reuse_state(const F32AttentionParams& p, int order, void* mem) {
  AttentionRowReuseState st;
  const size_t rows = p.batch * p.heads * p.nq;
  uint8_t* m = static_cast<uint8_t*>(mem);
  st.o_ref = reinterpret_cast<float*>(m);
  m += Align64(RefFloats(p) * sizeof(float));
  if (order >= 1) {
    st.o_prev = reinterpret_cast<float*>(m);
    m += Align64(RefFloats(p) * sizeof(float));
  }
  st.rate = reinterpret_cast<float*>(m);
  m += Align64(rows * sizeof(float));
  st.step = reinterpret_cast<int32_t*>(m);
  m += Align64(rows * sizeof(int32_t));
  st.gap = reinterpret_cast<int32_t*>(m);
  m += Align64(rows * sizeof(int32_t));
  st.stale = m;
  st.valid = false;
  return st;
}

size_t attention_row_reuse_scratch_bytes(const F32AttentionParams& p) {
  return 2 * Align64(p.nq * p.head_dim * sizeof(float)) + Align64(p.nq * sizeof(uint32_t)) +
         Align64(p.head_dim * sizeof(float));
}

namespace {

// What a row reused now stands at: its cached output, or with two computed
// outputs their first-order extrapolation to `ahead` steps past the cached
// one (TaylorSeer-like), which follows a smoothly moving row.
void Predict(const AttentionRowReuseState& st, size_t r, size_t dh, double ahead, float* out) {
  const float* ref = st.o_ref + r * dh;
  if (st.o_prev == nullptr || st.gap[r] == 0) {
    std::memcpy(out, ref, dh * sizeof(float));
    return;
  }
  const float* prev = st.o_prev + r * dh;
  const float a = static_cast<float>(ahead / double(st.gap[r]));
  for (size_t j = 0; j < dh; ++j) out[j] = ref[j] + a * (ref[j] - prev[j]);
}

// Steps since row r was computed (at least 1: a repeated step counts as the next).
int Elapsed(const AttentionRowReuseState& st, size_t r, int step) {
  const int64_t e = int64_t(step) - int64_t(st.step[r]);
  return e >= 1 ? static_cast<int>(e) : 1;
}

// A freshly computed output row `o` of state row r at `step`: the error its
// reuse would have had (against the prediction, per step since the cached
// row was computed) becomes its rate; then it is cached. `tmp` holds dh floats.
void Refresh(AttentionRowReuseState* st, size_t r, const float* o, size_t dh, bool had_ref, int step,
             float* tmp) {
  float* ref = st->o_ref + r * dh;
  const int gap = had_ref ? Elapsed(*st, r, step) : 0;
  if (had_ref) {
    Predict(*st, r, dh, gap, tmp);
    double diff = 0.0, norm = 0.0;
    for (size_t j = 0; j < dh; ++j) {
      const double e = double(o[j]) - double(tmp[j]);
      diff += e * e;
      norm += double(o[j]) * double(o[j]);
    }
    // A non-finite row (NaN compares false) gets an infinite rate: it is
    // recomputed every step, so its output follows dense attention's.
    const double rel = norm > 0.0 ? std::sqrt(diff / norm) : (diff == 0.0 ? 0.0 : HUGE_VAL);
    st->rate[r] = static_cast<float>(rel / double(gap));
  } else {
    st->rate[r] = -1.f;  // unknown until the next computation
  }
  if (st->o_prev != nullptr) {
    std::memcpy(st->o_prev + r * dh, ref, dh * sizeof(float));
    st->gap[r] = gap;
  }
  std::memcpy(ref, o, dh * sizeof(float));
  st->step[r] = step;
  st->stale[r] = 0;
}

}  // namespace

size_t attention_row_reuse_run(const F32AttentionParams& p, const AttentionRowReuseConfig& c, int step,
                               bool full, AttentionRowReuseState* st, void* scratch,
                               AttentionFn attend, void* user) {
  const size_t dh = p.head_dim, nq = p.nq;
  uint8_t* m = static_cast<uint8_t*>(scratch);
  float* qc = reinterpret_cast<float*>(m);
  float* oc = reinterpret_cast<float*>(m + Align64(nq * dh * sizeof(float)));
  uint32_t* rows = reinterpret_cast<uint32_t*>(m + 2 * Align64(nq * dh * sizeof(float)));
  float* tmp = reinterpret_cast<float*>(m + 2 * Align64(nq * dh * sizeof(float)) + Align64(nq * sizeof(uint32_t)));
  if (full || !st->valid) {
    // One dense call (the whole problem at once parallelizes best), then
    // every row's rate and cached output.
    attend(p, user);
    for (size_t b = 0; b < p.batch; ++b) {
      for (size_t h = 0; h < p.heads; ++h) {
        const size_t bh = b * p.heads + h;
        const float* oh = p.out + b * p.o_bs + h * p.o_hs;
        for (size_t i = 0; i < nq; ++i) Refresh(st, bh * nq + i, oh + i * p.o_ts, dh, st->valid, step, tmp);
      }
    }
    st->valid = true;
    return p.batch * p.heads * nq;
  }
  size_t computed = 0;
  for (size_t b = 0; b < p.batch; ++b) {
    for (size_t h = 0; h < p.heads; ++h) {
      const size_t bh = b * p.heads + h;
      const float* qh = p.q + b * p.q_bs + h * p.q_hs;
      float* oh = p.out + b * p.o_bs + h * p.o_hs;
      size_t n = 0;
      for (size_t i = 0; i < nq; ++i) {
        const size_t r = bh * nq + i;
        // Reuse while the change this row would have gathered by now (its
        // last measured rate times the steps since it was computed, which
        // counts steps this op did not run, e.g. under the step cache) stays
        // under the threshold. An unknown or non-finite rate recomputes.
        const float rate = st->rate[r];
        const bool reuse = rate >= 0.f && rate * float(Elapsed(*st, r, step)) < c.threshold &&
                           st->stale[r] < static_cast<uint32_t>(c.max_stale);
        if (!reuse) rows[n++] = static_cast<uint32_t>(i);
      }
      computed += n;
      if (n == nq) {
        attend(HeadView(p, b, h, qh, p.q_ts, nq, oh, p.o_ts), user);
        for (size_t i = 0; i < nq; ++i) Refresh(st, bh * nq + i, oh + i * p.o_ts, dh, true, step, tmp);
        continue;
      }
      if (n > 0) {
        for (size_t j = 0; j < n; ++j) std::memcpy(qc + j * dh, qh + rows[j] * p.q_ts, dh * sizeof(float));
        attend(HeadView(p, b, h, qc, dh, n, oc, dh), user);
      }
      size_t j = 0;
      for (size_t i = 0; i < nq; ++i) {
        const size_t r = bh * nq + i;
        float* o = oh + i * p.o_ts;
        if (j < n && rows[j] == i) {
          std::memcpy(o, oc + j * dh, dh * sizeof(float));
          Refresh(st, r, o, dh, true, step, tmp);
          ++j;
        } else {
          Predict(*st, r, dh, double(Elapsed(*st, r, step)), o);
          if (st->stale[r] < 255) st->stale[r] += 1;
        }
      }
    }
  }
  return computed;
}

}  // namespace edge
