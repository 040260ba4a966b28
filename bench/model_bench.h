// Model-level benchmarks of edge-bench.
//
//   edge-bench model [--model FILE | --dit b2|s2 --depth N --image S] --threads 1,2
//                    --precision fp32,int8,nvfp4 --cache none --density 1
//                    --warmup W --runs R --steps S [--json FILE] [--quick]
//   edge-bench model ... --serve      (line protocol for the peer comparison driver)
//   edge-bench model ... --export DIR (model + weights + inputs for the peers)
//   edge-bench attention --tokens N --heads H --dim D --threads T [--json]
//
// Both return a process exit status (0 ok, 1 failure, 2 usage).
#pragma once

namespace edge {
namespace bench {

int RunModelBench(int argc, char** argv);
int RunAttentionBench(int argc, char** argv);

}  // namespace bench
}  // namespace edge
