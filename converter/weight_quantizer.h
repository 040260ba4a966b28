// The quantized Linear weights of one conversion, made once each: nearest
// rounding (QuantizeWeight), or error-feedback rounding on input statistics
// of the FP32 model (gptq.h) when QuantOptions::gptq is set. The mixed
// calibration, the output ranking, the tuner's trial models and the written
// file all take their weights from here, so that what was measured is what
// is stored.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "converter/emit.h"
#include "converter/gptq.h"
#include "converter/ir.h"
#include "converter/quantize.h"
#include "converter/regions.h"

namespace edge {
namespace conv {

class WeightQuantizer {
 public:
  WeightQuantizer(Graph& g, const std::vector<Region>& regions, const PipelineFlags& pipe, const std::string& name,
                  const QuantOptions& o)
      : g_(g), regions_(regions), pipe_(pipe), name_(name), o_(o) {}

  // The FP32 model image (no quantized weight) and, per graph node, its op
  // index there; emitted on first use.
  const std::vector<uint8_t>& Fp32Image();
  int OpOfNode(int node);

  // With o.gptq: collects the input statistics of every layer of `layers`
  // not planned FP32 (PlanLinears; mixed plans its layers INT8 before the
  // allocation), in one calibration pass, on the first call that has any
  // (later calls add nothing). A weight shared by several Linears takes the
  // first one's inputs. NaN/Inf weights are refused here, before the
  // calibration runs into them.
  void Prepare(const std::vector<LinearLayer>& layers);

  // Layer l's weight at p (int8 / nvfp4), made once per (weight, precision).
  QuantWeightPtr Get(const LinearLayer& l, Precision p);

  // Copies the error-feedback figures of each layer at its precision into it.
  void Annotate(std::vector<LinearLayer>* layers) const;
  double seconds() const { return seconds_; }

 private:
  Graph& g_;
  const std::vector<Region>& regions_;
  const PipelineFlags& pipe_;
  std::string name_;
  QuantOptions o_;
  std::vector<uint8_t> fp32_image_;
  std::vector<int> op_of_node_;
  bool prepared_ = false;
  std::map<int, InputGram> grams_;  // weight value -> statistics
  std::map<std::pair<int, int>, QuantWeightPtr> cache_;  // (weight value, precision)
  std::map<std::pair<int, int>, GptqReport> reports_;
  double seconds_ = 0;
};

}  // namespace conv
}  // namespace edge
