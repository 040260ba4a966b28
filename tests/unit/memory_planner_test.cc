#include "runtime/memory_planner.h"

#include <random>

#include <gtest/gtest.h>

namespace edge {
namespace {

// No two buffers alive at the same op may overlap in memory.
void ExpectValid(const std::vector<PlanRequest>& reqs, const MemoryPlan& plan) {
  ASSERT_EQ(plan.offsets.size(), reqs.size());
  for (size_t i = 0; i < reqs.size(); ++i) {
    EXPECT_EQ(plan.offsets[i] % 64, 0u);
    EXPECT_LE(plan.offsets[i] + reqs[i].bytes, plan.arena_bytes);
    for (size_t j = i + 1; j < reqs.size(); ++j) {
      const bool time = reqs[i].first <= reqs[j].last && reqs[j].first <= reqs[i].last;
      const bool space = plan.offsets[i] < plan.offsets[j] + reqs[j].bytes &&
                         plan.offsets[j] < plan.offsets[i] + reqs[i].bytes;
      EXPECT_FALSE(time && space && reqs[i].bytes > 0 && reqs[j].bytes > 0)
          << "buffers " << i << " and " << j << " overlap";
    }
  }
  EXPECT_GE(plan.arena_bytes, plan.peak_live_bytes);
  EXPECT_LE(plan.arena_bytes, plan.sum_bytes);
}

TEST(MemoryPlanner, ChainReusesMemory) {
  // a -> b -> c -> d, each 1 KiB: at most two alive at once.
  std::vector<PlanRequest> reqs;
  for (int i = 0; i < 4; ++i) reqs.push_back({1024, i - 1, i});
  auto plan = PlanMemory(reqs, 64);
  ASSERT_TRUE(plan.ok());
  ExpectValid(reqs, *plan);
  EXPECT_EQ(plan->peak_live_bytes, 2048u);
  EXPECT_EQ(plan->arena_bytes, 2048u);
}

TEST(MemoryPlanner, RandomIntervalsAreValidAndTight) {
  std::mt19937 rng(42);
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<PlanRequest> reqs;
    const int n = 1 + static_cast<int>(rng() % 60);
    for (int i = 0; i < n; ++i) {
      const int first = static_cast<int>(rng() % 40) - 1;
      const int len = static_cast<int>(rng() % 8);
      reqs.push_back({static_cast<size_t>(1 + rng() % 100000), first, first + len});
    }
    auto plan = PlanMemory(reqs, 64);
    ASSERT_TRUE(plan.ok());
    ExpectValid(reqs, *plan);
    // Greedy-by-size is not optimal, but far from the no-reuse sum.
    EXPECT_LE(plan->arena_bytes, plan->peak_live_bytes * 2);
  }
}

TEST(MemoryPlanner, ZeroSizedAndEmpty) {
  auto empty = PlanMemory({}, 64);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->arena_bytes, 0u);
  auto z = PlanMemory({{0, 0, 0}, {0, 0, 1}}, 64);
  ASSERT_TRUE(z.ok());
  ExpectValid({{0, 0, 0}, {0, 0, 1}}, *z);
}

TEST(MemoryPlanner, RejectsBadInterval) {
  auto plan = PlanMemory({{16, 3, 1}}, 64);
  EXPECT_FALSE(plan.ok());
}

}  // namespace
}  // namespace edge
