// Fuzz target: ONNX bytes -> converter import -> inference, folding, fusion,
// lowering, cache regions (the passes edge-convert runs) -> emit. A refusal is
// a ConvertError (edge-convert's exit 2/3/4) or another std::exception
// (edge-convert exits 4 on those); anything else -- a signal, a sanitizer
// report -- is a bug.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <vector>

#include "converter/convert_graph.h"
#include "converter/emit.h"
#include "converter/onnx_import.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace edge::conv;
  try {
    // No folder: external data can never resolve to a real file.
    Graph g = ImportOnnxBytes(data, size, "/nonexistent", "fuzz.onnx");
    std::vector<std::string> warnings;
    std::vector<Region> regions = PrepareGraph(g, {}, "", &warnings);
    edge::ModelWriter w;
    Emit(g, regions, PipelineFlags(), "fuzz", &w);
    std::vector<uint8_t> image;
    (void)w.Finish(&image);
  } catch (const std::exception&) {
  }
  return 0;
}
