// Shared helpers of the edge-bench subcommands.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace edge {
namespace bench {

// "--name value" / "--flag" command-line options.
class Args {
 public:
  Args(int argc, char** argv);
  bool Has(const char* name) const;
  long Int(const char* name, long def) const;
  std::string Str(const char* name, const char* def) const;
  // Names given that no Int/Str/Has call asked about (typos).
  std::vector<std::string> Unused() const;

 private:
  std::vector<std::string> args_;
  mutable std::vector<bool> used_;
  int Find(const char* name) const;
};

double NowSeconds();
// CPU time of the whole process (all threads), seconds.
double ProcessCpuSeconds();
double Median(std::vector<double> v);
double Min(const std::vector<double>& v);

// Peak throughput of one core measured with an in-register loop (no memory),
// timed in thread CPU time:
// vpdpbusd (int8 ops: 2 per multiply-add) and FP32 FMA (2 flop each), in
// G op/s. 0 when the CPU lacks the instruction.
double MeasureInt8DotPeak();
double MeasureFp32FmaPeak();

}  // namespace bench
}  // namespace edge
