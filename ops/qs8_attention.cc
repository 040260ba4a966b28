// INT8 attention: portable quantization and packing of a head, the scalar
// tile, ISA selection, the parallel driver and the double reference.
#include "ops/qs8_attention.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <vector>

#include "ops/qs8_attention_tile.h"
#include "ops/slot_units.h"

namespace edge {

const char* AttentionPrecisionName(AttentionPrecision p) {
  switch (p) {
    case AttentionPrecision::kFp32: return "fp32";
    case AttentionPrecision::kInt8: return "int8";
  }
  return "?";
}

namespace {

constexpr int kScalarMR = 4;
constexpr size_t kScalarQB = kScalarMR * 16;
constexpr size_t kAvx2QB = 4 * 16;

size_t Align64(size_t v) { return (v + 63) / 64 * 64; }

}  // namespace

// The largest packed head over the kernels (int16 pairs; int8 quads are smaller
// or equal once 64-byte aligned), so one size serves every kernel.
size_t qs8_attention_head_bytes(const F32AttentionParams& p) {
  return q8_head_layout<QVecScalar>(p).total;
}

Qs8AttentionHead qs8_attention_pack_head__scalar(const F32AttentionParams& p, size_t b, size_t h,
                                                 void* mem) {
  return q8_pack_head<QVecScalar>(p, b, h, mem);
}

void qs8_attention_4x64__scalar(const F32AttentionParams& p, const Qs8AttentionHead& head,
                                size_t b, size_t h, size_t q0, size_t qn, float* scratch) {
  qs8_attention_tile<QVecScalar, kScalarMR, 4, 4>(p, head, b, h, q0, qn, scratch);
}

size_t qs8_attention_scratch_floats__scalar(size_t head_dim) {
  return q8_attn_scratch_floats<kScalarMR>(head_dim, kScalarQB);
}

const Qs8AttentionKernel kQs8AttentionScalar = {"qs8_attention_4x64__scalar", qs8_attention_pack_head__scalar,
                                                qs8_attention_4x64__scalar,
                                                qs8_attention_scratch_floats__scalar, kScalarQB};
#if defined(__aarch64__)
const Qs8AttentionKernel kQs8AttentionNeondot = {"qs8_attention_4x64__neondot", qs8_attention_pack_head__neondot,
                                                 qs8_attention_4x64__neondot,
                                                 qs8_attention_scratch_floats__neondot, 4 * 16};
#endif
#if defined(__x86_64__)
const Qs8AttentionKernel kQs8AttentionAvx2 = {"qs8_attention_4x64__avx2", qs8_attention_pack_head__avx2,
                                              qs8_attention_4x64__avx2,
                                              qs8_attention_scratch_floats__avx2, kAvx2QB};
const Qs8AttentionKernel kQs8AttentionAvx512 = {"qs8_attention_4x64__avx512bw", qs8_attention_pack_head__avx512,
                                                qs8_attention_4x64__avx512bw,
                                                qs8_attention_scratch_floats__avx512, kAvx2QB};
const Qs8AttentionKernel kQs8AttentionAvx512Vnni = {"qs8_attention_4x64__avx512vnni",
                                                    qs8_attention_pack_head__avx512, qs8_attention_4x64__avx512vnni,
                                                    qs8_attention_scratch_floats__avx512, kAvx2QB};
#endif

namespace {

size_t PoolThreads(pthreadpool_t pool) {
  const size_t t = pool != nullptr ? pthreadpool_get_threads_count(pool) : 1;
  return t == 0 ? 1 : t;
}

// Heads are packed `slots` at a time (one per thread at most), then all their
// query blocks run; each thread owns one tile scratch.
struct Q8Task {
  const Qs8AttentionKernel* kernel;
  const F32AttentionParams* p;
  uint8_t* heads;       // slots x head_bytes
  size_t head_bytes;
  Qs8AttentionHead packed[64];
  size_t bh0;           // first (b, h) of this group
  float* scratch;       // threads x per_thread floats
  size_t per_thread;
  size_t qblocks;
};

void Q8Pack(void* ctx, size_t s) {
  Q8Task& a = *static_cast<Q8Task*>(ctx);
  const size_t bh = a.bh0 + s;
  a.packed[s] = a.kernel->pack(*a.p, bh / a.p->heads, bh % a.p->heads,
                                        a.heads + s * a.head_bytes);
}

// Unit it = (head of this group, query block or query cluster), run with
// slot `slot`'s scratch (ops/slot_units.h: slots claim units one at a time).
void Q8Unit(void* ctx, size_t slot, size_t it) {
  const Q8Task& a = *static_cast<const Q8Task*>(ctx);
  float* scratch = a.scratch + slot * a.per_thread;
  const size_t qb = a.kernel->query_block;
  const F32AttentionParams& p = *a.p;
  const size_t s = it / a.qblocks, blk = it % a.qblocks;
  const size_t bh = a.bh0 + s;
  if (p.q_perm != nullptr) {
    // Cluster plans: unit = query cluster, cut into near-equal pieces of at
    // most one query block (as the FP32 driver does).
    const uint32_t* off = p.q_off + bh * (p.qclusters + 1);
    const size_t start = off[blk], n = off[blk + 1] - off[blk];
    const size_t pieces = (n + qb - 1) / qb;
    for (size_t k = 0; k < pieces; ++k) {
      const size_t s0 = start + k * n / pieces, s1 = start + (k + 1) * n / pieces;
      a.kernel->tile(p, a.packed[s], bh / p.heads, bh % p.heads, s0, s1 - s0, scratch);
    }
    return;
  }
  const size_t q0 = blk * qb;
  const size_t qn = p.nq - q0 < qb ? p.nq - q0 : qb;
  a.kernel->tile(p, a.packed[s], bh / p.heads, bh % p.heads, q0, qn, scratch);
}

size_t Slots(const F32AttentionParams& p, size_t threads) {
  size_t s = threads < 64 ? threads : 64;
  const size_t bh = p.batch * p.heads;
  return bh < s ? (bh == 0 ? 1 : bh) : s;
}

}  // namespace

size_t qs8_attention_scratch_bytes(const Qs8AttentionKernel& kernel, const F32AttentionParams& p,
                                   size_t num_threads) {
  if (num_threads == 0) num_threads = 1;
  return Slots(p, num_threads) * qs8_attention_head_bytes(p) +
         Align64(kernel.scratch_floats(p.head_dim) * sizeof(float)) * num_threads;
}

void qs8_attention(const Qs8AttentionKernel& kernel, const F32AttentionParams& p, void* scratch,
                   pthreadpool_t pool) {
  if (p.batch == 0 || p.heads == 0 || p.nq == 0 || p.head_dim == 0) return;
  if (p.nk == 0) {  // softmax over nothing: zeros, as the FP32 kernel defines it
    for (size_t b = 0; b < p.batch; ++b)
      for (size_t h = 0; h < p.heads; ++h)
        for (size_t i = 0; i < p.nq; ++i)
          std::memset(p.out + b * p.o_bs + h * p.o_hs + i * p.o_ts, 0, p.head_dim * sizeof(float));
    return;
  }
  const size_t threads = PoolThreads(pool);
  const size_t slots = Slots(p, threads);
  Q8Task a;
  a.kernel = &kernel;
  a.p = &p;
  a.head_bytes = qs8_attention_head_bytes(p);
  a.heads = static_cast<uint8_t*>(scratch);
  a.scratch = reinterpret_cast<float*>(a.heads + slots * a.head_bytes);
  a.per_thread = Align64(kernel.scratch_floats(p.head_dim) * sizeof(float)) / sizeof(float);
  // Work items per head: query blocks, or query clusters of a cluster plan.
  a.qblocks = p.q_perm != nullptr ? p.qclusters : (p.nq + kernel.query_block - 1) / kernel.query_block;
  const size_t bh_total = p.batch * p.heads;
  for (a.bh0 = 0; a.bh0 < bh_total; a.bh0 += slots) {
    const size_t n = bh_total - a.bh0 < slots ? bh_total - a.bh0 : slots;
    if (threads > 1 && n > 1) {
      pthreadpool_parallelize_1d(pool, Q8Pack, &a, n, 0);
    } else {
      for (size_t s = 0; s < n; ++s) Q8Pack(&a, s);
    }
    ForEachUnitInSlots(n * a.qblocks, threads, Q8Unit, &a, pool);
  }
}

// The kernels' INT8 rounding of x (already scaled): half away from zero,
// clamped to [-127, 127].
static int QuantRef(float x) {
  const int r = static_cast<int>(x + (x >= 0.f ? 0.5f : -0.5f));
  return r > 127 ? 127 : r < -127 ? -127 : r;
}

void qs8_attention_ref(const F32AttentionParams& p) {
  if (p.nk == 0) {
    qs8_attention(kQs8AttentionScalar, p, nullptr, nullptr);
    return;
  }
  const size_t dh = p.head_dim, dh2 = q8_dhg<QVecScalar>(dh), cp = q8_cp(dh);
  const bool clustered = p.q_perm != nullptr;
  const size_t groups = clustered ? p.kclusters : p.ktiles;
  const size_t qgroups = clustered ? p.qclusters : p.qblocks;
  std::vector<uint8_t> mem(qs8_attention_head_bytes(p) + 64);
  void* aligned = reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(mem.data()) + 63) / 64 * 64);
  std::vector<double> o(dh), s, pq;
  std::vector<size_t> qgroup(p.nq), order, spans;
  for (size_t b = 0; b < p.batch; ++b) {
    for (size_t h = 0; h < p.heads; ++h) {
      const size_t bh = b * p.heads + h;
      const Qs8AttentionHead hd = qs8_attention_pack_head__scalar(p, b, h, aligned);
      const int16_t* hq = static_cast<const int16_t*>(hd.q);
      const int16_t* hk = static_cast<const int16_t*>(hd.k);
      for (size_t i = 0; i < p.nq; ++i) qgroup[i] = p.q_block > 0 ? i / p.q_block : 0;
      if (clustered) {
        const uint32_t* qo = p.q_off + bh * (p.qclusters + 1);
        for (size_t c = 0; c < p.qclusters; ++c)
          for (uint32_t r = qo[c]; r < qo[c + 1]; ++r) qgroup[p.q_perm[bh * p.nq + r]] = c;
      }
      for (size_t i = 0; i < p.nq; ++i) {
        float* dst = p.out + b * p.o_bs + h * p.o_hs + i * p.o_ts;
        if (hd.bad || std::isnan(hd.qs[i])) {
          for (size_t d = 0; d < dh; ++d) dst[d] = NAN;
          continue;
        }
        const uint8_t* keep = p.keep != nullptr ? p.keep + (bh * qgroups + qgroup[i]) * groups : nullptr;
        // Exact keys in the tiles' order: all keys; kept 64-key tiles; or the
        // members of kept key clusters in cluster order.
        // Softmax steps (spans) as the kernel takes them: gathered cluster
        // keys 128 at a time; kept tiles two at a time where two neighbours
        // are kept.
        order.clear();
        spans.clear();
        if (clustered) {
          const uint32_t* ko = p.k_off + bh * (p.kclusters + 1);
          for (size_t c = 0; c < p.kclusters; ++c)
            if (keep[c] != 0)
              for (uint32_t r = ko[c]; r < ko[c + 1]; ++r) order.push_back(p.k_perm[bh * p.nk + r]);
          for (size_t t0 = 0; t0 < order.size(); t0 += kQ8Span) spans.push_back(std::min(kQ8Span, order.size() - t0));
        } else {
          const size_t tiles = (p.nk + kQ8KT - 1) / kQ8KT;
          for (size_t t = 0; t < tiles; ++t) {
            if (keep != nullptr && keep[t] == 0) continue;
            const bool pair = t + 1 < tiles && (keep == nullptr || keep[t + 1] != 0);
            const size_t end = std::min(p.nk, (t + (pair ? 2 : 1)) * kQ8KT);
            for (size_t j = t * kQ8KT; j < end; ++j) order.push_back(j);
            spans.push_back(end - t * kQ8KT);
            if (pair) ++t;
          }
        }
        const int16_t* q = hq + i * dh2 * 2;
        double m = -FLT_MAX, l = 0;
        for (size_t d = 0; d < dh; ++d) o[d] = 0;
        // One tile of scores s[0, n) with values value(j, d) through the
        // online softmax, P quantized against the running max.
        auto tile = [&](size_t n, auto value) {
          double tmax = -FLT_MAX;
          for (size_t j = 0; j < n; ++j) tmax = s[j] > tmax ? s[j] : tmax;
          const double mn = tmax > m ? tmax : m;
          const double alpha = std::exp(m - mn);
          double sum = 0;
          pq.resize(n);
          for (size_t j = 0; j < n; ++j) {
            pq[j] = std::floor(std::exp(s[j] - mn) * 32767.0 + 0.5);
            sum += pq[j];
          }
          l = l * alpha + sum;
          for (size_t d = 0; d < dh; ++d) {
            double acc = 0;
            for (size_t j = 0; j < n; ++j) acc += pq[j] * value(j, d);
            o[d] = o[d] * alpha + acc;
          }
          m = mn;
        };
        size_t t0 = 0;
        for (const size_t n : spans) {
          s.assign(n, 0.0);
          for (size_t j = 0; j < n; ++j) {
            const size_t key = order[t0 + j], t = key / kQ8KT, jj = key % kQ8KT;
            const int16_t* kt = hk + t * dh2 * kQ8KT * 2;
            int64_t acc = 0;
            for (size_t d = 0; d < dh; ++d) {
              acc += int64_t{q[d]} * (hd.key_major ? hk[key * dh2 * 2 + d] : kt[((d / 2) * kQ8KT + jj) * 2 + (d & 1)]);
            }
            s[j] = static_cast<double>(acc) * hd.qs[i] * p.scale * hd.ks[key];
          }
          tile(n, [&](size_t j, size_t d) {
            const size_t key = order[t0 + j], t = key / kQ8KT, jj = key % kQ8KT;
            const size_t at = hd.key_major ? key * cp + d : t * kQ8KT * cp + ((jj / 2) * cp + d) * 2 + (jj & 1);
            return static_cast<double>(hd.v[at]) * hd.vs[d];
          });
          t0 += n;
        }
        if (keep != nullptr && p.comp_k != nullptr) {
          // Centroids of the skipped groups, quantized as the kernel does:
          // the smoothed mean key with a scale of its own, the mean value
          // with the head's per-channel scales; ln n added to the logit.
          std::vector<size_t> skipped;
          for (size_t g = 0; g < groups; ++g)
            if (keep[g] == 0) skipped.push_back(g);
          for (size_t t0 = 0; t0 < skipped.size(); t0 += kQ8Span) {
            const size_t n = skipped.size() - t0 < kQ8Span ? skipped.size() - t0 : kQ8Span;
            s.assign(n, 0.0);
            for (size_t j = 0; j < n; ++j) {
              const float* kc = p.comp_k + (bh * groups + skipped[t0 + j]) * dh;
              float amax = 0.f;
              for (size_t d = 0; d < dh; ++d) amax = std::max(amax, std::fabs(kc[d] - hd.km[d]));
              int64_t acc = 0;
              if (amax > 0.f) {
                const float inv = 127.f / amax;
                for (size_t d = 0; d < dh; ++d) acc += int64_t{q[d]} * QuantRef((kc[d] - hd.km[d]) * inv);
              }
              s[j] = static_cast<double>(acc) * hd.qs[i] * p.scale * (amax / 127.f) +
                     p.comp_logn[bh * groups + skipped[t0 + j]];
            }
            tile(n, [&](size_t j, size_t d) {
              const float vinv = hd.vs[d] > 0.f ? 1.f / hd.vs[d] : 0.f;
              const float vc = p.comp_v[(bh * groups + skipped[t0 + j]) * dh + d];
              return static_cast<double>(QuantRef(vc * vinv)) * hd.vs[d];
            });
          }
        }
        for (size_t d = 0; d < dh; ++d) dst[d] = l > 0 ? static_cast<float>(o[d] / l) : 0.f;
      }
    }
  }
}

}  // namespace edge
