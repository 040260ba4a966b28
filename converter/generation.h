// Whole generations through the runtime's Pipeline on a finished model image,
// for the calibration passes of edge-convert (--cache-calibrate,
// --target-psnr): one session per runner on one thread, so every sum runs in
// a fixed order and the results are bit-reproducible.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/pipeline.h"
#include "runtime/session.h"

namespace edge {
namespace conv {

// Exits with kExitConvert and "<context>: <what>: <message>" when !st.ok().
void CheckStatus(const Status& st, const std::string& context, const std::string& what);

struct GenRunner {
  std::unique_ptr<Session> session;
  std::unique_ptr<Pipeline> pipeline;
};
GenRunner MakeGenRunner(const Model* m, const SessionOptions& so, const std::string& context);

// PSNR of `x` against `ref` (whole arrays); 99 dB when they are equal.
double Psnr(const float* ref, const float* x, size_t n, double peak);
// The PSNR peak: 2 for pixel models (values in [-1, 1]), else the range of
// the reference.
double PsnrPeak(const fb::Pipeline* meta, const std::vector<float>& ref);

// Samples of `seeds` noise seeds per class, as one generation: sample
// s*|classes| + k is class k with noise stream s*|classes| + k of `seed`.
// Classes outside the model's range exit with kExitUsage naming `flag`.
GenerateOptions CalibrationSet(const Model& m, const std::vector<int64_t>& classes, int seeds, uint64_t seed,
                               const std::string& flag);

}  // namespace conv
}  // namespace edge
