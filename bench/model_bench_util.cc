#include "bench/model_bench_util.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include <CLI/CLI.hpp>

#include "ops/cpu_features.h"

namespace edge {
namespace bench {

Options::Options(int argc, char** argv, const std::vector<std::string>& values,
                 const std::vector<std::string>& flags) {
  for (int i = 0; i < argc; ++i) {
    if (i) command_ += ' ';
    command_ += argv[i];
  }
  CLI::App app;
  app.set_help_flag();  // subcommands that have --help list it in `flags`
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  std::vector<std::string> got(values.size());
  std::vector<CLI::Option*> given;
  for (size_t i = 0; i < values.size(); ++i) given.push_back(app.add_option("--" + values[i], got[i]));
  for (const std::string& f : flags) given.push_back(app.add_flag("--" + f));
  std::vector<std::string> args(argv, argv + argc);
  std::reverse(args.begin(), args.end());  // CLI11 reads a vector from its back
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    error_ = e.what();
    return;
  }
  for (size_t i = 0; i < given.size(); ++i) {
    if (given[i]->count() == 0) continue;
    if (i < values.size()) values_.push_back({values[i], got[i]});
    else values_.push_back({flags[i - values.size()], "1"});
  }
}

bool Options::Has(const std::string& name) const {
  for (const auto& kv : values_)
    if (kv.first == name) return true;
  return false;
}
std::string Options::Str(const std::string& name, const std::string& def) const {
  // The last occurrence wins, so a wrapper can append overrides.
  std::string v = def;
  for (const auto& kv : values_)
    if (kv.first == name) v = kv.second;
  return v;
}
long Options::Int(const std::string& name, long def) const {
  return Has(name) ? std::strtol(Str(name, "").c_str(), nullptr, 10) : def;
}
double Options::Double(const std::string& name, double def) const {
  return Has(name) ? std::strtod(Str(name, "").c_str(), nullptr) : def;
}
std::vector<std::string> Options::List(const std::string& name, const std::string& def) const {
  std::vector<std::string> out;
  std::stringstream ss(Str(name, def));
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

Stats Summarize(std::vector<double> v) {
  Stats s;
  s.n = v.size();
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  s.min = v.front();
  s.max = v.back();
  s.median = v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
  return s;
}

double NowMs() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

size_t PeakRssBytes() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.compare(0, 6, "VmHWM:") == 0) return size_t(std::strtoull(line.c_str() + 6, nullptr, 10)) * 1024;
  }
  return 0;
}

long FileBytes(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return -1;
  return static_cast<long>(st.st_size);
}

std::string SelfExePath() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return "";
  buf[n] = 0;
  return buf;
}

double Psnr(const float* ref, const float* test, size_t n) {
  if (n == 0) return 0;
  double lo = ref[0], hi = ref[0], se = 0;
  for (size_t i = 0; i < n; ++i) {
    lo = std::min(lo, double(ref[i]));
    hi = std::max(hi, double(ref[i]));
    const double d = double(ref[i]) - double(test[i]);
    se += d * d;
  }
  if (!std::isfinite(se)) return -INFINITY;
  if (se == 0) return INFINITY;
  const double mse = se / double(n), peak = hi - lo;
  return 10.0 * std::log10(peak * peak / mse);
}

double RelL2(const float* ref, const float* test, size_t n) {
  double num = 0, den = 0;
  for (size_t i = 0; i < n; ++i) {
    const double d = double(ref[i]) - double(test[i]);
    num += d * d;
    den += double(ref[i]) * double(ref[i]);
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

void PrintJsonLine(const Json& j) {
  std::printf("%s\n", j.dump().c_str());
  std::fflush(stdout);
}

Json JsonStats(const Stats& s) {
  return {{"median", JsonNumber(s.median)}, {"min", JsonNumber(s.min)}, {"max", JsonNumber(s.max)}, {"n", s.n}};
}

Json JsonArray(const std::vector<double>& v) {
  Json a = Json::array();
  for (double x : v) a.push_back(JsonNumber(x));
  return a;
}

Json MachineJson() {
  std::string model = "unknown";
  std::string flags;
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line)) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string key = line.substr(0, line.find_last_not_of(" \t", colon - 1) + 1);
    const std::string val = colon + 2 <= line.size() ? line.substr(colon + 2) : "";
    if ((key == "model name" || key == "Model" || key == "Hardware") && model == "unknown") model = val;
    if ((key == "flags" || key == "Features") && flags.empty()) flags = " " + val + " ";
  }
  // The ISA features that decide kernel choice, as the kernel reports them.
  static const char* kInteresting[] = {"avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512dq",
                                       "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_int8", "amx_bf16",
                                       "asimd", "asimddp", "i8mm", "bf16", "sve"};
  Json isa = Json::array();
  for (const char* k : kInteresting)
    if (flags.find(std::string(" ") + k + " ") != std::string::npos) isa.push_back(k);
  const CpuFeatures& c = DetectCpuFeatures();
  std::string used = c.avx512vnni ? "avx512vnni" : c.avx512f ? "avx512" : c.avx2 ? "avx2"
                   : c.i8mm ? "i8mm" : c.dotprod ? "dotprod" : c.neon ? "neon" : "scalar";
  const char* cap = std::getenv("EDGE_ISA_CAP");
  return {{"cpu_model", model}, {"cores_online", sysconf(_SC_NPROCESSORS_ONLN)}, {"isa", std::move(isa)},
          {"kernel_isa", used}, {"edge_isa_cap", cap ? cap : ""}};
}

}  // namespace bench
}  // namespace edge
