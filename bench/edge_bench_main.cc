// edge-bench: one executable, one subcommand per benchmark.
//   edge-bench gemm --m 1024 --k 768 --n 3072 --precision int8 --threads 1 --json
// A new benchmark adds one line to kCommands (and its file in bench/). Each
// subcommand reads its own options (bench/model_bench_util.h: Options, CLI11):
// `--opt value` or `--opt=value`; an unknown option is refused with exit 2.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "bench/bench_common.h"
#include "bench/model_bench.h"

namespace edge {
namespace bench {
int GemmMain(int argc, char** argv);
int ConvMain(int argc, char** argv);
}  // namespace bench
}  // namespace edge

namespace {

struct Command {
  const char* name;
  int (*run)(int argc, char** argv);
  const char* help;
  // --quick: the command's smoke-run arguments (CI, no timing claims).
  std::vector<std::vector<std::string>> quick;
};

const Command kCommands[] = {
    {"gemm", edge::bench::GemmMain,
     "--m M --k K --n N --precision fp32|int8|nvfp4 --threads T --reps R [--json]\n"
     "      quantized linear (incl. activation quantization) vs XNNPACK FP32 fully-connected",
     {{"--m", "1024", "--k", "768", "--n", "256", "--reps", "2", "--precision", "fp32"},
      {"--m", "1024", "--k", "768", "--n", "256", "--reps", "2", "--precision", "int8"},
      {"--m", "1024", "--k", "768", "--n", "256", "--reps", "2", "--precision", "nvfp4"}}},
    {"conv", edge::bench::ConvMain,
     "[--shape C,O,H,W,K] --threads 1,2 [--reps R] [--isa best|scalar] [--precision fp32|int8] [--json]\n"
     "      [--no-xnnpack]\n"
     "      F32 Conv2d on VAE decoder shapes (stride 1, same padding) vs XNNPACK's NHWC convolution;\n"
     "      --precision int8 adds edge's INT8 Conv2d (W8A8) to the same runs",
     {{"--shape", "16,16,16,16,3", "--threads", "1", "--reps", "2"},
      {"--shape", "16,16,16,16,3", "--threads", "1", "--reps", "2", "--precision", "int8"}}},
    {"model", edge::bench::RunModelBench,
     "[--model FILE | --dit b2|s2 --depth N --image S] --threads 1,2 --precision fp32,int8,nvfp4\n"
     "      --cache none,delta:0.3 --density 1,0.25 --runs R --steps S [--json] [--out FILE] [--quick]\n"
     "      per-op/block/forward/step latency, generation time, memory, sizes, quality vs FP32",
     {{"--quick"}}},
    {"attention", edge::bench::RunAttentionBench,
     "--tokens N --heads H --dim D --threads T [--json]\n"
     "      dense tiled FP32 attention vs PyTorch SDPA anchor figures",
     {{"--quick"}}},
};

void Usage() {
  std::fprintf(stderr, "usage: edge-bench <command> [options]\n       edge-bench --quick   (smoke run of every command)\n");
  for (const Command& c : kCommands) std::fprintf(stderr, "  %s %s\n", c.name, c.help);
}

// --quick: every subcommand once at a small size.
int Quick() {
  for (const Command& c : kCommands) {
    for (std::vector<std::string> args : c.quick) {
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(&a[0]);
      if (int rc = c.run(static_cast<int>(argv.size()), argv.data()); rc != 0) return rc;
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    Usage();
    return 2;
  }
  if (std::strcmp(argv[1], "--quick") == 0) return Quick();
  for (const Command& c : kCommands)
    if (std::strcmp(argv[1], c.name) == 0) return c.run(argc - 2, argv + 2);
  Usage();
  return 2;
}
