// Cost model of edge-convert --target-psnr: predicted time of a generation
// from counted work (FLOPs of Linear/Conv and attention, bytes of the other
// ops) and a per-ISA throughput table. It makes the search deterministic
// (the same inputs pick the same configuration on any machine load) and lets
// a workstation tune for a board (--tune-isa). The measured speed-up of the
// chosen configuration is reported beside the prediction.
#pragma once

#include <string>
#include <vector>

#include "runtime/model.h"

namespace edge {
namespace conv {

// Throughput of one core, per kernel family, as the runtime runs it (whole
// layers: activation quantization and epilogues included). GFLOP/s, except
// `other_gbs` (GB/s of output written by the remaining ops).
struct IsaThroughput {
  const char* isa;
  const char* source;  // where the row comes from
  double linear_f32, linear_int8, linear_nvfp4;
  double attention_f32, attention_int8;
  // Cluster-sparse attention: planning (k-means, centroid scores, routing)
  // as a fraction of the dense FP32 attention it replaces.
  double cluster_plan;
  double cluster_gather;       // cost of a gathered exact pair over a dense one (FP32)
  double cluster_gather_int8;  // the same on INT8 attention
  // Token reuse: per-row bookkeeping (rates, extrapolation, gather/scatter of
  // the recomputed rows) as a fraction of the dense FP32 attention.
  double row_reuse;
  double other_gbs;
};

// The row for `isa` (empty: the CPU this runs on); nullptr when unknown.
const IsaThroughput* FindThroughput(const std::string& isa);
std::string ThroughputNames();  // "avx2, avx512, ..."

// Work of one graph run, split as the cost model needs it.
struct GraphWork {
  // Per precision of the Linear weight (0 f32, 1 int8, 2 nvfp4): FLOPs in and
  // outside the cache regions.
  double linear_in[3] = {0, 0, 0}, linear_out[3] = {0, 0, 0};
  double attention_in = 0, attention_out = 0;  // FLOPs (4 n_q n_k d per head)
  double other_in = 0, other_out = 0;          // bytes written
  double skip_bytes = 0;                       // bytes a skipped region writes (input + delta)
  int num_regions = 0;
};
GraphWork CountWork(const Model& m);

// What a configuration did over a generation.
struct RunShape {
  int graph_runs = 0;
  double skip_fraction = 0;    // of region runs
  bool attention_int8 = false;
  bool clusters = false;
  double exact_fraction = 1;   // clusters: exact query-key pairs / all
  bool token_reuse = false;
  double rows_fraction = 1;    // token reuse: attention query rows computed / all
};
// Predicted seconds.
double PredictSeconds(const GraphWork& w, const IsaThroughput& t, const RunShape& r);

}  // namespace conv
}  // namespace edge
