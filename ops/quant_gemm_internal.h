// Variants of the quantized GEMM defined in the per-ISA files. Only the
// files of the target architecture are compiled (ops/CMakeLists.txt).
#pragma once

#include "ops/quant_gemm.h"

namespace edge {

// Vector per-token activation quantizers (same bytes as QuantizeRowsRef).
void QuantizeRowsAvx2(const float* x, size_t ldx, size_t rows, size_t K, size_t k_pad,
                      QActFormat fmt, uint8_t* q, size_t ldq, float* scale, int32_t* corr,
                      size_t ldcorr);
void QuantizeRowsAvx512(const float* x, size_t ldx, size_t rows, size_t K, size_t k_pad,
                        QActFormat fmt, uint8_t* q, size_t ldq, float* scale, int32_t* corr,
                        size_t ldcorr);
void QuantizeRowsNeon(const float* x, size_t ldx, size_t rows, size_t K, size_t k_pad,
                      QActFormat fmt, uint8_t* q, size_t ldq, float* scale, int32_t* corr,
                      size_t ldcorr);

#if defined(__x86_64__)
extern const QGemmKernel kQs8GemmAvx512vnni;
extern const QGemmKernel kQs8GemmAvxvnni;
extern const QGemmKernel kQs8GemmAvx512;
extern const QGemmKernel kQs8GemmAvx2;
extern const QGemmKernel kQnvfp4GemmAvx512vnni;
extern const QGemmKernel kQnvfp4GemmAvxvnni;
extern const QGemmKernel kQnvfp4GemmAvx512;
extern const QGemmKernel kQnvfp4GemmAvx2;
#elif defined(__aarch64__)
extern const QGemmKernel kQs8GemmI8mm;
extern const QGemmKernel kQs8GemmNeondot;
extern const QGemmKernel kQs8GemmNeon;
extern const QGemmKernel kQnvfp4GemmI8mm;
extern const QGemmKernel kQnvfp4GemmNeondot;
extern const QGemmKernel kQnvfp4GemmNeon;
#endif

}  // namespace edge
