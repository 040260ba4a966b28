// Helpers shared by the edge-bench subcommands: option parsing, run
// statistics, machine description, sizes, output quality and JSON.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "host/json_figure.h"

namespace edge {
namespace bench {

// A subcommand's options, read with CLI11: "--name value" or "--name=value"
// for the names in `values`, "--flag" for those in `flags`; anything else is
// an error. An option given twice keeps its last value, so a wrapper can
// append overrides.
class Options {
 public:
  Options(int argc, char** argv, const std::vector<std::string>& values, const std::vector<std::string>& flags);
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  bool Has(const std::string& name) const;
  std::string Str(const std::string& name, const std::string& def) const;
  long Int(const std::string& name, long def) const;
  double Double(const std::string& name, double def) const;
  // Comma-separated list ("1,2").
  std::vector<std::string> List(const std::string& name, const std::string& def) const;
  // The command line as given (for the report).
  const std::string& command() const { return command_; }

 private:
  std::vector<std::pair<std::string, std::string>> values_;
  std::string error_, command_;
};

struct Stats {
  double median = 0, min = 0, max = 0;
  size_t n = 0;
};
Stats Summarize(std::vector<double> v);

double NowMs();
size_t PeakRssBytes();      // VmHWM of this process
long FileBytes(const std::string& path);  // -1 if missing
std::string SelfExePath();

// PSNR (dB, peak = max - min of the reference) and relative L2 error of
// `test` against `ref`. PSNR is +inf for identical arrays.
double Psnr(const float* ref, const float* test, size_t n);
double RelL2(const float* ref, const float* test, size_t n);

// JSON pieces (nlohmann-json).
using host::Json;
// 6 significant digits; non-finite -> null (inf PSNR is reported as null + a note).
inline Json JsonNumber(double v) { return host::JsonFigure(v); }
using host::JsonFigure;
// One JSON object on one line of stdout (JSON-lines outputs, serve replies).
void PrintJsonLine(const Json& j);
Json JsonStats(const Stats& s);
Json JsonArray(const std::vector<double>& v);
// {"cpu_model": ..., "cores": ..., "isa": [...], "kernel_isa": ...}
Json MachineJson();

}  // namespace bench
}  // namespace edge
