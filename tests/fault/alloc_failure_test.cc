// Allocation-failure injection (issue #14): while a model is loaded and
// prepared, while a pipeline is created and generates a few steps (guidance,
// the step cache, INT8 residuals, guidance reuse, a tiled decode), and, with
// --onnx, while the converter imports, fuses and emits one, the N-th
// allocation fails, for every N until a run makes fewer than N allocations. Each case must end in an error the caller can report
// (runtime: a Status, kOutOfMemory where the failed allocation was ours;
// converter: std::bad_alloc or a ConvertError, which edge-convert turns into
// exit 4), or succeed where a fallback absorbed the failure. Never an abort,
// a std::bad_alloc escaping the exception-free runtime core, or a leak.
//
// Two failure modes per N: only the N-th allocation fails (a transient
// failure), or it and every later one do (memory is gone). A generation
// that still succeeds (a failure absorbed, or none reached) must give the
// same bits as the run without failures.
//
// The allocator is interposed here, in the test binary: malloc and friends
// (the C++ operator new of libstdc++ calls malloc) forward to glibc's
// __libc_* functions and count live blocks, so a leak shows as a count that
// does not return to its value before the case. Under ASan (which owns
// malloc) the global operator new and delete are replaced instead, and
// LeakSanitizer reports leaks at exit.
//
//   alloc_failure_test [--onnx MODEL.onnx] [--verbose]
//
// Under ASan, the converter sweep needs protobuf's leaks suppressed (about
// 3 minutes on the single_block fixture; not in CI):
//   LSAN_OPTIONS=suppressions=tests/fault/lsan_protobuf.supp
//     build-asan/tests/alloc_failure_test --onnx tests/models/single_block/model.onnx
// (one command line)
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "ops/qs8_attention.h"
#include "runtime/decoder.h"
#include "runtime/model.h"
#include "runtime/pipeline.h"
#include "runtime/session.h"
#include "runtime/writer/dit_builder.h"
#include "runtime/writer/model_writer.h"

#ifdef EDGE_TEST_CONVERTER
#include "converter/convert_graph.h"
#include "converter/emit.h"
#include "converter/onnx_import.h"
#include "onnx/onnx_pb.h"
#endif

#if defined(__SANITIZE_ADDRESS__)
#define EDGE_FAULT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EDGE_FAULT_ASAN 1
#endif
#endif

// ---- the failing allocator ------------------------------------------------

namespace fault {

std::atomic<long> g_countdown{0};  // > 0: allocations until the failing one
std::atomic<bool> g_sticky{false};  // after the failure, every allocation fails
std::atomic<bool> g_failed{false};  // the failure happened
std::atomic<long> g_live{0};        // live blocks (not under ASan)
std::atomic<long> g_count{0};       // allocations while armed

// Whether this allocation must fail.
inline bool ShouldFail() {
  if (g_countdown.load(std::memory_order_relaxed) <= 0 && !g_failed.load(std::memory_order_relaxed)) {
    return false;
  }
  if (g_failed.load(std::memory_order_relaxed)) return g_sticky.load(std::memory_order_relaxed);
  g_count.fetch_add(1, std::memory_order_relaxed);
  if (g_countdown.fetch_sub(1, std::memory_order_relaxed) == 1) {
    g_failed.store(true, std::memory_order_relaxed);
    return true;
  }
  return false;
}

void Arm(long n, bool sticky) {
  g_failed.store(false);
  g_sticky.store(sticky);
  g_count.store(0);
  g_countdown.store(n);
}

// Stops injecting; returns whether the failure was reached.
bool Disarm() {
  g_countdown.store(0);
  const bool failed = g_failed.load();
  g_failed.store(false);
  return failed;
}

}  // namespace fault

