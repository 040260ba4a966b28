// Proves that Session::Invoke() performs no heap allocation, for FP32,
// INT8 and NVFP4 weights, INT8 attention and tile- and cluster-sparse
// attention, and that the steps of a cached generation allocate nothing
// either: every allocation entry point of the process (operator new, malloc,
// calloc, realloc, posix_memalign, aligned_alloc) is counted while a flag is
// set. Also that FP32 Linear weights stored packed are not copied at
// prepare (bytes allocated by Session::Create). Sanitizer builds (ASan, TSan)
// replace the allocator themselves, so the test is skipped there.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/pipeline.h"
#include "runtime/session.h"
#include "runtime/writer/dit_builder.h"
#include "tests/unit/test_util.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define EDGE_COUNT_ALLOCS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define EDGE_COUNT_ALLOCS 0
#endif
#endif
#ifndef EDGE_COUNT_ALLOCS
#define EDGE_COUNT_ALLOCS 1
#endif

#if EDGE_COUNT_ALLOCS
namespace {
// Global (not thread-local): allocations on pool worker threads count too.
std::atomic<bool> g_counting{false};
std::atomic<int> g_allocations{0};
std::atomic<size_t> g_bytes{0};
void Note(size_t bytes = 0) {
  if (g_counting.load(std::memory_order_relaxed)) {
    g_allocations.fetch_add(1);
    g_bytes.fetch_add(bytes);
  }
}
}  // namespace

extern "C" {
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void* __libc_memalign(size_t, size_t);
void __libc_free(void*);

void* malloc(size_t n) { Note(n); return __libc_malloc(n); }
void* calloc(size_t a, size_t b) { Note(a * b); return __libc_calloc(a, b); }
void* realloc(void* p, size_t n) { Note(n); return __libc_realloc(p, n); }
void free(void* p) { __libc_free(p); }
int posix_memalign(void** out, size_t align, size_t n) {
  Note(n);
  void* p = __libc_memalign(align, n);
  if (p == nullptr) return 12;  // ENOMEM
  *out = p;
  return 0;
}
void* aligned_alloc(size_t align, size_t n) { Note(n); return __libc_memalign(align, n); }
void* memalign(size_t align, size_t n) { Note(n); return __libc_memalign(align, n); }
}
#endif

