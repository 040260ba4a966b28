// edge_version(): the release this library was built as (edge.h's macros).
#include "runtime/edge.h"

#define EDGE_STR_(x) #x
#define EDGE_STR(x) EDGE_STR_(x)

extern "C" {

int edge_version(void) { return EDGE_VERSION; }

const char* edge_version_string(void) {
  return EDGE_STR(EDGE_VERSION_MAJOR) "." EDGE_STR(EDGE_VERSION_MINOR) "." EDGE_STR(EDGE_VERSION_PATCH);
}

}  // extern "C"
