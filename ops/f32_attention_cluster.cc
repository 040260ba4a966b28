// Cluster-sparse attention planning: k-means per (batch, head), centroid
// masses, top-k / top-p / error-aware selection (see f32_attention_cluster.h).
#include "ops/f32_attention_cluster.h"

#include <cfloat>
#include <cmath>
#include <algorithm>
#include <cstring>

namespace edge {
namespace {

size_t Align64(size_t v) { return (v + 63) / 64 * 64; }

// Largest GEMM microkernel block among the ISAs (AVX-512: 8 x 32).
constexpr size_t kMaxMR = 8, kMaxNR = 32;

// Byte offsets into the state. Arrays are indexed [bh][...]; per-head work
// buffers ([bh] too, so heads plan in parallel without sharing).
struct StateLayout {
  size_t header;
  size_t qcent, kcent, vcent, logn;   // f32 [bh][C][dh] / [bh][Ck]
  size_t qassign, kassign;            // u32 [bh][n]
  size_t qperm, kperm, qoff, koff;    // u32
  size_t keep;                        // u8 [bh][Cq][Ck]
  size_t vsd;                         // f32 [bh][Ck]: RMS spread of values
  size_t work;                        // f32 per-head work buffer
  size_t work_floats;
  size_t gemm_floats;  // tail of each head's work buffer
  size_t pairs;                       // f64 [bh] exact pairs of the last plan
  size_t total;
};

struct Header {
  uint64_t calls;
};

StateLayout MakeLayout(const F32AttentionParams& p, size_t cq, size_t ck) {
  const size_t bh = p.batch * p.heads, dh = p.head_dim;
  const size_t cmax = cq > ck ? cq : ck;
  StateLayout l;
  size_t off = 0;
  auto take = [&off](size_t bytes) {
    const size_t at = off;
    off = Align64(off + bytes);
    return at;
  };
  l.header = take(sizeof(Header));
  l.qcent = take(bh * cq * dh * sizeof(float));
  l.kcent = take(bh * ck * dh * sizeof(float));
  l.vcent = take(bh * ck * dh * sizeof(float));
  l.logn = take(bh * ck * sizeof(float));
  l.qassign = take(bh * p.nq * sizeof(uint32_t));
  l.kassign = take(bh * p.nk * sizeof(uint32_t));
  l.qperm = take(bh * p.nq * sizeof(uint32_t));
  l.kperm = take(bh * p.nk * sizeof(uint32_t));
  l.qoff = take(bh * (cq + 1) * sizeof(uint32_t));
  l.koff = take(bh * (ck + 1) * sizeof(uint32_t));
  l.keep = take(bh * cq * ck);
  l.vsd = take(bh * ck * sizeof(float));
  // Transposed centroids [dh][C], |c|^2, distances, sums [C][dh], counts,
  // plus the selection's scores / weights / errors / order over Ck and an
  // estimated output [dh].
  // Then E[(qbar_i . k)^2] per (key cluster, query cluster), transposed
  // query centroids and one row of qbar . k.
  // The GEMM assignment uses its own region after all of that: packed
  // centroids (panels of up to kMaxNR), biases and one block of kMaxMR rows.
  l.work_floats = (dh * cmax + cmax + cmax + cmax * dh + cmax + 4 * ck + dh + ck * cq + dh * cq + cq +
                   2 * dh * ck + 3 * ck + 15) / 16 * 16;
  l.gemm_floats = (f32_gemm_packed_floats(cmax, dh, kMaxNR) + (cmax + kMaxNR) * (1 + kMaxMR) + 15) / 16 * 16;
  l.work_floats += l.gemm_floats;
  l.work = take(bh * l.work_floats * sizeof(float));
  l.pairs = take(bh * sizeof(double));
  l.total = off;
  return l;
}

struct Rows {
  const float* base;
  size_t ts;
  const float* row(size_t t) const { return base + t * ts; }
};

// Nearest centroid per token (squared distance via |c|^2 - 2 x.c), lowest
// index on ties. The inner loop runs over centroids (transposed), so it
// vectorizes without reassociating any sum.
void Assign(const Rows& x, size_t n, const float* cent, size_t C, size_t dh, float* work,
            uint32_t* assign) {
  float* ct = work;          // [dh][C]
  float* cn = ct + dh * C;   // [C]
  float* dist = cn + C;      // [C]
  for (size_t c = 0; c < C; ++c) {
    float s = 0;
    for (size_t d = 0; d < dh; ++d) {
      const float v = cent[c * dh + d];
      ct[d * C + c] = v;
      s += v * v;
    }
    cn[c] = s;
  }
  for (size_t t = 0; t < n; ++t) {
    const float* xr = x.row(t);
    for (size_t c = 0; c < C; ++c) dist[c] = cn[c];
    for (size_t d = 0; d < dh; ++d) {
      const float xd = -2.f * xr[d];
      const float* cr = ct + d * C;
      for (size_t c = 0; c < C; ++c) dist[c] += xd * cr[c];
    }
    uint32_t best = 0;
    for (size_t c = 1; c < C; ++c) {
      if (dist[c] < dist[best]) best = static_cast<uint32_t>(c);
    }
    assign[t] = best;
  }
}

// Assign() on the GEMM microkernel: score(t, c) = x_t . c - |c|^2 / 2
// (argmax = nearest centroid), MR tokens at a time against all panels.
void AssignGemm(const F32GemmConfig& g, const Rows& x, size_t n, const float* cent, size_t C,
                size_t dh, float* work, uint32_t* assign) {
  const size_t nr = g.nr, mr = g.mr;
  const size_t panels = (C + nr - 1) / nr;
  float* packed = work;                                   // panels * dh * nr
  float* bias = packed + f32_gemm_packed_floats(C, dh, nr);  // panels * nr
  float* y = bias + panels * nr;                          // [mr][panels * nr]
  const size_t ys = panels * nr;
  f32_gemm_pack_nk(C, dh, cent, dh, nr, packed);
  for (size_t c = 0; c < panels * nr; ++c) {
    float s = 0;
    if (c < C) {
      for (size_t d = 0; d < dh; ++d) s += cent[c * dh + d] * cent[c * dh + d];
    }
    bias[c] = -0.5f * s;
  }
  for (size_t t0 = 0; t0 < n; t0 += mr) {
    const size_t m = n - t0 < mr ? n - t0 : mr;
    for (size_t p = 0; p < panels; ++p) {
      const size_t nc = C - p * nr < nr ? C - p * nr : nr;
      g.ukernel(m, nc, dh, x.row(t0), x.ts, packed + p * dh * nr, bias + p * nr, y + p * nr, ys, 0);
    }
    for (size_t i = 0; i < m; ++i) {
      // Max first (a reduction without a loop-carried index, in eight
      // independent lanes so that it does not wait on one compare chain;
      // max is exact in any order), then the lowest index holding it.
      const float* yr = y + i * ys;
      float lane[8];
      for (int l = 0; l < 8; ++l) lane[l] = yr[0];
      size_t c = 0;
      for (; c + 8 <= C; c += 8)
        for (int l = 0; l < 8; ++l) lane[l] = yr[c + l] > lane[l] ? yr[c + l] : lane[l];
      float best = yr[0];
      for (int l = 0; l < 8; ++l) best = lane[l] > best ? lane[l] : best;
      for (; c < C; ++c) best = yr[c] > best ? yr[c] : best;
      uint32_t at = 0;
      while (at + 1 < C && yr[at] != best) ++at;  // NaN scores: the last cluster, never past it
      assign[t0 + i] = at;
    }
  }
}

// Centroid = mean of its tokens, summed in token order; an empty cluster
// keeps its previous centroid. Returns nothing; counts land in `counts`.
void Update(const Rows& x, size_t n, const uint32_t* assign, size_t C, size_t dh, float* cent,
            float* work, float* counts) {
  float* sums = work;  // [C][dh]
  std::memset(sums, 0, C * dh * sizeof(float));
  for (size_t c = 0; c < C; ++c) counts[c] = 0;
  for (size_t t = 0; t < n; ++t) {
    const float* xr = x.row(t);
    float* s = sums + assign[t] * dh;
    for (size_t d = 0; d < dh; ++d) s[d] += xr[d];
    counts[assign[t]] += 1.f;
  }
  for (size_t c = 0; c < C; ++c) {
    if (counts[c] == 0) continue;
    const float inv = 1.f / counts[c];
    for (size_t d = 0; d < dh; ++d) cent[c * dh + d] = sums[c * dh + d] * inv;
  }
}

// Mean of the value rows of keys perm[r0, r1) (summed in that order) into
// vm; zeros for an empty cluster.
void ValueMean(const Rows& v, const uint32_t* perm, uint32_t r0, uint32_t r1, size_t dh, float* vm) {
  std::memset(vm, 0, dh * sizeof(float));
  if (r1 == r0) return;
  for (uint32_t r = r0; r < r1; ++r) {
    const float* vr = v.row(perm[r]);
    for (size_t d = 0; d < dh; ++d) vm[d] += vr[d];
  }
  const float inv = 1.f / static_cast<float>(r1 - r0);
  for (size_t d = 0; d < dh; ++d) vm[d] *= inv;
}

void StridedInit(const Rows& x, size_t n, size_t C, size_t dh, float* cent) {
  // Middle token of each of C equal segments: tokens come in spatial /
  // temporal order, so this spreads the seeds over the frame.
  for (size_t c = 0; c < C; ++c) {
    const size_t t = (2 * c + 1) * n / (2 * C);
    std::memcpy(cent + c * dh, x.row(t), dh * sizeof(float));
  }
}

// Counting sort of tokens by cluster (stable: token order inside a cluster).
void Permute(const uint32_t* assign, size_t n, size_t C, uint32_t* off, uint32_t* perm) {
  for (size_t c = 0; c <= C; ++c) off[c] = 0;
  for (size_t t = 0; t < n; ++t) ++off[assign[t] + 1];
  for (size_t c = 0; c < C; ++c) off[c + 1] += off[c];
  // off[c] is now the start of c; fill using a running cursor in off[c]
  // shifted back afterwards.
  for (size_t t = 0; t < n; ++t) perm[off[assign[t]]++] = static_cast<uint32_t>(t);
  for (size_t c = C; c > 0; --c) off[c] = off[c - 1];
  off[0] = 0;
}

struct PlanTask {
  F32AttentionParams* p;
  const ClusterAttentionConfig* cfg;
  uint8_t* base;
  StateLayout l;
  size_t cq, ck;
  uint32_t iters;
  bool init;
  bool reselect;  // false: keep the last plan, refresh its centroids only
};

template <class T>
T* At(const PlanTask& t, size_t off) {
  return reinterpret_cast<T*>(t.base + off);
}

void PlanHead(void* ctx, size_t bh) {
  const PlanTask& t = *static_cast<const PlanTask*>(ctx);
  const F32AttentionParams& p = *t.p;
  const ClusterAttentionConfig& cfg = *t.cfg;
  const size_t b = bh / p.heads, h = bh % p.heads, dh = p.head_dim;
  const size_t cq = t.cq, ck = t.ck;
  const Rows q{p.q + b * p.q_bs + h * p.q_hs, p.q_ts};
  const Rows k{p.k + b * p.k_bs + h * p.k_hs, p.k_ts};
  const Rows v{p.v + b * p.v_bs + h * p.v_hs, p.v_ts};
  float* qcent = At<float>(t, t.l.qcent) + bh * cq * dh;
  float* kcent = At<float>(t, t.l.kcent) + bh * ck * dh;
  float* vcent = At<float>(t, t.l.vcent) + bh * ck * dh;
  float* logn = At<float>(t, t.l.logn) + bh * ck;
  uint32_t* qassign = At<uint32_t>(t, t.l.qassign) + bh * p.nq;
  uint32_t* kassign = At<uint32_t>(t, t.l.kassign) + bh * p.nk;
  uint32_t* qperm = At<uint32_t>(t, t.l.qperm) + bh * p.nq;
  uint32_t* kperm = At<uint32_t>(t, t.l.kperm) + bh * p.nk;
  uint32_t* qoff = At<uint32_t>(t, t.l.qoff) + bh * (cq + 1);
  uint32_t* koff = At<uint32_t>(t, t.l.koff) + bh * (ck + 1);
  uint8_t* keep = At<uint8_t>(t, t.l.keep) + bh * cq * ck;
  float* vsd = At<float>(t, t.l.vsd) + bh * ck;
  float* work = At<float>(t, t.l.work) + bh * t.l.work_floats;
  double* pairs = At<double>(t, t.l.pairs) + bh;
  const size_t cmax = cq > ck ? cq : ck;
  float* counts = work + dh * cmax + 2 * cmax + cmax * dh;  // [cmax], after Assign/Update use

  float* gemm_work = work + t.l.work_floats - t.l.gemm_floats;
  auto AssignAny = [&](const Rows& x, size_t n, const float* cent, size_t C, uint32_t* assign) {
    if (cfg.gemm != nullptr && cfg.gemm->mr <= kMaxMR && cfg.gemm->nr <= kMaxNR) {
      AssignGemm(*cfg.gemm, x, n, cent, C, dh, gemm_work, assign);
    } else {
      Assign(x, n, cent, C, dh, work, assign);
    }
  };
  if (!t.reselect) {
    // The last plan's clusters and kept pairs; compensation from the
    // centroids of the current keys and values (same members, so ln n holds).
    Update(k, p.nk, kassign, ck, dh, kcent, work, counts);
    for (size_t c = 0; c < ck; ++c) ValueMean(v, kperm, koff[c], koff[c + 1], dh, vcent + c * dh);
    return;
  }
  // 1. k-means on Q and on K (the last Update leaves exact means).
  if (t.init) {
    StridedInit(q, p.nq, cq, dh, qcent);
    StridedInit(k, p.nk, ck, dh, kcent);
  }
  for (uint32_t it = 0; it < t.iters; ++it) {
    AssignAny(q, p.nq, qcent, cq, qassign);
    Update(q, p.nq, qassign, cq, dh, qcent, work, counts);
  }
  if (t.iters == 0) Update(q, p.nq, qassign, cq, dh, qcent, work, counts);
  Permute(qassign, p.nq, cq, qoff, qperm);
  for (uint32_t it = 0; it < t.iters; ++it) {
    AssignAny(k, p.nk, kcent, ck, kassign);
    Update(k, p.nk, kassign, ck, dh, kcent, work, counts);
  }
  if (t.iters == 0) Update(k, p.nk, kassign, ck, dh, kcent, work, counts);
  Permute(kassign, p.nk, ck, koff, kperm);

  // 2. Per key cluster: mean value, ln count, RMS spread of values.
  double vtotal = 0;  // sum of |v - vbar_all|^2 over all keys, via clusters
  float* vall = work;  // [dh] mean of all values
  std::memset(vall, 0, dh * sizeof(float));
  for (size_t c = 0; c < ck; ++c) {
    const uint32_t n = koff[c + 1] - koff[c];
    float* vm = vcent + c * dh;
    ValueMean(v, kperm, koff[c], koff[c + 1], dh, vm);
    logn[c] = n > 0 ? std::log(static_cast<float>(n)) : 0.f;
    vsd[c] = 0.f;
    if (n == 0) continue;
    double sv = 0;
    for (uint32_t r = koff[c]; r < koff[c + 1]; ++r) {
      const float* vr = v.row(kperm[r]);
      for (size_t d = 0; d < dh; ++d) {
        const double e = vr[d] - vm[d];
        sv += e * e;
      }
    }
    vsd[c] = static_cast<float>(std::sqrt(sv / n));
    vtotal += sv;
    for (size_t d = 0; d < dh; ++d) vall[d] += vm[d] * static_cast<float>(n);
  }
  for (size_t d = 0; d < dh; ++d) vall[d] /= static_cast<float>(p.nk);
  for (size_t c = 0; c < ck; ++c) {
    const uint32_t n = koff[c + 1] - koff[c];
    double s = 0;
    for (size_t d = 0; d < dh; ++d) {
      const double e = vcent[c * dh + d] - vall[d];
      s += e * e;
    }
    vtotal += s * n;
  }
  const double vscale = std::sqrt(vtotal / static_cast<double>(p.nk));
  // 3. Selection per query cluster.
  float* sc = work + dh;     // [ck] logits, then masses
  float* err = sc + ck;      // [ck] estimated compensation error
  uint32_t* order = reinterpret_cast<uint32_t*>(err + ck);  // [ck]
  float* oest = reinterpret_cast<float*>(order + ck);      // [dh]
  float* spread = oest + dh;                                // [ck][cq] mean (qbar . k)^2
  float* qt = spread + ck * cq;                             // [dh][cq]
  float* zrow = qt + dh * cq;                               // [cq]
  // Transposed key / value centroids, so the per-query-cluster dot products
  // below run over clusters in the inner loop (vectorized, fixed order).
  float* kct = zrow + cq;                                   // [dh][ck]
  float* vct = kct + dh * ck;                               // [dh][ck]
  float* vnorm = vct + dh * ck;                             // [ck] |vbar|^2
  float* dot = vnorm + ck;                                  // [ck] qbar . kbar
  float* vdot = dot + ck;                                   // [ck] vbar . obar
  for (size_t c = 0; c < ck; ++c) {
    float n2 = 0;
    for (size_t d = 0; d < dh; ++d) {
      kct[d * ck + c] = kcent[c * dh + d];
      vct[d * ck + c] = vcent[c * dh + d];
      n2 += vcent[c * dh + d] * vcent[c * dh + d];
    }
    vnorm[c] = n2;
  }
  // out[c] = sum_d x[d] * t[d][c] for all clusters c.
  auto dots = [ck, dh](const float* x, const float* tr, float* out) {
    for (size_t c = 0; c < ck; ++c) out[c] = 0;
    for (size_t d = 0; d < dh; ++d) {
      const float xd = x[d];
      const float* row = tr + d * ck;
      for (size_t c = 0; c < ck; ++c) out[c] += xd * row[c];
    }
  };
  if (cfg.err_tol > 0.f) {
    // One pass over the keys for all query clusters at once (the inner loop
    // runs over query clusters, so it vectorizes without reassociation).
    for (size_t i = 0; i < cq; ++i)
      for (size_t d = 0; d < dh; ++d) qt[d * cq + i] = qcent[i * dh + d];
    for (size_t c = 0; c < ck; ++c) {
      float* sp = spread + c * cq;
      for (size_t i = 0; i < cq; ++i) sp[i] = 0;
      for (uint32_t r = koff[c]; r < koff[c + 1]; ++r) {
        const float* kr = k.row(kperm[r]);
        for (size_t i = 0; i < cq; ++i) zrow[i] = 0;
        for (size_t d = 0; d < dh; ++d) {
          const float kd = kr[d];
          const float* qd = qt + d * cq;
          for (size_t i = 0; i < cq; ++i) zrow[i] += kd * qd[i];
        }
        for (size_t i = 0; i < cq; ++i) sp[i] += zrow[i] * zrow[i];
      }
      const uint32_t n = koff[c + 1] - koff[c];
      if (n > 0) {
        const float inv = 1.f / static_cast<float>(n);
        for (size_t i = 0; i < cq; ++i) sp[i] *= inv;
      }
    }
  }
  // Orders: descending key, lower cluster index first on ties (a strict
  // total order, so std::sort gives the same permutation everywhere).
  auto by_desc = [](const float* key) {
    return [key](uint32_t a, uint32_t b) { return key[a] > key[b] || (key[a] == key[b] && a < b); };
  };
  size_t nonempty = 0;
  for (size_t c = 0; c < ck; ++c) nonempty += koff[c + 1] > koff[c];
  size_t kmin = static_cast<size_t>(std::ceil(static_cast<double>(cfg.min_frac) * nonempty));
  if (kmin < 1) kmin = 1;
  double exact = 0;
  for (size_t i = 0; i < cq; ++i) {
    uint8_t* row = keep + i * ck;
    const uint32_t ni = qoff[i + 1] - qoff[i];
    // Empty key clusters count as kept: nothing to compute, nothing to
    // compensate (ln 0 would be -inf).
    for (size_t c = 0; c < ck; ++c) row[c] = koff[c + 1] == koff[c];
    if (ni == 0) continue;
    const float* qm = qcent + i * dh;
    dots(qm, kct, dot);
    float mx = -FLT_MAX;
    for (size_t c = 0; c < ck; ++c) {
      if (row[c] != 0) continue;
      sc[c] = dot[c] * p.scale + logn[c];
      if (sc[c] > mx) mx = sc[c];
    }
    double total = 0;
    size_t m = 0;
    for (size_t c = 0; c < ck; ++c) {
      if (row[c] != 0) continue;
      sc[c] = std::exp(sc[c] - mx);
      total += sc[c];
      order[m++] = static_cast<uint32_t>(c);
    }
    std::sort(order, order + m, by_desc(sc));
    for (size_t c = 0; c < ck; ++c) {
      if (row[c] == 0) sc[c] = static_cast<float>(sc[c] / total);
    }
    // top-k UNION top-p: the longer of the two prefixes.
    size_t kept = kmin < m ? kmin : m;
    double cum = 0;
    for (size_t r = 0; r < m; ++r) {
      if (cum >= cfg.top_p) break;
      cum += sc[order[r]];
      if (r + 1 > kept) kept = r + 1;
    }
    for (size_t r = 0; r < kept; ++r) row[order[r]] = 1;
    if (cfg.err_tol > 0.f && kept < m) {
      // Estimated output, then each skipped cluster's error per exact key.
      std::memset(oest, 0, dh * sizeof(float));
      for (size_t r = 0; r < m; ++r) {
        const size_t c = order[r];
        for (size_t d = 0; d < dh; ++d) oest[d] += sc[c] * vcent[c * dh + d];
      }
      dots(oest, vct, vdot);
      float onorm = 0;
      for (size_t d = 0; d < dh; ++d) onorm += oest[d] * oest[d];
      double residual = 0;
      for (size_t r = kept; r < m; ++r) {
        const size_t c = order[r];
        // |vbar - obar|^2 expanded (an estimate: cancellation only matters
        // when the cluster sits on the output, where its error is small).
        const double dv2 = static_cast<double>(vnorm[c]) - 2.0 * vdot[c] + onorm;
        const double dv = dv2 > 0 ? dv2 : 0;
        // Logit spread of cluster c seen from this query cluster:
        // scale * sqrt(qbar^T Cov_c qbar) = scale * sqrt(E[(qbar.k)^2] - (qbar.kbar)^2).
        const double z = dot[c];
        const double var = spread[c * cq + i] - z * z;
        const double lam = p.scale * std::sqrt(var > 0 ? var : 0);
        const double half = lam * lam * 0.5 < 30 ? lam * lam * 0.5 : 30;
        err[c] = static_cast<float>(sc[c] * (std::expm1(half) * std::sqrt(dv) + lam * vsd[c]));
        residual += err[c];
        // Error per exact key, sorted below (the tail of `order` holds the
        // skipped clusters).
        err[c] /= static_cast<float>(koff[c + 1] - koff[c]);
      }
      std::sort(order + kept, order + m, by_desc(err));
      const double budget = static_cast<double>(cfg.err_tol) * vscale;
      for (size_t r = kept; r < m && residual > budget; ++r) {
        const uint32_t c = order[r];
        row[c] = 1;
        residual -= err[c] * static_cast<float>(koff[c + 1] - koff[c]);
      }
    }
    double nk_exact = 0;
    for (size_t c = 0; c < ck; ++c) nk_exact += row[c] != 0 ? koff[c + 1] - koff[c] : 0;
    exact += static_cast<double>(ni) * nk_exact;
  }
  *pairs = exact;
}

}  // namespace

size_t f32_cluster_attention_q_clusters(const F32AttentionParams& p,
                                        const ClusterAttentionConfig& c) {
  const size_t per = c.q_tokens_per_cluster > 0 ? c.q_tokens_per_cluster : 64;
  const size_t n = (p.nq + per - 1) / per;
  return n < 1 ? 1 : n;
}

size_t f32_cluster_attention_k_clusters(const F32AttentionParams& p,
                                        const ClusterAttentionConfig& c) {
  const size_t per = c.k_tokens_per_cluster > 0 ? c.k_tokens_per_cluster : 64;
  const size_t n = (p.nk + per - 1) / per;
  return n < 1 ? 1 : n;
}

size_t f32_cluster_attention_state_bytes(const F32AttentionParams& p,
                                         const ClusterAttentionConfig& c) {
  return MakeLayout(p, f32_cluster_attention_q_clusters(p, c),
                    f32_cluster_attention_k_clusters(p, c))
      .total;
}

void f32_cluster_attention_plan(F32AttentionParams* p, const ClusterAttentionConfig& c,
                                void* state, pthreadpool_t pool, ClusterAttentionStats* stats) {
  const size_t items = p->batch * p->heads;
  if (items == 0 || p->nq == 0 || p->nk == 0 || p->head_dim == 0) return;
  PlanTask t;
  t.p = p;
  t.cfg = &c;
  t.base = static_cast<uint8_t*>(state);
  t.cq = f32_cluster_attention_q_clusters(*p, c);
  t.ck = f32_cluster_attention_k_clusters(*p, c);
  t.l = MakeLayout(*p, t.cq, t.ck);
  Header* hdr = At<Header>(t, t.l.header);
  const uint64_t call = hdr->calls;
  t.init = call == 0;
  const bool full = t.init || (c.refresh > 0 && call % c.refresh == 0);
  t.iters = full ? (c.first_iters > 0 ? c.first_iters : 1) : c.iters;
  t.reselect = t.init || c.replan <= 1 || call % c.replan == 0;
  if (pool != nullptr && items > 1) {
    pthreadpool_parallelize_1d(pool, PlanHead, &t, items, 0);
  } else {
    for (size_t i = 0; i < items; ++i) PlanHead(&t, i);
  }
  hdr->calls = call + 1;

  p->keep = At<uint8_t>(t, t.l.keep);
  p->q_perm = At<uint32_t>(t, t.l.qperm);
  p->q_off = At<uint32_t>(t, t.l.qoff);
  p->k_perm = At<uint32_t>(t, t.l.kperm);
  p->k_off = At<uint32_t>(t, t.l.koff);
  p->qclusters = t.cq;
  p->kclusters = t.ck;
  p->comp_k = c.compensate ? At<float>(t, t.l.kcent) : nullptr;
  p->comp_v = c.compensate ? At<float>(t, t.l.vcent) : nullptr;
  p->comp_logn = c.compensate ? At<float>(t, t.l.logn) : nullptr;
  if (stats != nullptr) {
    const double* pairs = At<double>(t, t.l.pairs);
    for (size_t i = 0; i < items; ++i) stats->exact_pairs += pairs[i];
    stats->total_pairs += static_cast<double>(items) * p->nq * p->nk;
    ++stats->plans;
  }
}

}  // namespace edge