namespace edge {
namespace {

#if EDGE_COUNT_ALLOCS
// Allocations made by the second and later Invoke() of a session on `m`
// with `options` (the first may still warm up lazily); the kernel names go
// to `names` so callers can check that the path they meant really ran.
int InvokeAllocations(const Model& m, const SessionOptions& options, std::string* names) {
  auto s = Session::Create(&m, options);
  EXPECT_TRUE(s.ok()) << s.status().message();
  if (!s.ok()) return -1;
  names->clear();
  for (int i = 0; i < m.num_nodes(); ++i) *names += std::string((*s)->kernel_name(i)) + " ";
  // Graph inputs hold their value only until their last reader (the planner
  // reuses the memory after that), so set them before every Invoke: the
  // class-label ids must be in range for Embedding.
  const auto in = test_util::DitInputs(m);
  int worst = 0;
  for (int run = 0; run < 3; ++run) {  // first plan, then warm-started ones
    test_util::SetInputs(s->get(), in);
    g_allocations = 0;
    g_counting = run > 0;
    Status st = (*s)->Invoke();
    g_counting = false;
    EXPECT_TRUE(st.ok()) << st.message();
    if (run > 0) worst = std::max(worst, g_allocations.load());
  }
  return worst;
}

struct Case {
  const char* name;
  testing::LinearWeights weights;
  int image_size;
  SessionOptions options;
  const char* kernel;  // a kernel name part the case must run
};

std::vector<Case> Cases() {
  std::vector<Case> cases;
  for (int threads : {1, 2}) {
    Case c{"fp32", testing::LinearWeights::kF32, 8, SessionOptions(), "f32_"};
    c.options.num_threads = threads;
    cases.push_back(c);
    c = {"fp32 packed weights", testing::LinearWeights::kF32Packed, 8, SessionOptions(), "f32_"};
    c.options.num_threads = threads;
    cases.push_back(c);
    c = {"int8 weights", testing::LinearWeights::kInt8, 8, SessionOptions(), "qs8"};
    c.options.num_threads = threads;
    cases.push_back(c);
    c = {"nvfp4 weights", testing::LinearWeights::kNvfp4, 8, SessionOptions(), "nvfp4"};
    c.options.num_threads = threads;
    cases.push_back(c);
    // 144 tokens: enough keys for the sparse paths.
    c = {"int8 attention", testing::LinearWeights::kF32, 24, SessionOptions(), "qs8_attention"};
    c.options.num_threads = threads;
    c.options.attention_precision = 1;
    cases.push_back(c);
    c = {"tile-sparse attention", testing::LinearWeights::kF32, 24, SessionOptions(), "blocksparse"};
    c.options.num_threads = threads;
    c.options.attention_density = 0.34f;
    cases.push_back(c);
    // Cluster-sparse attention plans inside Invoke() (k-means, selection);
    // its state is allocated at prepare.
    c = {"cluster-sparse attention", testing::LinearWeights::kF32, 24, SessionOptions(), "clustersparse"};
    c.options.num_threads = threads;
    c.options.attention_sparse.mode = 2;
    cases.push_back(c);
    c = {"int8 tile-sparse attention", testing::LinearWeights::kInt8, 24, SessionOptions(), "qs8_attention_blocksparse"};
    c.options.num_threads = threads;
    c.options.attention_precision = 1;
    c.options.attention_density = 0.34f;
    cases.push_back(c);
  }
  return cases;
}

struct StepCounter {
  int steps_seen = 0;
};

// Counting runs from the end of step 0 to the end of the last step: every
// later step, with its cache decisions, reuse and graph runs, is covered.
void OnStep(void* user, int, int, int step, int steps, double) {
  static_cast<StepCounter*>(user)->steps_seen++;
  g_counting = step < steps - 1;
}
#endif

TEST(InvokeNoAlloc, InvokeAllocatesNothing) {
#if !EDGE_COUNT_ALLOCS
  GTEST_SKIP() << "allocation counting is disabled under sanitizers";
#else
  for (const Case& c : Cases()) {
    SCOPED_TRACE(std::string(c.name) + ", " + std::to_string(c.options.num_threads) + " thread(s)");
    testing::DitConfig cfg = test_util::SmallDitConfig(c.image_size);
    cfg.linear_weights = c.weights;
    auto model = test_util::BuildDitModel(cfg);
    ASSERT_NE(model, nullptr);
    std::string names;
    EXPECT_EQ(InvokeAllocations(*model, c.options, &names), 0) << "allocations inside Invoke()";
    EXPECT_NE(names.find(c.kernel), std::string::npos) << names;
  }
  // The counter works: an allocation while counting is seen.
  g_allocations = 0;
  g_counting = true;
  void* p = std::malloc(64);
  g_counting = false;
  std::free(p);
  EXPECT_EQ(g_allocations.load(), 1);
#endif
}

// Zero copy: a session on FP32 Linear weights stored packed allocates, at
// prepare, at least the bytes of every Linear weight less than one on the
// same weights stored row-major (which it packs into its own copy).
TEST(InvokeNoAlloc, PackedF32WeightsAreNotCopiedAtPrepare) {
#if !EDGE_COUNT_ALLOCS
  GTEST_SKIP() << "allocation counting is disabled under sanitizers";
#else
  size_t created[2] = {0, 0};
  size_t weight_bytes = 0;
  std::string packed_kernels;
  for (int packed = 0; packed < 2; ++packed) {
    testing::DitConfig cfg = test_util::SmallDitConfig(8);
    cfg.linear_weights = packed ? testing::LinearWeights::kF32Packed : testing::LinearWeights::kF32;
    auto model = test_util::BuildDitModel(cfg);
    ASSERT_NE(model, nullptr);
    weight_bytes = 0;
    for (int i = 0; i < model->num_nodes(); ++i) {
      const NodeInfo& node = model->node(i);
      if (node.type != fb::OpType::Linear) continue;
      const TensorInfo& w = model->tensor(node.inputs[1]);
      weight_bytes += static_cast<size_t>(w.num_elements) * sizeof(float);
      EXPECT_EQ(w.layout, packed ? fb::WeightLayout::PackedF32N16 : fb::WeightLayout::RowMajor);
    }
    g_bytes = 0;
    g_counting = true;
    auto s = Session::Create(model.get(), SessionOptions());
    g_counting = false;
    ASSERT_TRUE(s.ok()) << s.status().message();
    created[packed] = g_bytes.load();
    for (int i = 0; packed && i < model->num_nodes(); ++i) {
      if (model->node(i).type == fb::OpType::Linear) packed_kernels += std::string((*s)->kernel_name(i)) + " ";
    }
  }
  if (packed_kernels.find("xnnpack") != std::string::npos) {
    // The portable kernel's level (x86 capped to scalar, AArch32) gives
    // XNNPACK a copy on purpose (runtime/bindings/linear.cc).
    GTEST_SKIP() << "stored packed weights run XNNPACK from a copy at this ISA level";
  }
  EXPECT_GT(weight_bytes, size_t(0));
  EXPECT_GE(created[0], created[1] + weight_bytes)
      << "row-major " << created[0] << " bytes, packed " << created[1] << ", weights " << weight_bytes;
#endif
}

TEST(InvokeNoAlloc, CachedGenerationStepsAllocateNothing) {
#if !EDGE_COUNT_ALLOCS
  GTEST_SKIP() << "allocation counting is disabled under sanitizers";
#else
  // Steps after the first of a guided generation with the step cache on
  // (INT8 residuals too), with INT8 weights and sparse attention, or dense
  // attention with token reuse (mode 0).
  testing::DitConfig cfg = test_util::SmallDitConfig(24);
  cfg.linear_weights = testing::LinearWeights::kInt8;
  auto model = test_util::BuildDitModel(cfg);
  ASSERT_NE(model, nullptr);
  for (bool int8_deltas : {false, true}) {
    for (int mode : {0, 1, 2}) {
      SessionOptions so;
      so.num_threads = 2;
      so.attention_sparse.mode = mode;
      if (mode == 1) so.attention_density = 0.34f;
      if (mode == 0) so.token_reuse.threshold = 10.f;
      auto s = Session::Create(model.get(), so);
      ASSERT_TRUE(s.ok()) << s.status().message();
      auto p = Pipeline::Create(s->get());
      ASSERT_TRUE(p.ok()) << p.status().message();
      GenerateOptions g;
      g.steps = 8;
      g.guidance = 2.f;
      g.cache.policy = CachePolicy::kTdc;
      g.cache.threshold = 0.3f;
      g.cache.delta_int8 = int8_deltas;
      StepCounter counter;
      g.on_step = OnStep;
      g.user = &counter;
      std::vector<float> out((*p)->latent_elements());
      g_allocations = 0;
      Status st = (*p)->Generate(g, out.data());
      g_counting = false;
      ASSERT_TRUE(st.ok()) << st.message();
      EXPECT_EQ(counter.steps_seen, 8);
      EXPECT_GT((*p)->stats().blocks_skipped, 0) << "the cache never skipped";
      EXPECT_EQ(g_allocations.load(), 0) << "allocations in generation steps 1-7, sparse mode " << mode
                                         << (int8_deltas ? ", INT8 residuals" : "");
    }
  }
#endif
}

}  // namespace
}  // namespace edge
