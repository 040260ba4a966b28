// Fuzz target: model file bytes -> Model::LoadBuffer (FlatBuffers verifier and
// the loader's own checks) -> Session::Create (kernel choice, prepare, memory
// plan, bind) -> one Invoke on zero inputs. Every step may refuse the bytes
// with a Status; none may crash, leak or trip ASan/UBSan.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "runtime/model.h"
#include "runtime/session.h"

namespace {
// A hostile plan may ask for any arena size: cap it so a refusal, not the
// fuzzer's memory limit, answers.
constexpr size_t kArenaCap = size_t(64) << 20;
// Invoke only where the work is bounded enough for a fuzzing loop.
constexpr size_t kInvokeArenaCap = size_t(8) << 20;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto model = edge::Model::LoadBuffer(data, size, /*copy=*/true);
  if (!model.ok()) return 0;
  edge::SessionOptions opts;
  opts.num_threads = 1;
  opts.max_arena_bytes = kArenaCap;
  auto session = edge::Session::Create(model.value().get(), opts);
  if (!session.ok()) return 0;
  edge::Session& s = *session.value();
  if (s.arena_bytes() > kInvokeArenaCap) return 0;
  const edge::Model& m = *model.value();
  for (int t : m.inputs()) {
    std::vector<uint8_t> zeros(m.tensor(t).bytes, 0);
    if (!s.SetInput(t, zeros.data(), zeros.size()).ok()) return 0;
  }
  (void)s.Invoke();
  return 0;
}
