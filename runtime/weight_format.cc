#include "runtime/weight_format.h"

namespace edge {
namespace {

struct SchemaTags {
  fb::DType dtype;
  fb::QuantScheme scheme;
  fb::WeightLayout packed;
};

// Indexed by QuantFormat.
const SchemaTags kTags[kQuantFormatCount] = {
    {fb::DType::F32, fb::QuantScheme::None, fb::WeightLayout::PackedF32N16},
    {fb::DType::I8, fb::QuantScheme::Int8PerChannel, fb::WeightLayout::PackedInt8N16K4},
    {fb::DType::NVFP4, fb::QuantScheme::NVFP4, fb::WeightLayout::PackedNvfp4N16K64},
};

}  // namespace

const QuantFormatTraits* WeightFormatOfDType(fb::DType dtype) {
  for (int i = 0; i < kQuantFormatCount; ++i) {
    if (kTags[i].dtype == dtype) return &QuantFormatOf(static_cast<QuantFormat>(i));
  }
  return nullptr;
}

const QuantFormatTraits* WeightFormatOfScheme(fb::QuantScheme scheme) {
  for (int i = 0; i < kQuantFormatCount; ++i) {
    if (scheme != fb::QuantScheme::None && kTags[i].scheme == scheme) {
      return &QuantFormatOf(static_cast<QuantFormat>(i));
    }
  }
  return nullptr;
}

bool IsWeightFormat(fb::DType dtype, fb::QuantScheme scheme) {
  for (const SchemaTags& t : kTags) {
    if (t.dtype == dtype && t.scheme == scheme) return true;
  }
  return false;
}

fb::QuantScheme SchemeOf(const QuantFormatTraits& format) {
  return kTags[static_cast<int>(format.format)].scheme;
}

fb::WeightLayout PackedLayoutOf(const QuantFormatTraits& format) { return kTags[static_cast<int>(format.format)].packed; }

}  // namespace edge
