// edge-bench: one executable, one subcommand per benchmark.
//   edge-bench gemm --m 1024 --k 768 --n 3072 --precision int8 --threads 1 --json
// A new benchmark adds one line to kCommands (and its file in bench/).
#include <cstdio>
#include <cstring>

#include "bench/bench_common.h"

namespace edge {
namespace bench {
int GemmMain(const Args& args);
}  // namespace bench
}  // namespace edge

namespace {

struct Command {
  const char* name;
  int (*run)(const edge::bench::Args& args);
  const char* help;
};

const Command kCommands[] = {
    {"gemm", edge::bench::GemmMain,
     "--m M --k K --n N --precision fp32|int8|nvfp4 --threads T --reps R [--json]\n"
     "      quantized linear (incl. activation quantization) vs XNNPACK FP32 fully-connected"},
};

void Usage() {
  std::fprintf(stderr, "usage: edge-bench <command> [options]\n");
  for (const Command& c : kCommands) std::fprintf(stderr, "  %s %s\n", c.name, c.help);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    Usage();
    return 2;
  }
  for (const Command& c : kCommands) {
    if (std::strcmp(argv[1], c.name) == 0) {
      edge::bench::Args args(argc - 2, argv + 2);
      const int rc = c.run(args);
      for (const std::string& u : args.Unused()) std::fprintf(stderr, "warning: unused argument '%s'\n", u.c_str());
      return rc;
    }
  }
  Usage();
  return 2;
}
