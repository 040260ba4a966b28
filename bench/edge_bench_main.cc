// edge-bench: one executable, one subcommand per benchmark.
//   edge-bench gemm --m 1024 --k 768 --n 3072 --precision int8 --threads 1 --json
// A new benchmark adds one line to kCommands (and its file in bench/).
#include <cstdio>
#include <cstring>

#include "bench/bench_common.h"
#include "bench/model_bench.h"

namespace edge {
namespace bench {
int GemmMain(const Args& args);
int ConvMain(const Args& args);
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
    {"conv", edge::bench::ConvMain,
     "[--shape C,O,H,W,K] --threads 1,2 [--reps R] [--isa best|scalar] [--json] [--no-xnnpack]\n"
     "      F32 Conv2d on VAE decoder shapes (stride 1, same padding) vs XNNPACK's NHWC convolution"},
};

// Subcommands that parse their own argc/argv (bench/model_bench.h).
struct RawCommand {
  const char* name;
  int (*run)(int argc, char** argv);
  const char* help;
};

const RawCommand kRawCommands[] = {
    {"model", edge::bench::RunModelBench,
     "[--model FILE | --dit b2|s2 --depth N --image S] --threads 1,2 --precision fp32,int8,nvfp4\n"
     "      --cache none,delta:0.3 --density 1,0.25 --runs R --steps S [--json] [--out FILE] [--quick]\n"
     "      per-op/block/forward/step latency, generation time, memory, sizes, quality vs FP32"},
    {"attention", edge::bench::RunAttentionBench,
     "--tokens N --heads H --dim D --threads T [--json]\n"
     "      dense tiled FP32 attention vs PyTorch SDPA anchor figures"},
};

void Usage() {
  std::fprintf(stderr, "usage: edge-bench <command> [options]\n       edge-bench --quick   (smoke run of every command)\n");
  for (const Command& c : kCommands) std::fprintf(stderr, "  %s %s\n", c.name, c.help);
  for (const RawCommand& c : kRawCommands) std::fprintf(stderr, "  %s %s\n", c.name, c.help);
}

// --quick: every subcommand once at a small size (CI smoke run, no timing claims).
int Quick() {
  static char m[] = "1024", k[] = "768", n[] = "256", reps[] = "2";
  static char am[] = "--m", ak[] = "--k", an[] = "--n", areps[] = "--reps";
  for (const char* prec : {"fp32", "int8", "nvfp4"}) {
    char aprec[] = "--precision";
    char* argv[] = {am, m, ak, k, an, n, areps, reps, aprec, const_cast<char*>(prec)};
    edge::bench::Args args(10, argv);
    if (int rc = edge::bench::GemmMain(args); rc != 0) return rc;
  }
  {
    static char ashape[] = "--shape", shape[] = "16,16,16,16,3", athreads[] = "--threads", one[] = "1";
    char* argv[] = {ashape, shape, athreads, one, areps, reps};
    edge::bench::Args args(6, argv);
    if (int rc = edge::bench::ConvMain(args); rc != 0) return rc;
  }
  static char quick[] = "--quick";
  char* qargv[] = {quick};
  for (const RawCommand& c : kRawCommands)
    if (int rc = c.run(1, qargv); rc != 0) return rc;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    Usage();
    return 2;
  }
  if (std::strcmp(argv[1], "--quick") == 0) return Quick();
  for (const RawCommand& c : kRawCommands)
    if (std::strcmp(argv[1], c.name) == 0) return c.run(argc - 2, argv + 2);
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
