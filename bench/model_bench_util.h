// Helpers shared by the model and attention benchmarks: option parsing,
// run statistics, machine description, sizes, output quality and JSON.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace edge {
namespace bench {

// "--name value" and "--flag" options; anything else is an error.
class Options {
 public:
  // `flags` lists the options that take no value.
  Options(int argc, char** argv, const std::vector<std::string>& flags);
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

// JSON pieces.
std::string JsonString(const std::string& s);
std::string JsonNumber(double v);  // non-finite -> null (inf PSNR is reported as null + a note)
std::string JsonStats(const Stats& s);
std::string JsonArray(const std::vector<double>& v);
// {"cpu_model": ..., "cores": ..., "isa": [...], "kernel_isa": ...}
std::string MachineJson();

}  // namespace bench
}  // namespace edge
