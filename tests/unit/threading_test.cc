// Thread-count / affinity policy: the big-core selection on made-up SoCs, and
// pinning of pthreadpool workers on this machine.
#include "runtime/threading.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>

#include <gtest/gtest.h>

namespace edge {
namespace {

constexpr uint64_t kGHz = 1000000000ull;

ClusterDesc Cluster(int first, int cores, bool efficiency, double ghz, int smt = 1) {
  ClusterDesc c;
  c.first_processor = first;
  c.processor_count = cores * smt;
  c.core_count = cores;
  c.efficiency_uarch = efficiency;
  c.max_frequency_hz = static_cast<uint64_t>(ghz * kGHz);
  return c;
}

TEST(SelectBigClusters, LittleThenBigByUarch) {
  // RK3399-like: 4x A53 1.42 GHz + 2x A72 1.8 GHz.
  const ClusterDesc c[] = {Cluster(0, 4, true, 1.42), Cluster(4, 2, false, 1.8)};
  bool big[2];
  EXPECT_EQ(SelectBigClusters(c, 2, big), 2);
  EXPECT_FALSE(big[0]);
  EXPECT_TRUE(big[1]);
}

TEST(SelectBigClusters, UarchWinsOverEqualClocks) {
  // Dimensity-like: A55 and A76 both at 2.0 GHz; the A55s are still LITTLE.
  const ClusterDesc c[] = {Cluster(0, 4, true, 2.0), Cluster(4, 4, false, 2.0)};
  bool big[2];
  EXPECT_EQ(SelectBigClusters(c, 2, big), 4);
  EXPECT_FALSE(big[0]);
  EXPECT_TRUE(big[1]);
}

TEST(SelectBigClusters, PrimeAndPerformanceClustersAreBothBig) {
  // 1x X1 2.84 + 3x A78 2.42 + 4x A55 1.8: the three A78s are not dropped
  // just because the prime core clocks higher (4 threads beat 1).
  const ClusterDesc c[] = {Cluster(0, 4, true, 1.8), Cluster(4, 3, false, 2.42), Cluster(7, 1, false, 2.84)};
  bool big[3];
  EXPECT_EQ(SelectBigClusters(c, 3, big), 4);
  EXPECT_FALSE(big[0]);
  EXPECT_TRUE(big[1]);
  EXPECT_TRUE(big[2]);
}

TEST(SelectBigClusters, UnknownUarchFallsBackToClock) {
  // Cores cpuinfo cannot name: 4 at 2.0 GHz and 4 at 3.0 GHz.
  const ClusterDesc c[] = {Cluster(0, 4, false, 2.0), Cluster(4, 4, false, 3.0)};
  bool big[2];
  EXPECT_EQ(SelectBigClusters(c, 2, big), 4);
  EXPECT_FALSE(big[0]);
  EXPECT_TRUE(big[1]);
  // Within 80% of the fastest: both big.
  const ClusterDesc d[] = {Cluster(0, 4, false, 2.5), Cluster(4, 4, false, 3.0)};
  EXPECT_EQ(SelectBigClusters(d, 2, big), 8);
  EXPECT_TRUE(big[0] && big[1]);
}

TEST(SelectBigClusters, HomogeneousAndAllLittle) {
  // Raspberry Pi 3: one cluster of A53s -> all of them.
  const ClusterDesc pi[] = {Cluster(0, 4, true, 1.2)};
  bool big[2];
  EXPECT_EQ(SelectBigClusters(pi, 1, big), 4);
  EXPECT_TRUE(big[0]);
  // Two LITTLE clusters at different clocks (e.g. 4x A53 2.0 + 4x A53 1.4).
  const ClusterDesc two[] = {Cluster(0, 4, true, 2.0), Cluster(4, 4, true, 1.4)};
  EXPECT_EQ(SelectBigClusters(two, 2, big), 4);
  EXPECT_TRUE(big[0]);
  EXPECT_FALSE(big[1]);
}

TEST(SelectBigClusters, SmtCountsPhysicalCoresAndUnknownClocksKeepCores) {
  // x86 with SMT: 8 cores / 16 processors in one package -> 8 threads.
  const ClusterDesc x86[] = {Cluster(0, 8, false, 0.0, 2)};
  bool big[2];
  EXPECT_EQ(SelectBigClusters(x86, 1, big), 8);
  // Under emulation or in a VM clocks may be unknown (0): keep every cluster.
  const ClusterDesc vm[] = {Cluster(0, 2, false, 0.0), Cluster(2, 2, false, 0.0)};
  EXPECT_EQ(SelectBigClusters(vm, 2, big), 4);
  EXPECT_TRUE(big[0] && big[1]);
  EXPECT_EQ(SelectBigClusters(vm, 0, big), 0);
}

TEST(IsEfficiencyCoreMidr, KnownParts) {
  EXPECT_TRUE(IsEfficiencyCoreMidr(0x410FD034));   // Cortex-A53 r0p4
  EXPECT_TRUE(IsEfficiencyCoreMidr(0x411FD050));   // Cortex-A55 r1p0
  EXPECT_TRUE(IsEfficiencyCoreMidr(0x410FD460));   // Cortex-A510
  EXPECT_TRUE(IsEfficiencyCoreMidr(0x51AF8014));   // Kryo 260/280 Silver
  EXPECT_FALSE(IsEfficiencyCoreMidr(0x413FD0C1));  // Neoverse-N1
  EXPECT_FALSE(IsEfficiencyCoreMidr(0x414FD0B1));  // Cortex-A76
  EXPECT_FALSE(IsEfficiencyCoreMidr(0x51AF8002));  // Kryo 260/280 Gold
  EXPECT_FALSE(IsEfficiencyCoreMidr(0));
}

TEST(Threading, DefaultThreadCountIsSane) {
  const int n = DefaultThreadCount();
  const long online = sysconf(_SC_NPROCESSORS_ONLN);
  EXPECT_GE(n, 1);
  EXPECT_LE(n, online > 0 ? online : 1);
  char buf[512];
  DescribeCpuTopology(buf, sizeof(buf));
  std::printf("cpu topology: %s\n", buf);
  EXPECT_NE(std::strstr(buf, "default threads"), nullptr);
  char tiny[8];
  DescribeCpuTopology(tiny, sizeof(tiny));  // truncates, stays terminated
  EXPECT_LT(std::strlen(tiny), sizeof(tiny));
}

#if defined(__linux__)

int FirstAllowedCpu(const cpu_set_t& set) {
  for (int i = 0; i < CPU_SETSIZE; ++i)
    if (CPU_ISSET(i, &set)) return i;
  return -1;
}

// Records the affinity seen by each thread that runs a task.
struct AffinityProbe {
  std::mutex mu;
  std::set<std::thread::id> threads;
  std::atomic<int> wrong{0};
  cpu_set_t expected;
};

void Probe(void* ctx, size_t) {
  AffinityProbe* p = static_cast<AffinityProbe*>(ctx);
  cpu_set_t s;
  CPU_ZERO(&s);
  if (sched_getaffinity(0, sizeof(s), &s) != 0 || !CPU_EQUAL(&s, &p->expected)) p->wrong.fetch_add(1);
  std::lock_guard<std::mutex> lock(p->mu);
  p->threads.insert(std::this_thread::get_id());
}

TEST(Threading, PinThreadPoolRestrictsEveryWorker) {
  // Pin a 4-thread pool to one CPU (a mask smaller than the machine's, so
  // the check means something on any machine), then look from every thread.
  cpu_set_t saved;
  ASSERT_EQ(sched_getaffinity(0, sizeof(saved), &saved), 0);
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(FirstAllowedCpu(saved), &one);

  pthreadpool_t pool = pthreadpool_create(4);
  ASSERT_NE(pool, nullptr);
  const Status st = PinThreadPool(pool, one);
  ASSERT_TRUE(st.ok()) << st.message();

  AffinityProbe probe;
  probe.expected = one;
  // Many small items so that the workers (not only the caller) take some.
  for (int rep = 0; rep < 20 && probe.threads.size() < 2; ++rep)
    pthreadpool_parallelize_1d(pool, Probe, &probe, 4000, 0);
  EXPECT_EQ(probe.wrong.load(), 0);
  EXPECT_GE(probe.threads.size(), 1u);
  pthreadpool_destroy(pool);
  ASSERT_EQ(sched_setaffinity(0, sizeof(saved), &saved), 0);

  cpu_set_t empty;
  CPU_ZERO(&empty);
  EXPECT_FALSE(PinThreadPool(nullptr, empty).ok());
}

TEST(Threading, PinToBigCoresKeepsAffinityWithinBigMask) {
  cpu_set_t saved;
  ASSERT_EQ(sched_getaffinity(0, sizeof(saved), &saved), 0);
  cpu_set_t big;
  const Status mask_st = BigCoreMask(&big);
  if (!mask_st.ok()) GTEST_SKIP() << "topology unknown here: " << mask_st.message();
  EXPECT_GE(CPU_COUNT(&big), 1);

  pthreadpool_t pool = pthreadpool_create(3);
  ASSERT_NE(pool, nullptr);
  Status st = PinThreadPoolToBigCores(pool);
  ASSERT_TRUE(st.ok()) << st.message();
  AffinityProbe probe;
  probe.expected = big;
  pthreadpool_parallelize_1d(pool, Probe, &probe, 1000, 0);
  EXPECT_EQ(probe.wrong.load(), 0);
  pthreadpool_destroy(pool);

  st = PinCurrentThreadToBigCores();
  EXPECT_TRUE(st.ok()) << st.message();
  cpu_set_t now;
  ASSERT_EQ(sched_getaffinity(0, sizeof(now), &now), 0);
  EXPECT_TRUE(CPU_EQUAL(&now, &big));
  ASSERT_EQ(sched_setaffinity(0, sizeof(saved), &saved), 0);
}

#endif  // __linux__

}  // namespace
}  // namespace edge
