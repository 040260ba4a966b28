#include "ops/f32_matmul.h"

namespace edge {

namespace {

size_t Count(const size_t* dims, int rank) {
  size_t n = 1;
  for (int i = 0; i < rank; ++i) n *= dims[i];
  return n;
}

// Offsets (in matrices) of a and b for output batch index `ob`.
void BatchOffsets(const F32MatMulDims& d, size_t ob, size_t* ia, size_t* ib) {
  size_t a = 0, b = 0, sa = 1, sb = 1;
  for (int i = d.batch_rank - 1; i >= 0; --i) {
    const size_t idx = ob % d.out_batch[i];
    ob /= d.out_batch[i];
    if (d.a_batch[i] != 1) a += idx * sa;
    if (d.b_batch[i] != 1) b += idx * sb;
    sa *= d.a_batch[i];
    sb *= d.b_batch[i];
  }
  *ia = a;
  *ib = b;
}

}  // namespace

size_t f32_matmul_scratch_floats(const F32GemmConfig& cfg, const F32MatMulDims& d) {
  return f32_gemm_packed_floats(d.n, d.k, cfg.nr);
}

void f32_matmul(const F32GemmConfig& cfg, const F32MatMulDims& d, const float* a, const float* b,
                const float* packed_b, float* c, float* scratch, pthreadpool_t pool) {
  const size_t batches = Count(d.out_batch, d.batch_rank);
  size_t packed_for = static_cast<size_t>(-1);
  for (size_t ob = 0; ob < batches; ++ob) {
    size_t ia = 0, ib = 0;
    BatchOffsets(d, ob, &ia, &ib);
    const float* w = packed_b;
    if (w == nullptr) {
      if (ib != packed_for) {  // consecutive batches often share b (broadcast)
        const float* bm = b + ib * d.k * d.n;
        if (d.transpose_b) {
          f32_gemm_pack_nk(d.n, d.k, bm, d.k, cfg.nr, scratch);
        } else {
          f32_gemm_pack_kn(d.n, d.k, bm, d.n, cfg.nr, scratch);
        }
        packed_for = ib;
      }
      w = scratch;
    }
    f32_gemm_packed(cfg, d.m, d.n, d.k, a + ia * d.m * d.k, d.k, w, nullptr,
                    c + ob * d.m * d.n, d.n, GemmActivation::kNone, pool);
  }
}

void f32_matmul_ref(const F32MatMulDims& d, const float* a, const float* b, float* c) {
  const size_t batches = Count(d.out_batch, d.batch_rank);
  for (size_t ob = 0; ob < batches; ++ob) {
    size_t ia = 0, ib = 0;
    BatchOffsets(d, ob, &ia, &ib);
    const float* am = a + ia * d.m * d.k;
    const float* bm = b + ib * d.k * d.n;
    float* cm = c + ob * d.m * d.n;
    for (size_t i = 0; i < d.m; ++i) {
      for (size_t j = 0; j < d.n; ++j) {
        double s = 0;
        for (size_t kk = 0; kk < d.k; ++kk) {
          const float bv = d.transpose_b ? bm[j * d.k + kk] : bm[kk * d.n + j];
          s += static_cast<double>(am[i * d.k + kk]) * bv;
        }
        cm[i * d.n + j] = static_cast<float>(s);
      }
    }
  }
}

}  // namespace edge
