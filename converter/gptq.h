// Error-feedback rounding of Linear weights (--weight-rounding gptq), after
// GPTQ (Frantar et al., 2022): a weight's rounding error is pushed onto the
// weights of the same row not yet rounded, in proportion to how the layer's
// calibration inputs correlate, so that the layer's output error
// sum_x |(W - Q) x|^2 is small rather than each weight's own error. The
// result is still plain INT8 / NVFP4 (same bytes, same kernels); only which
// codes are chosen changes.
//
// Statistics: the Gram matrix H = sum x x^T of each quantized Linear's
// input rows over the calibration trajectories (calib_trajectories.h, with
// at least one sample of every calibration class; at most kGramRowsPerRun
// evenly spaced rows of each run, summed in double).
//
// Rounding, per row of W[N, K], one column at a time in a fixed order
// (--gptq-order act, the default: by decreasing input energy H[k][k];
// natural: k = 0, 1, ...): with U the upper Cholesky factor of
// (H + damp * mean(diag H) * I)^-1 in that order (--gptq-damp, default 0.1),
// each column is rounded and its error e, divided by its U diagonal, is
// subtracted times U's row from every column rounded after it. NVFP4 block
// scales follow the format's rule (--nvfp4-scales): in act order chosen up
// front from the original weights, in natural order from each 16-column
// block's values as updated when its first column is reached. INT8 keeps the
// per-row scale of the original row (amax / 127) and clamps.
//
// A column whose input is always 0 is decoupled from the others (its H row
// and column zeroed, its diagonal set to the mean): it is rounded to nearest
// and passes no error on. The proxy error tr((W-Q) H (W-Q)^T) of the result
// is compared with the nearest rounding's and the smaller wins, so a layer
// never gets worse on its calibration data.
//
// Measured on the demo image model (bench/results/nvfp4_quality.md): act
// order with damping 0.1 was the best of four order / damping combinations
// for NVFP4 alone (all within about 2 dB of each other) and beat natural
// order for mixed by 1.7 dB.
#pragma once

#include <cstdint>
#include <vector>

#include "converter/ir.h"
#include "converter/quantize.h"

namespace edge {
namespace conv {

constexpr int64_t kGramRowsPerRun = 1024;

struct InputGram {
  int64_t K = 0;
  int64_t rows = 0;       // input rows summed
  std::vector<double> h;  // K x K, symmetric
};

// Grams of the inputs of model ops `ops` (Linear ops of the FP32 model image
// `image`, which carries pipeline metadata), one per listed op.
std::vector<InputGram> CollectInputGrams(const std::vector<uint8_t>& image, const std::vector<int>& ops,
                                         const QuantOptions& o);

struct GptqReport {
  double proxy_nearest = 0, proxy_gptq = 0;  // tr((W-Q) H (W-Q)^T) / tr(W H W^T)
  bool used = false;                         // the error-feedback result was kept
};

// Layer l at precision p (int8 / nvfp4) with error-feedback rounding on
// `gram` (its K must be l.K). NaN/Inf weights -> ConvertError as QuantizeWeight.
QuantWeightPtr QuantizeWeightGptq(const Graph& g, const LinearLayer& l, Precision p, const QuantOptions& o,
                                  const InputGram& gram, GptqReport* report);

}  // namespace conv
}  // namespace edge