#ifndef EDGE_FAULT_ASAN
extern "C" {
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void* __libc_memalign(size_t, size_t);
void __libc_free(void*);

static void* Counted(void* p) {
  if (p != nullptr) fault::g_live.fetch_add(1, std::memory_order_relaxed);
  return p;
}

void* malloc(size_t n) {
  if (fault::ShouldFail()) return errno = ENOMEM, nullptr;
  return Counted(__libc_malloc(n));
}
void* calloc(size_t a, size_t b) {
  if (fault::ShouldFail()) return errno = ENOMEM, nullptr;
  return Counted(__libc_calloc(a, b));
}
void* realloc(void* p, size_t n) {
  if (p == nullptr) return malloc(n);
  if (n == 0) {
    free(p);
    return nullptr;
  }
  if (fault::ShouldFail()) return errno = ENOMEM, nullptr;
  return __libc_realloc(p, n);  // one block in, one block out
}
void free(void* p) {
  if (p == nullptr) return;
  fault::g_live.fetch_sub(1, std::memory_order_relaxed);
  __libc_free(p);
}
int posix_memalign(void** out, size_t align, size_t n) {
  if (fault::ShouldFail()) return ENOMEM;
  void* p = Counted(__libc_memalign(align, n));
  if (p == nullptr) return ENOMEM;
  *out = p;
  return 0;
}
void* aligned_alloc(size_t align, size_t n) {
  if (fault::ShouldFail()) return errno = ENOMEM, nullptr;
  return Counted(__libc_memalign(align, n));
}
void* memalign(size_t align, size_t n) {
  if (fault::ShouldFail()) return errno = ENOMEM, nullptr;
  return Counted(__libc_memalign(align, n));
}
}  // extern "C"
#else
// ASan owns malloc: fail C++ allocations only.
static void* NewOrNull(size_t n, size_t align) {
  if (fault::ShouldFail()) return nullptr;
  if (n == 0) n = 1;
  if (align <= alignof(std::max_align_t)) return std::malloc(n);
  return std::aligned_alloc(align, (n + align - 1) / align * align);
}
void* operator new(size_t n) {
  void* p = NewOrNull(n, 0);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
void* operator new[](size_t n) { return operator new(n); }
void* operator new(size_t n, const std::nothrow_t&) noexcept { return NewOrNull(n, 0); }
void* operator new[](size_t n, const std::nothrow_t&) noexcept { return NewOrNull(n, 0); }
void* operator new(size_t n, std::align_val_t a) {
  void* p = NewOrNull(n, static_cast<size_t>(a));
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
void* operator new[](size_t n, std::align_val_t a) { return operator new(n, a); }
void* operator new(size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return NewOrNull(n, static_cast<size_t>(a));
}
void* operator new[](size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return NewOrNull(n, static_cast<size_t>(a));
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
#endif

// ---- the cases --------------------------------------------------------------

namespace {

using edge::Status;
using edge::StatusCode;

int g_failures = 0;
bool g_verbose = false;

void Fail(const std::string& msg) {
  ++g_failures;
  std::printf("FAIL %s\n", msg.c_str());
}

// One scenario: a function that runs the stages and returns the first error
// (Ok if all passed), naming the stage that failed in *stage.
using Scenario = Status (*)(const void* arg, const char** stage);

struct Tally {
  long cases = 0, errors = 0, absorbed = 0;
  long tolerated_leaks = 0;
};

// Allocations [1, g_leak_ok_below) may leak when they fail: protobuf's
// parser (the converter's first step) is not exception-safe and drops a
// half-built message when an allocation inside it throws. edge-convert exits
// on that error, so nothing accumulates; our own code must not leak.
long g_leak_ok_below = 0;

// Runs `fn` with the N-th allocation failing, for N = 1, 2, ... until a run
// no longer reaches N. Returns the number of allocations a clean run makes.
long Sweep(const char* label, Scenario fn, const void* arg, bool sticky, Tally* tally) {
  const char* stage = "";
  Status warm = fn(arg, &stage);  // one-time initialisation (CPU detection) happens here
  if (!warm.ok()) {
    Fail(std::string(label) + ": the run without injected failures fails: " + warm.message());
    return 0;
  }
  long n = 1;
  for (;; ++n) {
    const long live_before = fault::g_live.load();
    bool escaped = false;
    Status st;
    stage = "";
    fault::Arm(n, sticky);
    try {
      st = fn(arg, &stage);
    } catch (const std::bad_alloc&) {
      escaped = true;
    }
    const bool hit = fault::Disarm();
    const long leaked = fault::g_live.load() - live_before;
    if (!hit) {
      // Armed, but the run made fewer than n allocations: it must succeed.
      if (escaped || !st.ok()) {
        Fail(std::string(label) + ": the armed run that no failure reached fails at stage " + stage + ": " +
             (escaped ? "std::bad_alloc" : st.message()));
      }
      break;
    }
    ++tally->cases;
    const std::string where = std::string(label) + (sticky ? " (all from" : " (only") + " allocation " +
                              std::to_string(n) + " failing, stage " + stage + ")";
    if (escaped) {
      Fail(where + ": std::bad_alloc escaped the runtime core");
      continue;
    }
    if (st.ok()) {
      ++tally->absorbed;
    } else {
      ++tally->errors;
      if (st.code() != StatusCode::kOutOfMemory) {
        Fail(where + ": error is not kOutOfMemory: " + edge::StatusCodeName(st.code()) + ": " + st.message());
      }
      if (g_verbose) std::printf("  %s: %s\n", where.c_str(), st.message());
    }
    if (leaked != 0 && n < g_leak_ok_below) {
      ++tally->tolerated_leaks;
    } else if (leaked != 0) {
      Fail(where + ": " + std::to_string(leaked) + " block(s) leaked");
    }
  }
  return n - 1;
}

struct RuntimeCase {
  const char* path;                  // model file (LoadFile) or null
  const std::vector<uint8_t>* bytes;  // else these bytes (LoadBuffer, copied)
  edge::SessionOptions options;
  bool pipeline = true;
};

Status LoadPrepare(const void* arg, const char** stage) {
  const RuntimeCase& c = *static_cast<const RuntimeCase*>(arg);
  *stage = "load";
  auto mr = c.path ? edge::Model::LoadFile(c.path)
                   : edge::Model::LoadBuffer(c.bytes->data(), c.bytes->size(), /*copy=*/true);
  if (!mr.ok()) return mr.status();
  *stage = "prepare";
  auto sr = edge::Session::Create(mr.value().get(), c.options);
  if (!sr.ok()) return sr.status();
  if (!c.pipeline) return Status::Ok();
  *stage = "pipeline";
  auto pr = edge::Pipeline::Create(sr.value().get());
  if (!pr.ok()) return pr.status();
  return Status::Ok();
}

// Load, prepare, create a pipeline, generate and (with a decoder graph)
// decode, writing into preallocated buffers: the run's own allocations are
// all the runtime's.
struct GenerateCase {
  const std::vector<uint8_t>* bytes;
  edge::SessionOptions options;
  edge::GenerateOptions gen;
  bool expect_skips = false;   // the step cache must reuse some block
  bool expect_reuse = false;   // guidance reuse must leave out some uncond call
  bool decode = false;         // decode each sample (tiled, overlap 2)
  float* out = nullptr;        // latents, then the decoded pixels
  size_t out_elems = 0;
  const float* reference = nullptr;  // the run without failures; null: none yet
};

Status LoadGenerate(const void* arg, const char** stage) {
  const GenerateCase& c = *static_cast<const GenerateCase*>(arg);
  *stage = "load";
  auto mr = edge::Model::LoadBuffer(c.bytes->data(), c.bytes->size(), /*copy=*/false);
  if (!mr.ok()) return mr.status();
  const edge::Model& m = *mr.value();
  *stage = "prepare";
  auto sr = edge::Session::Create(&m, c.options);
  if (!sr.ok()) return sr.status();
  *stage = "pipeline";
  auto pr = edge::Pipeline::Create(sr.value().get());
  if (!pr.ok()) return pr.status();
  edge::Pipeline& p = *pr.value();
  const size_t latents = size_t(c.gen.num_samples) * p.latent_elements();
  *stage = "generate";
  Status st = p.Generate(c.gen, c.out);
  if (!st.ok()) return st;
  // A scenario that stopped exercising what it is named for would still pass.
  if (c.expect_skips && p.stats().blocks_skipped == 0) {
    return Status::Error(StatusCode::kInternal, "the step cache reused no block");
  }
  if (c.expect_reuse && p.stats().uncond_reused == 0) {
    return Status::Error(StatusCode::kInternal, "guidance reuse left out no unconditional call");
  }
  size_t produced = latents;
  if (c.decode) {
    const edge::GraphLinkInfo* link = m.decoder_link();
    if (link == nullptr) return Status::Error(StatusCode::kInternal, "the fixture has no decoder link");
    *stage = "decoder session";
    auto dr = edge::Session::Create(m.graph(link->to_graph), c.options);
    if (!dr.ok()) return dr.status();
    *stage = "decoder";
    auto dec = edge::Decoder::Create(m, dr.value().get(), *link, p.latent_shape(), /*overlap=*/2);
    if (!dec.ok()) return dec.status();
    if (dec.value()->stats().tiles < 2) return Status::Error(StatusCode::kInternal, "the decode is not tiled");
    const size_t px = dec.value()->output_elements();
    produced += size_t(c.gen.num_samples) * px;
    if (produced > c.out_elems) return Status::Error(StatusCode::kInternal, "output buffer too small");
    *stage = "decode";
    for (int k = 0; k < c.gen.num_samples; ++k) {
      st = dec.value()->Decode(c.out + size_t(k) * p.latent_elements(), c.out + latents + size_t(k) * px);
      if (!st.ok()) return st;
    }
  }
  if (produced != c.out_elems) return Status::Error(StatusCode::kInternal, "output size changed");
  if (c.reference != nullptr && std::memcmp(c.out, c.reference, c.out_elems * sizeof(float)) != 0) {
    return Status::Error(StatusCode::kInternal, "the output differs from the run without failures");
  }
  return Status::Ok();
}

// A small DiT (pipeline, one cache region per block) with batch `batch`,
// sampled by DDIM (epsilon) where `ddim`, else by flow matching; and
// optionally a decoder graph linked to its latent: a 1x1 Conv2d (C -> 3) on
// [1, C, 4, 4] tiles of the [C, 8, 8] latent.
void BuildFixture(int batch, bool ddim, bool decoder, edge::ModelWriter* out) {
  edge::ModelWriter& w = *out;
  edge::testing::DitConfig cfg;
  cfg.batch = batch;
  cfg.depth = 2;
  cfg.hidden = 32;
  cfg.heads = 2;
  cfg.image_size = 8;
  cfg.freq_dim = 32;
  edge::testing::BuildDit(cfg, &w);
  if (ddim) {
    edge::PipelineInfo pi = *w.pipeline();
    pi.sampler = edge::fb::Sampler::DDIM;
    pi.prediction = edge::fb::Prediction::Epsilon;
    w.SetPipeline(pi);
  }
  if (decoder) {
    const int C = cfg.in_channels, latent = w.pipeline()->latent_input;
    const int g = w.AddGraph("decoder");
    const int z = w.AddActivation("z", {1, C, 4, 4});
    std::vector<float> k(size_t(3) * C);
    for (size_t i = 0; i < k.size(); ++i) k[i] = 0.25f * float(int(i % 5) - 2);
    const int kw = w.AddConstantF32("conv.w", {3, C, 1, 1}, k);
    const int kb = w.AddConstantF32("conv.b", {3}, {0.1f, -0.2f, 0.05f});
    const int px = w.AddActivation("pixels", {1, 3, 4, 4});
    w.AddOp(edge::fb::OpType::Conv2d, {z, kw, kb}, {px}, edge::OpAttrs(), "conv");
    w.SetInputs({z});
    w.SetOutputs({px});
    w.SelectGraph(0);
    w.AddLink(0, latent, g, z);
  }
}

bool FixtureBytes(int batch, bool ddim, bool decoder, std::vector<uint8_t>* bytes) {
  edge::ModelWriter w;
  BuildFixture(batch, ddim, decoder, &w);
  return w.Finish(bytes).ok();
}

#ifdef EDGE_TEST_CONVERTER
// The converter may throw (it is not part of the exception-free core):
// std::bad_alloc and ConvertError are what edge-convert's main reports with
// an exit code. Anything else escaping, or a signal, is a failure.
Status Convert(const void* arg, const char** stage) {
  const std::string& bytes = *static_cast<const std::string*>(arg);
  using namespace edge::conv;
  try {
    *stage = "import";
    Graph g = ImportOnnxBytes(bytes.data(), bytes.size(), "/nonexistent", "model.onnx");
    *stage = "fold/fuse";
    std::vector<std::string> warnings;
    std::vector<Region> regions = PrepareGraph(g, {}, "", &warnings);
    *stage = "emit";
    edge::ModelWriter w;
    Emit(g, regions, PipelineFlags(), "model", &w);
    std::vector<uint8_t> image;
    *stage = "finish";
    return w.Finish(&image);
  } catch (const std::bad_alloc&) {
    return Status::Error(StatusCode::kOutOfMemory, "std::bad_alloc (edge-convert: exit 4)");
  } catch (const ConvertError& e) {
    // A failed allocation may surface as a refusal of what was half-built;
    // it is still an orderly exit 2/3/4.
    return Status::Error(StatusCode::kOutOfMemory, "ConvertError exit %d: %s", e.code, e.what());
  }
}
#endif

std::string TempPath(const char* name) {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir && dir[0] ? dir : "/tmp") + "/" + name + "." + std::to_string(getpid());
}

}  // namespace

int main(int argc, char** argv) {
  std::string onnx;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--onnx" && i + 1 < argc) onnx = argv[++i];
    else if (a == "--verbose") g_verbose = true;
    else {
      std::fprintf(stderr, "usage: alloc_failure_test [--onnx MODEL.onnx] [--verbose]\n");
      return 2;
    }
  }

  // A small DiT with a pipeline and one cache region per block.
  edge::ModelWriter w;
  BuildFixture(2, false, false, &w);
  std::vector<uint8_t> bytes;
  if (!w.Finish(&bytes).ok()) return 2;
  const std::string path = TempPath("alloc_failure_dit.fb");
  if (!w.WriteFile(path).ok()) return 2;

  struct Run {
    const char* label;
    RuntimeCase c;
  };
  std::vector<Run> runs;
  runs.push_back({"load file + prepare + pipeline, fp32", {path.c_str(), nullptr, {}, true}});
  runs.push_back({"load buffer + prepare, fp32", {nullptr, &bytes, {}, false}});
  edge::SessionOptions q;
  q.precision = edge::PrecisionOverride::kInt8;
  q.attention_precision = static_cast<int>(edge::AttentionPrecision::kInt8);
  runs.push_back({"load file + prepare + pipeline, int8 weights and attention", {path.c_str(), nullptr, q, true}});
  edge::SessionOptions sp;
  sp.attention_sparse.mode = 2;  // clusters
  sp.num_threads = 2;
  runs.push_back({"load file + prepare, cluster-sparse attention, 2 threads", {path.c_str(), nullptr, sp, false}});

  for (const Run& r : runs) {
    if (!onnx.empty()) break;  // --onnx: the converter only
    for (bool sticky : {false, true}) {
      Tally t;
      const long allocs = Sweep(r.label, LoadPrepare, &r.c, sticky, &t);
      std::printf("%s, %s: %ld allocations, %ld cases: %ld errors, %ld absorbed\n", r.label,
                  sticky ? "all failing from N" : "N-th failing", allocs, t.cases, t.errors, t.absorbed);
    }
  }
  unlink(path.c_str());

  // Generation: guidance 2 and the step cache on in every scenario.
  std::vector<uint8_t> dit_b1, dit_dec;
  if (!FixtureBytes(1, true, false, &dit_b1) || !FixtureBytes(2, false, true, &dit_dec)) return 2;
  struct Gen {
    const char* label;
    GenerateCase c;
  };
  std::vector<Gen> gens(4);
  for (Gen& g : gens) {
    g.c.gen.guidance = 2.f;
    g.c.gen.seed = 11;
    g.c.gen.steps = 5;
    g.c.gen.cache.warmup_steps = 1;
    g.c.gen.cache.max_skips = 2;
    g.c.gen.cache.threshold = 10.f;  // skip whenever the rules allow
    g.c.expect_skips = true;
  }
  // Batch 2: cond and uncond rows paired in one call; 3 samples in 3 chunks;
  // per-block thresholds (a list copied into the cache).
  gens[0].label = "generate: paired guidance, tdc cache, 3 samples";
  gens[0].c.bytes = &bytes;
  gens[0].c.gen.num_samples = 3;
  gens[0].c.gen.cache.policy = edge::CachePolicy::kTdc;
  gens[0].c.gen.cache.block_thresholds = {10.f, 10.f};
  // Batch 1: cond and uncond as separate calls (two cache branches), taylor
  // forecasts from INT8 residuals (codes and scales, twice); DDIM (its
  // schedule spans the training steps).
  gens[1].label = "generate: DDIM, unpaired guidance, taylor cache, INT8 residuals";
  gens[1].c.bytes = &dit_b1;
  gens[1].c.gen.cache.policy = edge::CachePolicy::kTaylor;
  gens[1].c.gen.cache.delta_int8 = true;
  // Guidance reuse (order 1) on 2 samples of batch 2, with a static cache
  // on an explicit step list.
  gens[2].label = "generate: guidance reuse, static cache on a step list, 2 samples";
  gens[2].c.bytes = &bytes;
  gens[2].c.gen.num_samples = 2;
  gens[2].c.gen.steps = 6;
  gens[2].c.gen.guidance_reuse.interval = 2;
  gens[2].c.gen.guidance_reuse.warmup_steps = 1;
  gens[2].c.gen.guidance_reuse.order = 1;
  gens[2].c.gen.cache.policy = edge::CachePolicy::kStatic;
  gens[2].c.gen.cache.compute_steps = {0, 2, 5};
  gens[2].c.expect_reuse = true;
  // Denoiser and decoder graphs in one file: generate 2 samples, decode
  // each in 4 tiles.
  gens[3].label = "generate + tiled decode, fb cache, 2 samples";
  gens[3].c.bytes = &dit_dec;
  gens[3].c.gen.num_samples = 2;
  gens[3].c.gen.cache.policy = edge::CachePolicy::kFirstBlock;
  gens[3].c.decode = true;
  const size_t latent_floats = 4 * 8 * 8, pixel_floats = 3 * 8 * 8;
  for (Gen& g : gens) {
    if (!onnx.empty()) break;
    const size_t n = size_t(g.c.gen.num_samples);
    std::vector<float> out(n * (latent_floats + (g.c.decode ? pixel_floats : 0)));
    std::vector<float> reference(out.size());
    g.c.out = reference.data();
    g.c.out_elems = reference.size();
    const char* stage = "";
    Status st = LoadGenerate(&g.c, &stage);
    if (!st.ok()) {
      Fail(std::string(g.label) + ": fails without injected failures at stage " + stage + ": " + st.message());
      continue;
    }
    g.c.out = out.data();
    g.c.reference = reference.data();
    for (bool sticky : {false, true}) {
      Tally t;
      const long allocs = Sweep(g.label, LoadGenerate, &g.c, sticky, &t);
      std::printf("%s, %s: %ld allocations, %ld cases: %ld errors, %ld absorbed\n", g.label,
                  sticky ? "all failing from N" : "N-th failing", allocs, t.cases, t.errors, t.absorbed);
    }
  }

#ifdef EDGE_TEST_CONVERTER
  if (!onnx.empty()) {
    FILE* f = std::fopen(onnx.c_str(), "rb");
    if (f == nullptr) {
      std::fprintf(stderr, "cannot open %s\n", onnx.c_str());
      return 2;
    }
    std::string data;
    char buf[65536];
    size_t got;
    while ((got = std::fread(buf, 1, sizeof buf, f)) > 0) data.append(buf, got);
    std::fclose(f);
    {
      onnx::ModelProto warm;
      warm.ParseFromArray(data.data(), static_cast<int>(data.size()));
      fault::Arm(LONG_MAX, false);
      onnx::ModelProto mp;
      mp.ParseFromArray(data.data(), static_cast<int>(data.size()));
      g_leak_ok_below = fault::g_count.load() + 1;
      fault::Disarm();
    }
    for (bool sticky : {false, true}) {
      Tally t;
      const long allocs = Sweep("convert", Convert, &data, sticky, &t);
      std::printf("convert %s, %s: %ld allocations, %ld cases: %ld errors, %ld absorbed; "
                  "%ld leaked inside protobuf's parser (its first %ld allocations)\n",
                  onnx.c_str(), sticky ? "all failing from N" : "N-th failing", allocs, t.cases, t.errors,
                  t.absorbed, t.tolerated_leaks, g_leak_ok_below - 1);
    }
  }
#else
  if (!onnx.empty()) {
    std::fprintf(stderr, "built without the converter: --onnx is not available\n");
    return 2;
  }
#endif

  if (g_failures > 0) {
    std::printf("%d failure(s)\n", g_failures);
    return 1;
  }
  std::printf("ok\n");
  return 0;
}
