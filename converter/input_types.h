// Graph-input rewrites that run before inference (converter/input_types.cc).
#pragma once

#include <string>
#include <vector>

#include "converter/ir.h"

namespace edge {
namespace conv {

// Integer timesteps: diffusers models take `timestep` as int64 and cast it to
// float before the sinusoidal embedding. The runtime has no Cast; every
// sampler passes timesteps as f32 anyway. An integer graph input whose every
// use reaches a Cast to float through view ops only (Unsqueeze, Reshape,
// Squeeze, Flatten, Identity, Expand) is declared f32 instead, which makes
// those Casts identities. Appends a note per retyped input to `notes`.
void FloatCastOnlyIntInputs(Graph& g, std::vector<std::string>* notes);

}  // namespace conv
}  // namespace edge
