// Weight quantization of edge-convert: which Linear layers are stored as INT8
// or NVFP4, and the packed bytes the runtime kernels use in place.
//
// Conv2d weights have their own flag, --conv-precision fp32|int8 (every
// Conv2d of every graph of the file; QuantizeConvWeights below).
//
// Precision rule (--precision fp32|int8|nvfp4|mixed):
//   * Only Linear ops with a constant F32 weight [N, K] are candidates; conv
//     patch embeddings, embedding tables, norms and biases stay F32.
//   * A Linear stays F32 when K < 16 or N*K < --quant-min-size (default 4096):
//     quantizing it saves almost nothing and costs accuracy.
//   * The last Linear in graph order (the DiT final projection to the latent)
//     stays F32 unless --final-layer quantize: its error lands on the output
//     unattenuated (dit_s2 fixture: NVFP4 output error 0.044 with it F32, 0.10
//     with it NVFP4), for 0.3% of the weights.
//   * int8 / nvfp4 store every other candidate at that precision; mixed
//     calibrates (calibrate.h: each layer's own relative output error) and
//     gives NVFP4 to the least sensitive layers until the average bits per
//     weight over the mixed layers is at most --target-bits (skipping layers
//     whose own NVFP4 error is above --max-error), INT8 to the rest.
//     Sensitivity (--mixed-rank): output (default; mixed_rank.h) the squared
//     error a layer alone in NVFP4 adds to final generations, per stored bit
//     saved; error: the layer's own NVFP4 error.
//   * --precision-override PATTERN=fp32|int8|nvfp4 (glob on the Linear op name
//     or its weight name; later overrides win) forces a layer whatever the
//     rules above say.
//
// Storage: INT8 symmetric per output channel, packed PackedInt8N16K4, with
// FP32 scales [N]; NVFP4 (ops/nvfp4.h: E4M3 block scales, RNE E2M1) packed
// PackedNvfp4N16K64. --nvfp4-scales mse (default) picks each block's E4M3
// scale of least squared error among candidates around amax/6 (the format
// row's quantize_offline); amax keeps the reference quantizer's amax/6 (what
// edge-run --precision nvfp4 does at load time). Both are plain NVFP4. Sizes, layouts and the quantize / pack
// entry points come from the weight-format table, ops/quant_format.h.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "converter/ir.h"
#include "converter/regions.h"

