// Proves that Session::Invoke() performs no heap allocation: every allocation
// entry point of the process (operator new, malloc, calloc, realloc,
// posix_memalign, aligned_alloc) is counted while a flag is set. Sanitizer
// builds replace the allocator themselves, so the test is skipped there.
#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/session.h"
#include "runtime/writer/dit_builder.h"

#if defined(__SANITIZE_ADDRESS__)
#define EDGE_COUNT_ALLOCS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
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
void Note() {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1);
}
}  // namespace

extern "C" {
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void* __libc_memalign(size_t, size_t);
void __libc_free(void*);

void* malloc(size_t n) { Note(); return __libc_malloc(n); }
void* calloc(size_t a, size_t b) { Note(); return __libc_calloc(a, b); }
void* realloc(void* p, size_t n) { Note(); return __libc_realloc(p, n); }
void free(void* p) { __libc_free(p); }
int posix_memalign(void** out, size_t align, size_t n) {
  Note();
  void* p = __libc_memalign(align, n);
  if (p == nullptr) return 12;  // ENOMEM
  *out = p;
  return 0;
}
void* aligned_alloc(size_t align, size_t n) { Note(); return __libc_memalign(align, n); }
void* memalign(size_t align, size_t n) { Note(); return __libc_memalign(align, n); }
}
#endif

namespace edge {
namespace {

TEST(InvokeNoAlloc, DitInvokeAllocatesNothing) {
#if !EDGE_COUNT_ALLOCS
  GTEST_SKIP() << "allocation counting is disabled under sanitizers";
#else
  testing::DitConfig cfg;
  cfg.depth = 2;
  cfg.hidden = 64;
  cfg.image_size = 8;
  ModelWriter w;
  testing::BuildDit(cfg, &w);
  std::vector<uint8_t> bytes;
  ASSERT_TRUE(w.Finish(&bytes).ok());
  auto model = Model::LoadBuffer(bytes.data(), bytes.size(), true);
  ASSERT_TRUE(model.ok()) << model.status().message();
  for (int threads : {1, 2}) {
    SessionOptions so;
    so.num_threads = threads;
    auto s = Session::Create(model->get(), so);
    ASSERT_TRUE(s.ok()) << s.status().message();
    // Graph inputs hold their value only until their last reader (the planner
    // reuses the memory after that), so set them before every Invoke: the
    // class-label ids must be in range for Embedding.
    const Model& m = *model->get();
    std::vector<std::vector<uint8_t>> zeros;
    for (int t : m.inputs()) zeros.emplace_back(m.tensor(t).bytes, 0);
    auto set_inputs = [&] {
      for (size_t i = 0; i < zeros.size(); ++i)
        ASSERT_TRUE((*s)->SetInput(m.inputs()[i], zeros[i].data(), zeros[i].size()).ok());
    };
    set_inputs();
    ASSERT_TRUE((*s)->Invoke().ok());  // warm-up
    set_inputs();
    g_allocations = 0;
    g_counting = true;
    Status st = (*s)->Invoke();
    g_counting = false;
    ASSERT_TRUE(st.ok()) << st.message();
    EXPECT_EQ(g_allocations.load(), 0) << "allocations inside Invoke() with " << threads << " thread(s)";
  }
  // Cluster-sparse attention plans inside Invoke() (k-means, selection):
  // still nothing allocated (its state is allocated at prepare).
  {
    testing::DitConfig c2 = cfg;
    c2.image_size = 24;  // 144 tokens: enough keys for the sparse path
    ModelWriter w2;
    testing::BuildDit(c2, &w2);
    std::vector<uint8_t> b2;
    ASSERT_TRUE(w2.Finish(&b2).ok());
    auto m2 = Model::LoadBuffer(b2.data(), b2.size(), true);
    ASSERT_TRUE(m2.ok()) << m2.status().message();
    SessionOptions so;
    so.num_threads = 2;
    so.attention_sparse.mode = 2;
    auto s = Session::Create(m2->get(), so);
    ASSERT_TRUE(s.ok()) << s.status().message();
    const Model& m = *m2->get();
    bool clustered = false;
    for (int i = 0; i < m.num_nodes(); ++i)
      clustered = clustered || std::string((*s)->kernel_name(i)).find("clustersparse") != std::string::npos;
    EXPECT_TRUE(clustered);
    std::vector<std::vector<uint8_t>> zeros;
    for (int t : m.inputs()) zeros.emplace_back(m.tensor(t).bytes, 0);
    for (int run = 0; run < 3; ++run) {  // first plan, then warm-started ones
      for (size_t i = 0; i < zeros.size(); ++i)
        ASSERT_TRUE((*s)->SetInput(m.inputs()[i], zeros[i].data(), zeros[i].size()).ok());
      g_allocations = 0;
      g_counting = true;
      Status st = (*s)->Invoke();
      g_counting = false;
      ASSERT_TRUE(st.ok()) << st.message();
      EXPECT_EQ(g_allocations.load(), 0) << "allocations inside Invoke() with cluster-sparse attention";
    }
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

}  // namespace
}  // namespace edge
