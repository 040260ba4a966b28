// The edge-run settings that the C API's options structs gained after their
// first fields (edge.h: "The remaining edge-run settings"): their defaults,
// range checks and mapping onto the runtime's options, in one place.
#pragma once

#include "runtime/delta_cache.h"
#include "runtime/edge.h"
#include "runtime/session.h"

namespace edge {

void DefaultSessionSettings(edge_session_options* o);
void DefaultGenerateSettings(edge_generate_options* o);

// Each returns nullptr, or a message naming the field out of range.
const char* ApplySessionSettings(const edge_session_options& in, SessionOptions* out);
// The fields that choose cache thresholds and steps (before ResolveCacheOptions)...
const char* ApplyCacheRequestSettings(const edge_generate_options& in, CacheRequest* out);
// ...and those that change how a resolved cache stores and reuses residuals.
void ApplyCacheStorageSettings(const edge_generate_options& in, CacheOptions* out);

}  // namespace edge
