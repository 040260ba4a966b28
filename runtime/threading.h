// Thread-count and affinity policy for heterogeneous (big.LITTLE / DynamIQ)
// CPUs.
//
// A GEMM-bound DiT step runs at the pace of its slowest worker: with static
// partitioning, a thread that lands on a LITTLE core (in-order Cortex-A53/A55/
// A510/A520, often at a lower clock) holds back every big core. So by default
// edge uses one thread per *big* physical core, and can optionally pin its
// threads to the big cores so the scheduler does not migrate them to LITTLE
// ones. On homogeneous CPUs (most x86, Raspberry Pi) every core is "big" and
// the policy reduces to "one thread per physical core".
//
// "Big" is decided per cluster (cpuinfo's clusters): if some clusters have an
// efficiency micro-architecture and others do not, the big ones are the
// others; otherwise, if their maximum clocks differ, the big ones are those
// within 80% of the fastest; otherwise all clusters are big.
#pragma once

#include <cstddef>
#include <cstdint>

#include <pthreadpool.h>

#include "runtime/status.h"

#if defined(__linux__)
#include <sched.h>
#endif

namespace edge {

// One cluster of identical cores, as far as the policy needs to know.
struct ClusterDesc {
  int first_processor = 0;      // index of its first logical processor (cpuinfo order)
  int processor_count = 0;      // logical processors (SMT siblings included)
  int core_count = 0;           // physical cores
  bool efficiency_uarch = false;  // in-order LITTLE core (A5/A7/A32/A35/A53/A55/A510/A520)
  uint64_t max_frequency_hz = 0;  // 0 when unknown
};

// The policy itself, on a plain description (tests feed it made-up SoCs).
// Sets is_big[i] for each of the n clusters and returns the number of big
// physical cores (>= 1 when n >= 1).
int SelectBigClusters(const ClusterDesc* clusters, int n, bool* is_big);

// True for ARM MIDR values of in-order efficiency cores (LITTLE).
bool IsEfficiencyCoreMidr(uint32_t midr);

// Threads to use by default: the number of big physical cores this process
// may run on (>= 1; SMT siblings count once, a `taskset` mask is honoured;
// counted from Linux sysfs, else from cpuinfo). Falls back to the number of
// online processors when the topology is unknown. Computed once.
int DefaultThreadCount();

// Human-readable summary, e.g. "8 cores in 2 clusters: 4x A55 1.80 GHz,
// 4x A76 2.40 GHz (big); default threads 4". Always NUL-terminates buf.
void DescribeCpuTopology(char* buf, size_t size);

#if defined(__linux__)
// The logical processors of the big clusters (Linux CPU ids), intersected
// with the process's current affinity (so `taskset` keeps working). Fails
// when the topology is unknown or the intersection is empty.
Status BigCoreMask(cpu_set_t* mask);

// Restricts every thread of `pool` to `mask`, the calling thread included
// (pthreadpool runs part of each job on the caller). pthreadpool has no
// affinity API, so this runs one task per pool thread that sets its own
// affinity; the tasks wait for each other so that no thread can take a second
// task before every thread has taken one. `pool` may be null (caller only).
Status PinThreadPool(pthreadpool_t pool, const cpu_set_t& mask);
#endif

// Restricts the calling thread to the big cores. On homogeneous CPUs this
// leaves the affinity as it is and returns Ok. kUnsupported off Linux.
Status PinCurrentThreadToBigCores();

// PinThreadPool(pool, BigCoreMask()): the optional "pin" policy. Call it right
// after pthreadpool_create. Homogeneous CPUs: no change, Ok.
Status PinThreadPoolToBigCores(pthreadpool_t pool);

}  // namespace edge