namespace edge {
namespace conv {

enum class Precision : int { kFp32 = 0, kInt8 = 1, kNvfp4 = 2 };
const char* PrecisionName(Precision p);
// "fp32" / "int8" / "nvfp4"; false otherwise.
bool ParsePrecision(const std::string& s, Precision* p);

struct QuantOptions {
  std::string mode = "fp32";  // fp32 | int8 | nvfp4 | mixed
  int64_t min_size = 4096;    // N*K below this stays F32
  bool quantize_final = false;
  bool scale_search = true;   // --nvfp4-scales mse (true) | amax
  // --weight-rounding: 1 gptq (gptq.h), 0 nearest, -1 auto: gptq for
  // mixed (which calibrates anyway), nearest for int8 / nvfp4. `gptq` is
  // the resolved choice.
  int rounding = -1;
  bool gptq = false;
  double gptq_damp = 0.1;       // --gptq-damp: diagonal damping, fraction of the mean
  bool gptq_act_order = true;   // --gptq-order act (true) | natural
  std::vector<std::pair<std::string, Precision>> overrides;  // in command-line order
  // mixed
  double target_bits = 6.0;   // <= 0: no bit budget
  double max_error = -1.0;    // < 0: no error limit
  bool rank_by_output = true; // --mixed-rank output (true) | error
  int calib_threads = 1;      // parallel generations of the output ranking
  int calib_steps = 8;
  int calib_seeds = 2;
  std::vector<int64_t> calib_classes;  // empty: 0..num_classes-1
};

// One Linear op of the lowered graph.
struct LinearLayer {
  int node = -1;           // index in Graph::nodes
  std::string name;        // op name
  std::string weight;      // weight value name
  int weight_value = -1;
  int64_t N = 0, K = 0;
  int region = -1;         // cache region holding it (-1: outside every block)
  bool candidate = false;  // quantizable under the size/final rules
  bool overridden = false;
  Precision precision = Precision::kFp32;
  std::string reason;      // why it has its precision
  // Filled by calibration (mixed): relative L2 error of the layer output.
  double err_int8 = -1, err_nvfp4 = -1;
  // Filled by the output ranking (mixed_rank.h): mean squared error and PSNR
  // of final generations with only this layer in NVFP4 (-1: not measured).
  double out_mse = -1, out_psnr = -1;
  // --weight-rounding gptq (gptq.h): the layer's calibration output error,
  // relative, with nearest and with error-feedback rounding (-1: not done),
  // and whether the latter was kept.
  double gptq_proxy_nearest = -1, gptq_proxy = -1;
  bool gptq_used = false;
};

// A weight ready for ModelWriter: a Linear's packed, a Conv2d's row-major.
struct QuantWeight {
  Precision precision = Precision::kFp32;
  std::string name;
  int64_t N = 0, K = 0;         // rows (output channels) and the reduction length
  std::vector<int64_t> shape;   // as stored: {N, K} (Linear) or OIHW (Conv2d)
  bool packed = true;           // the format's packed layout; false: row-major
  std::vector<uint8_t> data;    // int8 or NVFP4 codes
  std::vector<uint8_t> scales;  // f32 [N] (int8) or E4M3 block scales (nvfp4)
  float tensor_scale = 1.f;     // nvfp4 g_dec
  size_t bytes() const { return data.size() + scales.size(); }
};
using QuantWeightPtr = std::shared_ptr<const QuantWeight>;

// Bits per weight stored for [N, K] at precision p (padding and scales included).
double StoredBits(Precision p, int64_t N, int64_t K);

// Lists the Linear ops and applies the static rules (size, final layer,
// overrides; the mode for int8/nvfp4). An override pattern that matches no
// Linear is a usage error.
std::vector<LinearLayer> PlanLinears(Graph& g, const std::vector<Region>& regions, const QuantOptions& o);

// Quantizes (and packs) one weight; `search`: the format's offline quantizer
// (QuantOptions::scale_search). NaN/Inf -> ConvertError(kExitConvert)
// "weight 'NAME' has a NaN/Inf at (n, k)".
QuantWeightPtr QuantizeWeight(const Graph& g, const LinearLayer& l, Precision p, bool search);

// ConvertError(kExitConvert) "weight 'NAME' has a NaN/Inf at (n, k)" unless
// layer l's weight is finite.
void RequireFiniteWeight(const Graph& g, const LinearLayer& l);

// Packs row-major data / scales of layer l in the format of p (the sizes of
// its row-major layout, ops/quant_format.h) into a QuantWeight.
QuantWeightPtr PackQuantWeight(const LinearLayer& l, Precision p, const std::vector<uint8_t>& rows,
                               const std::vector<uint8_t>& scales, float tensor_scale);

// --conv-precision: every Conv2d with a constant F32 weight [O, C/g, kh, kw]
// of the graph gets it quantized at p (fp32: none; int8: symmetric per output
// channel, stored row-major OIHW, which the runtime packs per group at load;
// the bias stays F32). Node index -> weight, for Emit. NaN/Inf ->
// ConvertError(kExitConvert) as QuantizeWeight.
std::map<int, QuantWeightPtr> QuantizeConvWeights(const Graph& g, Precision p);

// Mixed allocation over the layers with calibration errors (candidate and not
// overridden): starts from INT8 and moves layers to NVFP4 in order of
// increasing sensitivity (o.rank_by_output: out_mse per bit saved; else
// err_nvfp4; ties: graph order). Returns the average bits.
double AllocateMixed(std::vector<LinearLayer>* layers, const QuantOptions& o);

}  // namespace conv
}  // namespace edge
