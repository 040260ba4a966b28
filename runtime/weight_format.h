// The schema's names for each row of the weight-format traits table
// (ops/quant_format.h): the dtype, the quantization scheme and the packed
// WeightLayout a file uses for it.
#pragma once

#include "ops/quant_format.h"
#include "schema/edge_model_generated.h"

namespace edge {

// The format whose stored dtype is `dtype` (F32, I8, NVFP4); null otherwise.
const QuantFormatTraits* WeightFormatOfDType(fb::DType dtype);
// The format of a quantization scheme; null for None and unknown schemes.
const QuantFormatTraits* WeightFormatOfScheme(fb::QuantScheme scheme);
// True when dtype and scheme name the same row (F32 with None, I8 with
// Int8PerChannel, NVFP4 with NVFP4).
bool IsWeightFormat(fb::DType dtype, fb::QuantScheme scheme);
// The quantization scheme of a format (None for F32).
fb::QuantScheme SchemeOf(const QuantFormatTraits& format);
// The packed layout of a format (PackedF32N16 for F32).
fb::WeightLayout PackedLayoutOf(const QuantFormatTraits& format);

}  // namespace edge
