#include "runtime/threading.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <ctime>

#include <cpuinfo.h>

namespace edge {
namespace {

// Frequency rule: a cluster within this fraction of the fastest clock is big.
constexpr double kBigFrequencyRatio = 0.8;
constexpr int kMaxClusters = 16;

uint32_t MidrImplementer(uint32_t midr) { return midr >> 24; }
uint32_t MidrPart(uint32_t midr) { return (midr >> 4) & 0xFFF; }

const char* ArmPartName(uint32_t midr) {
  if (MidrImplementer(midr) != 0x41) return nullptr;
  switch (MidrPart(midr)) {
    case 0xC05: return "A5";
    case 0xC07: return "A7";
    case 0xC0F: return "A15";
    case 0xD01: return "A32";
    case 0xD03: return "A53";
    case 0xD04: return "A35";
    case 0xD05: return "A55";
    case 0xD07: return "A57";
    case 0xD08: return "A72";
    case 0xD09: return "A73";
    case 0xD0A: return "A75";
    case 0xD0B: return "A76";
    case 0xD0C: return "N1";
    case 0xD0D: return "A77";
    case 0xD41: return "A78";
    case 0xD44: return "X1";
    case 0xD46: return "A510";
    case 0xD47: return "A710";
    case 0xD48: return "X2";
    case 0xD4D: return "A715";
    case 0xD4E: return "X3";
    case 0xD80: return "A520";
    case 0xD81: return "A720";
    case 0xD82: return "X4";
    default: return nullptr;
  }
}

bool IsEfficiencyUarch(cpuinfo_uarch uarch) {
  switch (uarch) {
    case cpuinfo_uarch_cortex_a5:
    case cpuinfo_uarch_cortex_a7:
    case cpuinfo_uarch_cortex_a32:
    case cpuinfo_uarch_cortex_a35:
    case cpuinfo_uarch_cortex_a53:
    case cpuinfo_uarch_cortex_a55r0:
    case cpuinfo_uarch_cortex_a55:
      return true;
    default:
      return false;
  }
}

struct Topology {
  bool known = false;
  int num_clusters = 0;
  ClusterDesc clusters[kMaxClusters];
  uint32_t midr[kMaxClusters] = {0};
  bool is_big[kMaxClusters] = {false};
  int big_cores = 0;
  int total_cores = 0;
};

Topology ReadTopology() {
  Topology t;
  if (!cpuinfo_initialize()) return t;
  const uint32_t n = cpuinfo_get_clusters_count();
  if (n == 0 || n > kMaxClusters) return t;
  for (uint32_t i = 0; i < n; ++i) {
    const cpuinfo_cluster* c = cpuinfo_get_cluster(i);
    ClusterDesc& d = t.clusters[i];
    d.first_processor = static_cast<int>(c->processor_start);
    d.processor_count = static_cast<int>(c->processor_count);
    d.core_count = static_cast<int>(c->core_count);
    d.max_frequency_hz = c->frequency;
#if CPUINFO_ARCH_ARM || CPUINFO_ARCH_ARM64
    t.midr[i] = c->midr;
    d.efficiency_uarch = c->midr != 0 ? IsEfficiencyCoreMidr(c->midr) : IsEfficiencyUarch(c->uarch);
#else
    d.efficiency_uarch = IsEfficiencyUarch(c->uarch);
#endif
    t.total_cores += d.core_count;
  }
  t.num_clusters = static_cast<int>(n);
  t.big_cores = SelectBigClusters(t.clusters, t.num_clusters, t.is_big);
  t.known = t.big_cores > 0;
  return t;
}

#if defined(__linux__)
// Physical cores among the big clusters' processors that this process may
// run on, counted from sysfs: each processor's thread_siblings_list starts
// with the lowest sibling, one key per core. cpuinfo's x86 core count comes
// from CPUID topology leaves, which some hypervisors fill in inconsistently
// (2 cores reported as 1 core x 2 threads); sysfs also honours `taskset`.
// Returns 0 when sysfs cannot be read (caller falls back to cpuinfo).
int CountAllowedBigCores(const Topology& t) {
  cpu_set_t allowed, keys;
  CPU_ZERO(&allowed);
  CPU_ZERO(&keys);
  if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) return 0;
  for (int i = 0; i < t.num_clusters; ++i) {
    if (!t.is_big[i]) continue;
    const ClusterDesc& c = t.clusters[i];
    for (int p = c.first_processor; p < c.first_processor + c.processor_count; ++p) {
      const cpuinfo_processor* proc = cpuinfo_get_processor(static_cast<uint32_t>(p));
      if (proc == nullptr || proc->linux_id < 0 || proc->linux_id >= CPU_SETSIZE) return 0;
      if (!CPU_ISSET(proc->linux_id, &allowed)) continue;
      char path[96];
      std::snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/topology/thread_siblings_list",
                    proc->linux_id);
      FILE* f = std::fopen(path, "r");
      if (f == nullptr) return 0;
      int key = -1;
      const int got = std::fscanf(f, "%d", &key);
      std::fclose(f);
      if (got != 1 || key < 0 || key >= CPU_SETSIZE) return 0;
      CPU_SET(key, &keys);
    }
  }
  return CPU_COUNT(&keys);
}
#endif

