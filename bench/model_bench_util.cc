#include "bench/model_bench_util.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "ops/cpu_features.h"

namespace edge {
namespace bench {

Options::Options(int argc, char** argv, const std::vector<std::string>& flags) {
  for (int i = 0; i < argc; ++i) {
    if (i) command_ += ' ';
    command_ += argv[i];
  }
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a.size() < 3 || a.compare(0, 2, "--") != 0) {
      error_ = "unexpected argument '" + a + "'";
      return;
    }
    a = a.substr(2);
    if (std::find(flags.begin(), flags.end(), a) != flags.end()) {
      values_.push_back({a, "1"});
    } else if (i + 1 < argc) {
      values_.push_back({a, argv[++i]});
    } else {
      error_ = "--" + a + " needs a value";
      return;
    }
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

std::string JsonString(const std::string& s) {
  std::string o = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      o += '\\';
      o += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char b[8];
      std::snprintf(b, sizeof(b), "\\u%04x", c);
      o += b;
    } else {
      o += c;
    }
  }
  return o + "\"";
}

std::string JsonNumber(double v) {
  if (!std::isfinite(v)) return "null";
  char b[32];
  std::snprintf(b, sizeof(b), "%.6g", v);
  return b;
}

std::string JsonStats(const Stats& s) {
  return "{\"median\":" + JsonNumber(s.median) + ",\"min\":" + JsonNumber(s.min) +
         ",\"max\":" + JsonNumber(s.max) + ",\"n\":" + std::to_string(s.n) + "}";
}

std::string JsonArray(const std::vector<double>& v) {
  std::string o = "[";
  for (size_t i = 0; i < v.size(); ++i) o += (i ? "," : "") + JsonNumber(v[i]);
  return o + "]";
}

std::string MachineJson() {
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
  std::string isa = "[";
  bool first = true;
  for (const char* k : kInteresting) {
    if (flags.find(std::string(" ") + k + " ") != std::string::npos) {
      isa += (first ? "" : ",") + JsonString(k);
      first = false;
    }
  }
  isa += "]";
  const CpuFeatures& c = DetectCpuFeatures();
  std::string used = c.avx512vnni ? "avx512vnni" : c.avx512f ? "avx512" : c.avx2 ? "avx2"
                   : c.i8mm ? "i8mm" : c.dotprod ? "dotprod" : c.neon ? "neon" : "scalar";
  const char* cap = std::getenv("EDGE_ISA_CAP");
  return "{\"cpu_model\":" + JsonString(model) + ",\"cores_online\":" +
         std::to_string(sysconf(_SC_NPROCESSORS_ONLN)) + ",\"isa\":" + isa +
         ",\"kernel_isa\":" + JsonString(used) + ",\"edge_isa_cap\":" + JsonString(cap ? cap : "") + "}";
}

}  // namespace bench
}  // namespace edge
