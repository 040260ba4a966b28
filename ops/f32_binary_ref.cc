// Scalar binary kernel and the broadcast planner / driver.
#include "ops/f32_binary.h"

#include "ops/parallel.h"

namespace edge {

namespace {

template <class F>
void Loop(size_t n, const float* a, bool as, const float* b, bool bs, float* out, F f) {
  if (!as && !bs) {
    for (size_t i = 0; i < n; ++i) out[i] = f(a[i], b[i]);
  } else if (as && !bs) {
    const float av = a[0];
    for (size_t i = 0; i < n; ++i) out[i] = f(av, b[i]);
  } else if (!as && bs) {
    const float bv = b[0];
    for (size_t i = 0; i < n; ++i) out[i] = f(a[i], bv);
  } else {
    const float v = f(a[0], b[0]);
    for (size_t i = 0; i < n; ++i) out[i] = v;
  }
}

}  // namespace

void f32_vbinary_ref(BinaryOp op, size_t n, const float* a, bool as, const float* b, bool bs,
                     float* out) {
  switch (op) {
    case BinaryOp::kAdd: return Loop(n, a, as, b, bs, out, [](float x, float y) { return x + y; });
    case BinaryOp::kSub: return Loop(n, a, as, b, bs, out, [](float x, float y) { return x - y; });
    case BinaryOp::kMul: return Loop(n, a, as, b, bs, out, [](float x, float y) { return x * y; });
    case BinaryOp::kDiv: return Loop(n, a, as, b, bs, out, [](float x, float y) { return x / y; });
  }
}

bool BroadcastShape(const int64_t* a_dims, int a_rank, const int64_t* b_dims, int b_rank,
                    int64_t* out_dims, int* out_rank) {
  const int rank = a_rank > b_rank ? a_rank : b_rank;
  if (a_rank < 0 || b_rank < 0 || rank > kMaxBroadcastRank) return false;
  for (int i = 0; i < rank; ++i) {
    const int ai = i - (rank - a_rank), bi = i - (rank - b_rank);
    const int64_t da = ai >= 0 ? a_dims[ai] : 1;
    const int64_t db = bi >= 0 ? b_dims[bi] : 1;
    if (da != db && da != 1 && db != 1) return false;
    out_dims[i] = da == 1 ? db : da;
  }
  *out_rank = rank;
  return true;
}

bool PlanBroadcast(const int64_t* a_dims, int a_rank, const int64_t* b_dims, int b_rank,
                   BroadcastPlan* plan) {
  int64_t out[kMaxBroadcastRank];
  int rank = 0;
  if (!BroadcastShape(a_dims, a_rank, b_dims, b_rank, out, &rank)) return false;
  // Full-rank strides (0 where an operand is broadcast).
  int64_t sa[kMaxBroadcastRank], sb[kMaxBroadcastRank];
  int64_t acc_a = 1, acc_b = 1;
  for (int i = rank - 1; i >= 0; --i) {
    const int ai = i - (rank - a_rank), bi = i - (rank - b_rank);
    const int64_t da = ai >= 0 ? a_dims[ai] : 1;
    const int64_t db = bi >= 0 ? b_dims[bi] : 1;
    sa[i] = da == 1 ? 0 : acc_a;
    sb[i] = db == 1 ? 0 : acc_b;
    acc_a *= da;
    acc_b *= db;
  }
  // Drop size-1 axes, then merge neighbours whose strides chain
  // (outer stride == inner stride * inner dim, for both operands).
  BroadcastPlan p;
  p.out_elements = 1;
  for (int i = 0; i < rank; ++i) p.out_elements *= out[i];
  for (int i = 0; i < rank; ++i) {
    if (out[i] == 1) continue;
    if (p.rank > 0) {
      const int j = p.rank - 1;
      if (sa[i] * out[i] == p.a_stride[j] && sb[i] * out[i] == p.b_stride[j]) {
        p.dims[j] *= out[i];
        p.a_stride[j] = sa[i];
        p.b_stride[j] = sb[i];
        continue;
      }
    }
    p.dims[p.rank] = out[i];
    p.a_stride[p.rank] = sa[i];
    p.b_stride[p.rank] = sb[i];
    ++p.rank;
  }
  if (p.rank == 0) {  // all-ones shape: one element
    p.rank = 1;
    p.dims[0] = 1;
    p.a_stride[0] = p.b_stride[0] = 0;
  }
  *plan = p;
  return true;
}

void f32_binary_broadcast(const BroadcastPlan& plan, BinaryOp op, const float* a, const float* b,
                          float* out, f32_vbinary_fn kernel, pthreadpool_t pool) {
  if (plan.out_elements == 0) return;
  const int r = plan.rank;
  const size_t inner = static_cast<size_t>(plan.dims[r - 1]);
  const bool as = plan.a_stride[r - 1] == 0, bs = plan.b_stride[r - 1] == 0;
  const size_t rows = static_cast<size_t>(plan.out_elements) / inner;
  if (rows == 1) {
    // One run: split it across threads directly.
    ParallelFor(pool, inner, 16384, [&](size_t i0, size_t i1) {
      kernel(op, i1 - i0, as ? a : a + i0, as, bs ? b : b + i0, bs, out + i0);
    });
    return;
  }
  ParallelFor(pool, rows, RowGrain(inner), [&](size_t r0, size_t r1) {
    for (size_t row = r0; row < r1; ++row) {
      // Offsets of this row from its multi-index over the outer dims.
      size_t rem = row;
      int64_t oa = 0, ob = 0;
      for (int d = r - 2; d >= 0; --d) {
        const size_t dim = static_cast<size_t>(plan.dims[d]);
        const size_t idx = rem % dim;
        rem /= dim;
        oa += static_cast<int64_t>(idx) * plan.a_stride[d];
        ob += static_cast<int64_t>(idx) * plan.b_stride[d];
      }
      kernel(op, inner, a + oa, as, b + ob, bs, out + row * inner);
    }
  });
}

}  // namespace edge