const Topology& GetTopology() {
  static const Topology topology = [] {
    Topology t = ReadTopology();
#if defined(__linux__)
    if (t.known) {
      const int n = CountAllowedBigCores(t);
      if (n > 0) t.big_cores = n;
    }
#endif
    return t;
  }();
  return topology;
}

int OnlineProcessors() {
  const long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int>(n) : 1;
}

}  // namespace

bool IsEfficiencyCoreMidr(uint32_t midr) {
  const uint32_t impl = MidrImplementer(midr), part = MidrPart(midr);
  if (impl == 0x41) {  // Arm Ltd.
    switch (part) {
      case 0xC05: case 0xC07: case 0xD01: case 0xD03: case 0xD04:  // A5 A7 A32 A53 A35
      case 0xD05: case 0xD46: case 0xD80:                          // A55 A510 A520
        return true;
      default:
        return false;
    }
  }
  if (impl == 0x51) {  // Qualcomm Kryo "Silver" (A53/A55 derivatives)
    return part == 0x801 || part == 0x803 || part == 0x805;
  }
  return false;
}

int SelectBigClusters(const ClusterDesc* clusters, int n, bool* is_big) {
  if (n <= 0) return 0;
  int num_efficiency = 0;
  uint64_t max_freq = 0;
  for (int i = 0; i < n; ++i) {
    num_efficiency += clusters[i].efficiency_uarch ? 1 : 0;
    if (clusters[i].max_frequency_hz > max_freq) max_freq = clusters[i].max_frequency_hz;
  }
  const bool mixed_uarch = num_efficiency > 0 && num_efficiency < n;
  for (int i = 0; i < n; ++i) {
    if (mixed_uarch) {
      is_big[i] = !clusters[i].efficiency_uarch;
    } else {
      // Unknown clocks (0) count as big: without evidence, do not drop cores.
      const uint64_t f = clusters[i].max_frequency_hz;
      is_big[i] = f == 0 || static_cast<double>(f) >= kBigFrequencyRatio * static_cast<double>(max_freq);
    }
  }
  int cores = 0;
  for (int i = 0; i < n; ++i) {
    if (is_big[i]) cores += clusters[i].core_count;
  }
  if (cores == 0) {  // no core counts given: fall back to every cluster
    for (int i = 0; i < n; ++i) {
      is_big[i] = true;
      cores += clusters[i].core_count;
    }
  }
  return cores;
}

// Physical big cores this process may use (sysfs), else cpuinfo's count.
int DefaultThreadCount() {
  const Topology& t = GetTopology();
  return t.known ? t.big_cores : OnlineProcessors();
}

void DescribeCpuTopology(char* buf, size_t size) {
  if (size == 0) return;
  buf[0] = '\0';
  const Topology& t = GetTopology();
  if (!t.known) {
    std::snprintf(buf, size, "topology unknown; default threads %d (online processors)", OnlineProcessors());
    return;
  }
  size_t len = 0;
  auto append = [&](const char* fmt, auto... args) {
    if (len >= size) return;
    const int w = std::snprintf(buf + len, size - len, fmt, args...);
    if (w > 0) len += static_cast<size_t>(w);
  };
  append("%d cores in %d cluster%s:", t.total_cores, t.num_clusters, t.num_clusters == 1 ? "" : "s");
  for (int i = 0; i < t.num_clusters; ++i) {
    const ClusterDesc& c = t.clusters[i];
    if (c.core_count == 0) continue;  // cpuinfo can list empty clusters in VMs
    append("%s %dx", i == 0 ? "" : ",", c.core_count);
    const char* name = ArmPartName(t.midr[i]);
    if (name != nullptr) append(" %s", name);
    else if (t.midr[i] != 0) append(" midr 0x%08x", t.midr[i]);
    if (c.max_frequency_hz != 0) append(" %.2f GHz", static_cast<double>(c.max_frequency_hz) * 1e-9);
    if (c.efficiency_uarch) append(" (efficiency)");
    if (t.num_clusters > 1 && t.is_big[i]) append(" (big)");
  }
  append("; default threads %d", t.big_cores);
}

#if defined(__linux__)

Status BigCoreMask(cpu_set_t* mask) {
  const Topology& t = GetTopology();
  EDGE_CHECK_OR_RETURN(t.known, StatusCode::kUnsupported, "BigCoreMask: CPU topology unknown");
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  EDGE_CHECK_OR_RETURN(sched_getaffinity(0, sizeof(allowed), &allowed) == 0, StatusCode::kInternal,
                       "BigCoreMask: sched_getaffinity failed");
  CPU_ZERO(mask);
  for (int i = 0; i < t.num_clusters; ++i) {
    if (!t.is_big[i]) continue;
    const ClusterDesc& c = t.clusters[i];
    for (int p = c.first_processor; p < c.first_processor + c.processor_count; ++p) {
      const cpuinfo_processor* proc = cpuinfo_get_processor(static_cast<uint32_t>(p));
      if (proc == nullptr) continue;
      const int id = proc->linux_id;
      if (id >= 0 && id < CPU_SETSIZE && CPU_ISSET(id, &allowed)) CPU_SET(id, mask);
    }
  }
  EDGE_CHECK_OR_RETURN(CPU_COUNT(mask) > 0, StatusCode::kUnsupported,
                       "BigCoreMask: no big core is in this process's affinity");
  return Status::Ok();
}

namespace {

struct PinJob {
  cpu_set_t mask;
  size_t threads = 0;
  std::atomic<size_t> arrived{0};
  std::atomic<int> failures{0};
  std::atomic<bool> timed_out{false};
};

double NowSeconds() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// One task per pool thread. pthreadpool hands each thread its own range
// first and lets it steal only after finishing that range; since no task
// finishes before all have started, every thread runs exactly one.
void PinTask(void* context, size_t /*index*/) {
  PinJob* job = static_cast<PinJob*>(context);
  if (sched_setaffinity(0, sizeof(job->mask), &job->mask) != 0) job->failures.fetch_add(1);
  job->arrived.fetch_add(1);
  // Wait for the others. Threads pinned to one shared CPU must hand it over,
  // so each check is followed by a short sleep rather than a spin; and the
  // wait gives up only after 30 s without a new arrival (a thread that never
  // comes), however slowly the others arrive (a loaded or instrumented run).
  size_t seen = 0;
  double last_arrival = NowSeconds();
  for (size_t now_in; (now_in = job->arrived.load()) < job->threads;) {
    const double now = NowSeconds();
    if (now_in != seen) {
      seen = now_in;
      last_arrival = now;
    } else if (now - last_arrival > 30.0) {
      job->timed_out.store(true);
      return;
    }
    const timespec pause = {0, 100000};  // 0.1 ms
    nanosleep(&pause, nullptr);
  }
}

}  // namespace

Status PinThreadPool(pthreadpool_t pool, const cpu_set_t& mask) {
  EDGE_CHECK_OR_RETURN(CPU_COUNT(&mask) > 0, StatusCode::kInvalidArgument, "PinThreadPool: empty mask");
  PinJob job;
  job.mask = mask;
  job.threads = pool != nullptr ? pthreadpool_get_threads_count(pool) : 1;
  if (pool == nullptr || job.threads <= 1) {
    PinTask(&job, 0);
  } else {
    pthreadpool_parallelize_1d(pool, PinTask, &job, job.threads, 0);
  }
  EDGE_CHECK_OR_RETURN(job.failures.load() == 0, StatusCode::kInternal,
                       "PinThreadPool: sched_setaffinity failed on %d thread(s)", job.failures.load());
  EDGE_CHECK_OR_RETURN(!job.timed_out.load(), StatusCode::kInternal,
                       "PinThreadPool: only %zu of %zu threads took their pinning task",
                       job.arrived.load(), job.threads);
  return Status::Ok();
}

namespace {

// Big-core mask, or an empty optional-like result when pinning would change
// nothing (homogeneous CPU: every allowed processor is big).
Status MaskIfHeterogeneous(cpu_set_t* mask, bool* needed) {
  *needed = false;
  EDGE_RETURN_IF_ERROR(BigCoreMask(mask));
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) return Status::Ok();
  *needed = !CPU_EQUAL(mask, &allowed);
  return Status::Ok();
}

}  // namespace

Status PinCurrentThreadToBigCores() {
  cpu_set_t mask;
  bool needed = false;
  EDGE_RETURN_IF_ERROR(MaskIfHeterogeneous(&mask, &needed));
  if (!needed) return Status::Ok();
  EDGE_CHECK_OR_RETURN(sched_setaffinity(0, sizeof(mask), &mask) == 0, StatusCode::kInternal,
                       "PinCurrentThreadToBigCores: sched_setaffinity failed");
  return Status::Ok();
}

Status PinThreadPoolToBigCores(pthreadpool_t pool) {
  cpu_set_t mask;
  bool needed = false;
  EDGE_RETURN_IF_ERROR(MaskIfHeterogeneous(&mask, &needed));
  if (!needed) return Status::Ok();
  return PinThreadPool(pool, mask);
}

#else  // !__linux__

Status PinCurrentThreadToBigCores() {
  return Status::Error(StatusCode::kUnsupported, "thread pinning is implemented for Linux only");
}

Status PinThreadPoolToBigCores(pthreadpool_t) {
  return Status::Error(StatusCode::kUnsupported, "thread pinning is implemented for Linux only");
}

#endif

}  // namespace edge
