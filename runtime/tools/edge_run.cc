// edge-run: runs an edge model on this CPU.
//
//   edge-run MODEL.fb [generation options]        the whole denoising loop
//   edge-run MODEL.fb --once --input NAME=F.npy... --out-dir DIR
//                                                 one graph run (for checks)
//
// Exit codes: 0 ok, 2 usage or bad input files, 3 bad model file,
// 4 runtime failure (out of memory included), 5 the model produced NaN/Inf.
#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "ops/qs8_attention.h"
#include "runtime/io/npy.h"
#include "runtime/io/png.h"
#include "runtime/model.h"
#include "runtime/noise.h"
#include "runtime/cond_encoder.h"
#include "runtime/decoder.h"
#include "runtime/pipeline.h"
#include "runtime/shared_arena.h"
#include "runtime/session.h"
#include "runtime/tools/arg_reader.h"
#include "runtime/tools/json_writer.h"

namespace {

constexpr int kExitOk = 0, kExitUsage = 2, kExitBadModel = 3, kExitRuntime = 4, kExitNonFinite = 5;

const char kUsage[] =
    "usage: edge-run MODEL.fb [options]\n"
    "\n"
    "Generation (the model's pipeline: sampler, guidance, latent shape):\n"
    "  --steps N            denoising steps (default: the model's)\n"
    "  --seed S             noise seed (default 0); same seed, same noise on every platform\n"
    "  --guidance G         classifier-free guidance scale (default: the model's; 1 = off)\n"
    "  --class C[,C...]     class id per sample (repeatable); default one sample per class\n"
    "  --num-samples N      number of samples (default: number of classes given, or all classes up to 16)\n"
    "  --noise FILE.npy     initial noise [N, latent...] instead of the seeded generator\n"
    "  --dump-noise FILE    write the initial noise used as .npy\n"
    "  --dump-trajectory FILE  write the latents after every step as .npy [steps, N, latent...]\n"
    "  --cache POLICY       step cache (default none): tdc (per-block delta change),\n"
    "                       fb (first block decides), tea (block-0 modulated input,\n"
    "                       rescaled), mag (residual magnitude ratio), static (every\n"
    "                       k-th step), taylor (tdc + first-order residual forecast),\n"
    "                       none, or auto (the model's calibrated policy skipping most).\n"
    "                       Thresholds come from the model's calibration (edge-convert\n"
    "                       --cache-calibrate), else built-in fallbacks\n"
    "  --cache-threshold T  absolute threshold, overriding the calibrated one (static:\n"
    "                       the interval); 0 = off. Without --cache: tdc with T\n"
    "  --cache-scale S      multiply the calibrated (or fallback) thresholds (default 1)\n"
    "  --cache-target DB    use the calibration entries made for this PSNR target\n"
    "  --cache-interval K   static: compute every K-th step after warm-up\n"
    "  --cache-steps LIST   static: compute exactly these steps (e.g. 0,1,3,6,19)\n"
    "  --cache-max-skips N  at most N skips in a row (default: calibrated, else 2)\n"
    "  --cache-warmup N     steps always computed at the start (default 2)\n"
    "  --cache-int8         store residuals as INT8 with a scale per token (~4x less\n"
    "                       cache memory; cache_bytes in --json)\n"
    "  --cache-drop         ablation: a skipped block outputs its input (no residual)\n"
    "  --guidance-reuse K   run the unconditional (null-condition) pass only on every K-th\n"
    "                       step after warm-up and on the last step; on the others\n"
    "                       estimate it from the guidance direction cond - uncond of the\n"
    "                       last computed steps (0 = off; default: the model's setting,\n"
    "                       stored by edge-convert --guidance-reuse or --target-psnr)\n"
    "  --guidance-reuse-order O  0: reuse the last direction; 1: extrapolate it linearly\n"
    "                       from the last two computed steps (default 1)\n"
    "  --guidance-reuse-warmup N  steps whose unconditional pass always runs (default 2)\n"
    "  --out FILE           .png (a grid; video: one row of frames per sample) or .npy\n"
    "                       (default sample.png for pixel models, sample.npy otherwise)\n"
    "  --png-scale K        enlarge the PNG K times (nearest neighbour; default 1)\n"
    "  --cond FILE.npy      models conditioned on embeddings (e.g. text-encoder hidden states):\n"
    "                       one embedding per sample, [N, ...] or a single [...] for all\n"
    "                       samples; guidance uses the model's stored null embedding\n"
    "  --tokens IDS         models with a condition-encoder graph: token ids of the prompt,\n"
    "                       e.g. --tokens 12,7,31 (one prompt for all samples) or one prompt\n"
    "                       per sample separated by ';'; shorter prompts are padded with id 0.\n"
    "                       edge-run has no tokenizer: ids come from the model's tokenizer\n"
    "  --no-decode          latent models with a decoder graph: write the latents, skip decoding\n"
    "  --decode-tile-overlap N  latent pixels neighbouring decoder tiles share (default: the\n"
    "                       model's; tiles apply when the decoder's input is smaller than\n"
    "                       the latent)\n"
    "\n"
    "One graph run:\n"
    "  --once               run the graph once\n"
    "  --graph NAME         which graph of a multi-graph model (default: the denoiser)\n"
    "  --input NAME=FILE    a graph input from .npy (repeatable)\n"
    "  --out-dir DIR        write each graph output as DIR/<name>.npy\n"
    "  --repeat N           run the graph N times on the same inputs (default 1) and report\n"
    "                       each run's time (--json: invoke_ms_runs, invoke_ms_median)\n"
    "\n"
    "Both:\n"
    "  --threads T          worker threads (default 1; 0 = one per big core)\n"
    "  --pin                pin the worker threads to the big cores (big.LITTLE boards)\n"
    "  --max-memory MB      refuse (exit 4, before running) a model whose activation arena\n"
    "                       needs more than MB MiB (default 0: no cap)\n"
    "  --no-mmap            read the model into memory instead of mapping it: the file may\n"
    "                       then be truncated or rewritten while edge-run runs (a mapped\n"
    "                       file must only be replaced by rename; in place: SIGBUS)\n"
    "  --precision P        as-stored|fp32|int8|nvfp4: force quantizable layers (A/B runs)\n"
    "  --attention-density D  block-sparse attention: fraction of key tiles computed\n"
    "                       exactly per query block (0 or 1 = dense; default: the model's)\n"
    "  --no-attention-compensation  skipped key tiles contribute nothing (default: their centroids)\n"
    "  --attention-precision P  as-stored|fp32|int8: arithmetic of dense attention\n"
    "                       (int8: smoothed-K INT8 Q.K^T, 15-bit P, INT8 V; default: the model's)\n"
    "  --attention-sparse M   off|tiles|clusters: sparse attention over contiguous 64-key\n"
    "                       tiles (--attention-density) or semantic clusters of queries and\n"
    "                       keys (k-means per head, reused across steps); default: the model's\n"
    "  --attention-top-p P    clusters: keep key clusters up to cumulative mass P (default 0.3)\n"
    "  --attention-min-frac F clusters: and at least this fraction of them (default 0.02)\n"
    "  --attention-err-tol E  clusters: add clusters with the worst centroid error until the\n"
    "                       estimate is <= E x value RMS (default 0.015; 0 = off; larger is\n"
    "                       sparser: 0.015 gave 34 dB, 0.03 29 dB on the demo video model)\n"
    "  --attention-cluster-size N  clusters: tokens per query cluster (default 64)\n"
    "  --attention-key-cluster-size N  clusters: tokens per key cluster (default 8)\n"
    "  --attention-kmeans-iters N  clusters: k-means iterations per step after the first (default 1)\n"
    "  --attention-refresh N  clusters: every N-th step iterates fully again (default 0 = never)\n"
    "  --attention-replan N   clusters: plan (k-means step, key selection) on every N-th step and\n"
    "                       reuse the plan in between, with centroids of the current keys and\n"
    "                       values (default 4; 1: every step)\n"
    "  --attention-dense-steps N  clusters: the first N steps run dense attention (default 0)\n"
    "  --token-reuse T      token-level reuse in dense attention: a query row whose output's\n"
    "                       measured rate of change (relative, per step) times the steps since\n"
    "                       it was computed stays under T keeps its cached output (order 1:\n"
    "                       extrapolated); the others recompute (0 = off; default: the\n"
    "                       model's, stored by edge-convert --token-reuse, else off)\n"
    "  --token-reuse-warmup N  steps computed in full at the start (default 2)\n"
    "  --token-reuse-max-stale N  a row recomputes after N reused steps in a row (default 2)\n"
    "  --token-reuse-order O  0: a reused row keeps its last output; 1: extrapolates it from\n"
    "                       its last two computations (default 1)\n"
    "  --check-finite       stop with exit 5 when an output (--once) or the latents after a\n"
    "                       step hold NaN/Inf, naming the op that first produced one (default on)\n"
    "  --no-check-finite    skip that check (a non-finite prediction still stops a generation)\n"
    "  --profile            per-op timings (printed as a table; in --json too)\n"
    "  --verbose            print the kernel chosen for each op\n"
    "  --json               print a JSON summary on stdout (progress goes to stderr; load_ms:\n"
    "                       model load and session preparation, total_ms: the sampling loop)\n"
    "  --quiet              no progress lines\n"
    "  --help               this text\n"
    "Options take their value as --opt value or --opt=value.\n"
    "\n"
    "Exit codes: 0 ok, 2 usage or bad input files, 3 bad model file, 4 runtime failure\n"
    "(out of memory included), 5 the model produced NaN/Inf.\n";

struct Args {
  std::string model;
  int steps = 0;
  uint64_t seed = 0;
  float guidance = -1.f;
  std::vector<int64_t> classes;
  int num_samples = 0;
  std::string noise, dump_noise, dump_trajectory, out;
  int png_scale = 1;
  edge::CacheRequest cache;
  bool cache_set = false;  // --cache given
  bool cache_drop = false;
  bool cache_int8 = false;
  edge::GuidanceReuseOptions guidance_reuse{-1, 2, 1};  // interval -1: the model's default
  bool guidance_reuse_detail = false;                    // --guidance-reuse-order/-warmup given
  bool once = false;
  int repeat = 1;                // --once: graph runs (timing)
  std::string graph;             // --once: a graph by name (empty: graph 0)
  bool no_decode = false;
  std::string cond;              // --cond FILE.npy
  std::vector<std::vector<int64_t>> tokens;  // --tokens: one prompt, or one per sample
  int decode_overlap = -1;       // -1: the model's
  std::vector<std::pair<std::string, std::string>> inputs;
  std::string out_dir;
  int threads = 1;
  float attention_density = -1.f;
  bool attention_compensation = true;
  int attention_precision = -1;  // as stored
  edge::AttentionSparseOptions attention_sparse;
  edge::TokenReuseOptions token_reuse;
  bool pin = false;
  long long max_memory_mb = 0;  // 0: no cap on the activation arena
  bool no_mmap = false;
  bool check_finite = true;
  edge::PrecisionOverride precision = edge::PrecisionOverride::kAsStored;
  bool profile = false, verbose = false, json = false, quiet = false;
};

// Exact query-key pairs of cluster-sparse attention, over all its plans.
edge::AttentionSparseOptions::Stats g_attention_stats;

// Model load and session preparation (file mapped, kernels chosen, arenas
// planned and bound), ms: "load_ms" in --json.
double g_load_ms = 0;

void JsonAttentionStats(edge::cli::JsonWriter& j) {
  const auto& st = g_attention_stats;
  if (st.plans == 0) return;
  j.Key("attention_plans").Int(st.plans);
  j.Key("attention_exact_fraction").Number(st.exact_pairs / st.total_pairs, "%.6f");
}

// Query rows token reuse recomputed, per step, over all attention ops.
std::vector<double> g_token_rows, g_token_total;
edge::TokenReuseOptions::Stats g_token_stats;

double TokenReuseFraction() {
  double r = 0, t = 0;
  for (size_t i = 0; i < g_token_rows.size(); ++i) r += g_token_rows[i], t += g_token_total[i];
  return t > 0 ? r / t : 1.0;
}

// The threshold a run applies: the flag's, else the model's stored default
// (every Attention op carries the same one from edge-convert).
float EffectiveTokenReuse(const edge::Model& m, const edge::TokenReuseOptions& o) {
  if (o.threshold >= 0.f) return o.threshold;
  for (int i = 0; i < m.num_nodes(); ++i) {
    const edge::NodeInfo& n = m.node(i);
    if (n.type != edge::fb::OpType::Attention) continue;
    if (const auto* ao = n.op->options_as_AttentionOptions()) return ao->token_reuse();
  }
  return 0.f;
}

void JsonTokenReuse(edge::cli::JsonWriter& j, edge::TokenReuseOptions o, const edge::Model& m) {
  o.threshold = EffectiveTokenReuse(m, o);
  if (o.threshold <= 0.f) return;
  j.Key("token_reuse").BeginObject().Key("threshold").Number(o.threshold, "%g");
  j.Key("warmup").Int(o.warmup_steps).Key("max_stale").Int(o.max_stale).Key("order").Int(o.order);
  j.Key("state_bytes").Uint(g_token_stats.state_bytes).Key("rows_recomputed").Number(TokenReuseFraction(), "%.6f");
  j.Key("steps").BeginArray();
  for (size_t i = 0; i < g_token_rows.size(); ++i) {
    j.Number(g_token_total[i] > 0 ? g_token_rows[i] / g_token_total[i] : 1.0, "%.6f");
  }
  j.EndArray().EndObject();
}

int Usage(const char* msg) {
  std::fprintf(stderr, "edge-run: %s\n(run 'edge-run --help' for usage)\n", msg);
  return kExitUsage;
}

bool ParseInt(const char* s, long long lo, long long hi, long long* out) {
  if (s == nullptr || *s == '\0') return false;
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(s, &end, 10);
  if (errno != 0 || *end != '\0' || v < lo || v > hi) return false;
  *out = v;
  return true;
}

bool ParseFloat(const char* s, float* out) {
  if (s == nullptr || *s == '\0') return false;
  char* end = nullptr;
  const float v = std::strtof(s, &end);
  if (*end != '\0' || !std::isfinite(v)) return false;
  *out = v;
  return true;
}

// Returns -1 on success, else the exit code.
int ParseArgs(int argc, char** argv, Args* a) {
  edge::cli::ArgReader r(argc, argv);
  while (r.Next()) {
    const std::string& arg = r.arg();
    auto value = [&](const char** v) { return (*v = r.Value()) != nullptr; };
    const char* v = nullptr;
    long long n = 0;
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return kExitOk;
    } else if (arg == "--steps") {
      if (!value(&v) || !ParseInt(v, 1, 10000, &n)) return Usage("--steps needs an integer in [1, 10000]");
      a->steps = static_cast<int>(n);
    } else if (arg == "--seed") {
      if (!value(&v) || !ParseInt(v, 0, INT64_MAX, &n)) return Usage("--seed needs a non-negative integer");
      a->seed = static_cast<uint64_t>(n);
    } else if (arg == "--guidance") {
      if (!value(&v) || !ParseFloat(v, &a->guidance) || a->guidance < 0) return Usage("--guidance needs a number >= 0");
    } else if (arg == "--class") {
      if (!value(&v)) return Usage("--class needs a value");
      std::string s = v;
      size_t pos = 0;
      while (pos <= s.size()) {
        const size_t comma = s.find(',', pos);
        const std::string item = s.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
        if (!ParseInt(item.c_str(), 0, INT32_MAX, &n)) return Usage("--class needs non-negative integers, e.g. --class 3,7");
        a->classes.push_back(n);
        if (comma == std::string::npos) break;
        pos = comma + 1;
      }
    } else if (arg == "--num-samples") {
      if (!value(&v) || !ParseInt(v, 1, 4096, &n)) return Usage("--num-samples needs an integer in [1, 4096]");
      a->num_samples = static_cast<int>(n);
    } else if (arg == "--cache") {
      if (!value(&v)) return Usage("--cache needs none|tdc|fb|tea|mag|static|taylor|auto");
      a->cache_set = true;
      a->cache.automatic = std::strcmp(v, "auto") == 0;
      if (!a->cache.automatic && !edge::ParseCachePolicy(v, &a->cache.policy))
        return Usage("--cache needs none|tdc|fb|tea|mag|static|taylor|auto");
    } else if (arg == "--cache-threshold") {
      if (!value(&v) || !ParseFloat(v, &a->cache.threshold) || a->cache.threshold < 0)
        return Usage("--cache-threshold needs a number >= 0");
    } else if (arg == "--cache-drop") {
      a->cache_drop = true;
    } else if (arg == "--cache-int8") {
      a->cache_int8 = true;
    } else if (arg == "--cache-scale") {
      if (!value(&v) || !ParseFloat(v, &a->cache.scale) || a->cache.scale < 0)
        return Usage("--cache-scale needs a number >= 0");
    } else if (arg == "--cache-target") {
      if (!value(&v) || !ParseFloat(v, &a->cache.target_psnr) || a->cache.target_psnr <= 0)
        return Usage("--cache-target needs a PSNR in dB > 0");
    } else if (arg == "--cache-interval") {
      if (!value(&v) || !ParseInt(v, 1, 10000, &n)) return Usage("--cache-interval needs an integer in [1, 10000]");
      a->cache.interval = static_cast<int>(n);
    } else if (arg == "--cache-steps") {
      if (!value(&v)) return Usage("--cache-steps needs a list of steps, e.g. 0,1,3");
      std::string s = v;
      size_t pos = 0;
      while (pos <= s.size()) {
        const size_t comma = s.find(',', pos);
        const std::string item = s.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
        if (!ParseInt(item.c_str(), 0, 100000, &n)) return Usage("--cache-steps needs non-negative integers, e.g. 0,1,3");
        a->cache.compute_steps.push_back(static_cast<int>(n));
        if (comma == std::string::npos) break;
        pos = comma + 1;
      }
    } else if (arg == "--cache-max-skips") {
      if (!value(&v) || !ParseInt(v, 0, 1000, &n)) return Usage("--cache-max-skips needs an integer in [0, 1000]");
      a->cache.max_skips = static_cast<int>(n);
    } else if (arg == "--cache-warmup") {
      if (!value(&v) || !ParseInt(v, 0, 10000, &n)) return Usage("--cache-warmup needs an integer in [0, 10000]");
      a->cache.warmup_steps = static_cast<int>(n);
    } else if (arg == "--guidance-reuse") {
      if (!value(&v) || !ParseInt(v, 0, 10000, &n)) return Usage("--guidance-reuse needs an integer in [0, 10000]");
      a->guidance_reuse.interval = static_cast<int>(n);
    } else if (arg == "--guidance-reuse-order") {
      if (!value(&v) || !ParseInt(v, 0, 1, &n)) return Usage("--guidance-reuse-order needs 0 or 1");
      a->guidance_reuse.order = static_cast<int>(n);
      a->guidance_reuse_detail = true;
    } else if (arg == "--guidance-reuse-warmup") {
      if (!value(&v) || !ParseInt(v, 0, 10000, &n)) return Usage("--guidance-reuse-warmup needs an integer in [0, 10000]");
      a->guidance_reuse.warmup_steps = static_cast<int>(n);
      a->guidance_reuse_detail = true;
    } else if (arg == "--png-scale") {
      if (!value(&v) || !ParseInt(v, 1, 16, &n)) return Usage("--png-scale needs an integer in [1, 16]");
      a->png_scale = static_cast<int>(n);
    } else if (arg == "--noise") {
      if (!value(&v)) return Usage("--noise needs a file");
      a->noise = v;
    } else if (arg == "--dump-noise") {
      if (!value(&v)) return Usage("--dump-noise needs a file");
      a->dump_noise = v;
    } else if (arg == "--dump-trajectory") {
      if (!value(&v)) return Usage("--dump-trajectory needs a file");
      a->dump_trajectory = v;
    } else if (arg == "--out") {
      if (!value(&v)) return Usage("--out needs a file");
      a->out = v;
    } else if (arg == "--once") {
      a->once = true;
    } else if (arg == "--repeat") {
      if (!value(&v) || !ParseInt(v, 1, 100000, &n)) return Usage("--repeat needs an integer in [1, 100000]");
      a->repeat = static_cast<int>(n);
    } else if (arg == "--input") {
      if (!value(&v)) return Usage("--input needs NAME=FILE.npy");
      const char* eq = std::strchr(v, '=');
      if (eq == nullptr || eq == v || eq[1] == '\0') return Usage("--input needs NAME=FILE.npy");
      a->inputs.emplace_back(std::string(v, eq - v), std::string(eq + 1));
    } else if (arg == "--out-dir") {
      if (!value(&v)) return Usage("--out-dir needs a directory");
      a->out_dir = v;
    } else if (arg == "--threads") {
      if (!value(&v) || !ParseInt(v, 0, 256, &n)) return Usage("--threads needs an integer in [0, 256]");
      a->threads = static_cast<int>(n);
    } else if (arg == "--precision") {
      if (!value(&v)) return Usage("--precision needs as-stored|fp32|int8|nvfp4");
      const std::string p = v;
      if (p == "as-stored") a->precision = edge::PrecisionOverride::kAsStored;
      else if (p == "fp32") a->precision = edge::PrecisionOverride::kFp32;
      else if (p == "int8") a->precision = edge::PrecisionOverride::kInt8;
      else if (p == "nvfp4") a->precision = edge::PrecisionOverride::kNvfp4;
      else return Usage("--precision needs as-stored|fp32|int8|nvfp4");
    } else if (arg == "--attention-density") {
      if (!value(&v) || !ParseFloat(v, &a->attention_density) || a->attention_density < 0 ||
          a->attention_density > 1)
        return Usage("--attention-density needs a number in [0, 1]");
    } else if (arg == "--attention-precision") {
      if (!value(&v)) return Usage("--attention-precision needs as-stored|fp32|int8");
      const std::string ap = v;
      if (ap == "as-stored") a->attention_precision = -1;
      else if (ap == "fp32") a->attention_precision = static_cast<int>(edge::AttentionPrecision::kFp32);
      else if (ap == "int8") a->attention_precision = static_cast<int>(edge::AttentionPrecision::kInt8);
      else return Usage("--attention-precision needs as-stored|fp32|int8");
    } else if (arg == "--attention-sparse") {
      const std::string m = value(&v) ? v : "";
      if (m == "off") a->attention_sparse.mode = 0;
      else if (m == "tiles") a->attention_sparse.mode = 1;
      else if (m == "clusters") a->attention_sparse.mode = 2;
      else return Usage("--attention-sparse needs off|tiles|clusters");
    } else if (arg == "--attention-top-p" || arg == "--attention-min-frac" || arg == "--attention-err-tol") {
      float f = 0;
      if (!value(&v) || !ParseFloat(v, &f) || f < 0 || (arg != "--attention-err-tol" && f > 1))
        return Usage((arg + " needs a number in [0, 1] (err-tol: >= 0)").c_str());
      if (arg == "--attention-top-p") a->attention_sparse.top_p = f;
      else if (arg == "--attention-min-frac") a->attention_sparse.min_frac = f;
      else a->attention_sparse.err_tol = f;
    } else if (arg == "--attention-cluster-size" || arg == "--attention-key-cluster-size" ||
               arg == "--attention-kmeans-iters" ||
               arg == "--attention-refresh" || arg == "--attention-replan" || arg == "--attention-dense-steps") {
      const bool size = arg == "--attention-cluster-size" || arg == "--attention-key-cluster-size";
      if (!value(&v) || !ParseInt(v, size ? 1 : 0, 1 << 20, &n))
        return Usage((arg + " needs a non-negative integer").c_str());
      if (arg == "--attention-cluster-size") a->attention_sparse.cluster_tokens = static_cast<int>(n);
      else if (arg == "--attention-key-cluster-size") a->attention_sparse.k_cluster_tokens = static_cast<int>(n);
      else if (arg == "--attention-kmeans-iters") a->attention_sparse.kmeans_iters = static_cast<int>(n);
      else if (arg == "--attention-refresh") a->attention_sparse.refresh = static_cast<int>(n);
      else if (arg == "--attention-replan") a->attention_sparse.replan = static_cast<int>(n);
      else a->attention_sparse.dense_steps = static_cast<int>(n);
    } else if (arg == "--token-reuse") {
      if (!value(&v) || !ParseFloat(v, &a->token_reuse.threshold) || a->token_reuse.threshold < 0 ||
          a->token_reuse.threshold > 1e6)
        return Usage("--token-reuse needs a number >= 0");
    } else if (arg == "--token-reuse-order") {
      if (!value(&v) || !ParseInt(v, 0, 1, &n)) return Usage("--token-reuse-order needs 0 or 1");
      a->token_reuse.order = static_cast<int>(n);
    } else if (arg == "--token-reuse-warmup" || arg == "--token-reuse-max-stale") {
      const bool stale = arg == "--token-reuse-max-stale";
      if (!value(&v) || !ParseInt(v, 0, stale ? 255 : 10000, &n))
        return Usage(stale ? "--token-reuse-max-stale needs an integer in [0, 255]"
                           : "--token-reuse-warmup needs an integer in [0, 10000]");
      if (stale) a->token_reuse.max_stale = static_cast<int>(n);
      else a->token_reuse.warmup_steps = static_cast<int>(n);
    } else if (arg == "--graph") {
      if (!value(&v) || v[0] == '\0') return Usage("--graph needs a graph name");
      a->graph = v;
    } else if (arg == "--cond") {
      if (!value(&v)) return Usage("--cond needs a file");
      a->cond = v;
    } else if (arg == "--tokens") {
      if (!value(&v)) return Usage("--tokens needs token ids");
      a->tokens.assign(1, {});
      for (const char* c = v; ; ++c) {
        const char* end = c;
        while (*end != '\0' && *end != ',' && *end != ';') ++end;
        const std::string item(c, end);
        if (!ParseInt(item.c_str(), 0, INT32_MAX, &n))
          return Usage("--tokens needs non-negative token ids, e.g. --tokens 12,7,31 or 12,7;4,9 (a prompt per sample)");
        a->tokens.back().push_back(n);
        if (*end == '\0') break;
        if (*end == ';') a->tokens.emplace_back();
        c = end;
      }
    } else if (arg == "--no-decode") {
      a->no_decode = true;
    } else if (arg == "--decode-tile-overlap") {
      if (!value(&v) || !ParseInt(v, 0, 1024, &n)) return Usage("--decode-tile-overlap needs an integer in [0, 1024]");
      a->decode_overlap = static_cast<int>(n);
    } else if (arg == "--pin") {
      a->pin = true;
    } else if (arg == "--max-memory") {
      if (!value(&v) || !ParseInt(v, 0, 1 << 30, &n)) return Usage("--max-memory needs a size in MiB in [0, 2^30]");
      a->max_memory_mb = n;
    } else if (arg == "--check-finite") {
      a->check_finite = true;
    } else if (arg == "--no-check-finite") {
      a->check_finite = false;
    } else if (arg == "--no-mmap") {
      a->no_mmap = true;
    } else if (arg == "--no-attention-compensation") {
      a->attention_compensation = false;
    } else if (arg == "--profile") {
      a->profile = true;
    } else if (arg == "--verbose") {
      a->verbose = true;
    } else if (arg == "--json") {
      a->json = true;
    } else if (arg == "--quiet") {
      a->quiet = true;
    } else if (r.is_option()) {
      return Usage(("unknown option " + arg).c_str());
    } else if (a->model.empty()) {
      a->model = arg;
    } else {
      return Usage(("unexpected argument " + arg).c_str());
    }
    if (r.value_ignored()) return Usage((arg + " takes no value").c_str());
  }
  if (a->model.empty()) return Usage("no model file given");
  if (a->guidance_reuse_detail && a->guidance_reuse.interval < 0)
    return Usage("--guidance-reuse-order and --guidance-reuse-warmup need --guidance-reuse K");
  if (a->once && a->out_dir.empty()) return Usage("--once needs --out-dir");
  if (!a->once && (!a->inputs.empty() || !a->out_dir.empty())) return Usage("--input/--out-dir need --once");
  if (!a->once && a->repeat != 1) return Usage("--repeat needs --once");
  if (!a->once && !a->graph.empty()) return Usage("--graph needs --once (a generation runs every graph)");
  return -1;
}

// Peak resident memory of this program. Linux keeps getrusage's ru_maxrss
// across execve, so a process started by a large parent (a Python bench
// with PyTorch loaded) would report the parent's peak; VmHWM in
// /proc/self/status belongs to this program's own address space.
long PeakRssKb() {
  if (FILE* f = std::fopen("/proc/self/status", "r")) {
    char line[256];
    long kb = -1;
    while (std::fgets(line, sizeof(line), f) != nullptr) {
      if (std::sscanf(line, "VmHWM: %ld kB", &kb) == 1) break;
    }
    std::fclose(f);
    if (kb >= 0) return kb;
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

bool EndsWith(const std::string& s, const char* suffix) {
  const size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

void PrintKernels(const edge::Session& s) {
  const edge::Model& m = s.model();
  for (int i = 0; i < m.num_nodes(); ++i) {
    std::fprintf(stderr, "  op %3d %-18s %-28s %s\n", i, edge::fb::EnumNameOpType(m.node(i).type),
                 m.node(i).name, s.kernel_name(i));
  }
}

void PrintProfile(const edge::Session& s, const char* graph) {
  const edge::Model& m = s.model();
  double total = 0;
  for (const auto& p : s.profile()) total += p.total_ms;
  // By op type, largest first.
  struct Row { const char* type; double ms; int64_t calls; };
  std::vector<Row> rows;
  for (int i = 0; i < m.num_nodes(); ++i) {
    const char* type = edge::fb::EnumNameOpType(m.node(i).type);
    auto it = std::find_if(rows.begin(), rows.end(), [&](const Row& r) { return std::strcmp(r.type, type) == 0; });
    if (it == rows.end()) rows.push_back({type, 0, 0}), it = rows.end() - 1;
    it->ms += s.profile()[i].total_ms;
    it->calls += s.profile()[i].calls;
  }
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.ms > b.ms; });
  std::fprintf(stderr, "%sprofile by op type (total %.1f ms):\n", graph, total);
  for (const Row& r : rows) {
    std::fprintf(stderr, "  %-18s %10.2f ms %6.1f%%  %lld calls\n", r.type, r.ms,
                 total > 0 ? 100.0 * r.ms / total : 0.0, static_cast<long long>(r.calls));
  }
}

void JsonProfile(edge::cli::JsonWriter& j, const edge::Session& s) {
  const edge::Model& m = s.model();
  j.Key("ops").BeginArray();
  for (int i = 0; i < m.num_nodes(); ++i) {
    j.BeginObject().Key("index").Int(i);
    j.Key("type").String(edge::fb::EnumNameOpType(m.node(i).type));
    j.Key("name").String(m.node(i).name);
    j.Key("kernel").String(s.kernel_name(i));
    j.Key("total_ms").Number(s.profile()[i].total_ms, "%.4f");
    j.Key("calls").Int(s.profile()[i].calls);
    j.EndObject();
  }
  j.EndArray();
}

int ExitFor(const edge::Status& s) {
  switch (s.code()) {
    case edge::StatusCode::kInvalidModel: return kExitBadModel;
    case edge::StatusCode::kInvalidArgument: return kExitUsage;
    case edge::StatusCode::kNumericError: return kExitNonFinite;
    default: return kExitRuntime;
  }
}

int RunOnce(const Args& a, edge::Session* s) {
  const edge::Model& m = s->model();
  std::vector<bool> given(m.num_tensors(), false);
  for (const auto& in : a.inputs) {
    const int t = m.FindTensor(in.first.c_str());
    if (t < 0 || std::find(m.inputs().begin(), m.inputs().end(), t) == m.inputs().end()) {
      std::fprintf(stderr, "edge-run: '%s' is not a graph input of this model\n", in.first.c_str());
      return kExitUsage;
    }
    auto arr = edge::ReadNpy(in.second);
    if (!arr.ok()) {
      std::fprintf(stderr, "edge-run: input '%s': %s\n", in.first.c_str(), arr.status().message());
      return kExitUsage;
    }
    const edge::TensorInfo& info = m.tensor(t);
    bool shape_ok = arr->dtype == info.dtype && static_cast<int>(arr->shape.size()) == info.rank;
    for (int d = 0; shape_ok && d < info.rank; ++d) shape_ok = arr->shape[d] == info.dims[d];
    if (!shape_ok) {
      std::string want, got;
      for (int d = 0; d < info.rank; ++d) want += (d ? "x" : "") + std::to_string(info.dims[d]);
      for (size_t d = 0; d < arr->shape.size(); ++d) got += (d ? "x" : "") + std::to_string(arr->shape[d]);
      std::fprintf(stderr, "edge-run: input '%s' must be %s [%s], file has %s [%s]\n", in.first.c_str(),
                   edge::DTypeName(info.dtype), want.c_str(), edge::DTypeName(arr->dtype), got.c_str());
      return kExitUsage;
    }
    if (arr->dtype == edge::fb::DType::F32) {
      for (int64_t k = 0; k < arr->num_elements(); ++k) {
        if (!std::isfinite(arr->f32()[k])) {
          std::fprintf(stderr, "edge-run: input '%s' has a NaN or Inf at element %lld\n", in.first.c_str(),
                       static_cast<long long>(k));
          return kExitUsage;
        }
      }
    }
    edge::Status st = s->SetInput(t, arr->data.data(), arr->data.size());
    if (!st.ok()) {
      std::fprintf(stderr, "edge-run: %s\n", st.message());
      return kExitUsage;
    }
    given[t] = true;
  }
  for (int t : m.inputs()) {
    if (!given[t]) {
      std::fprintf(stderr, "edge-run: graph input '%s' not given (--input %s=FILE.npy)\n", m.tensor(t).name,
                   m.tensor(t).name);
      return kExitUsage;
    }
  }
  // Every run reads the same inputs (Invoke leaves graph inputs as set), so
  // repeated runs time the graph alone; the outputs written are the last run's.
  std::vector<double> run_ms;
  for (int r = 0; r < a.repeat; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    edge::Status st = s->Invoke();
    run_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    if (!st.ok()) {
      std::fprintf(stderr, "edge-run: %s\n", st.message());
      return ExitFor(st);
    }
  }
  const double ms = run_ms[0];
  std::vector<double> sorted_ms = run_ms;
  std::sort(sorted_ms.begin(), sorted_ms.end());
  const size_t n_ms = sorted_ms.size();
  const double median_ms = n_ms % 2 ? sorted_ms[n_ms / 2] : 0.5 * (sorted_ms[n_ms / 2 - 1] + sorted_ms[n_ms / 2]);
  mkdir(a.out_dir.c_str(), 0755);
  for (int t : m.outputs()) {
    const edge::TensorInfo& info = m.tensor(t);
    std::vector<int64_t> shape(info.dims, info.dims + info.rank);
    const std::string path = a.out_dir + "/" + info.name + ".npy";
    edge::Status ws = edge::WriteNpy(path, info.dtype, shape, s->data(t));
    if (!ws.ok()) {
      std::fprintf(stderr, "edge-run: writing %s: %s\n", path.c_str(), ws.message());
      return kExitRuntime;
    }
    if (!a.quiet) std::fprintf(stderr, "wrote %s\n", path.c_str());
  }
  if (a.profile) PrintProfile(*s, "");
  if (a.json) {
    edge::cli::JsonWriter j(stdout);
    j.BeginObject().Key("mode").String("once").Key("model").String(a.model.c_str());
    j.Key("load_ms").Number(g_load_ms, "%.3f").Key("invoke_ms").Number(ms, "%.3f");
    if (a.repeat > 1) {
      j.Key("invoke_ms_runs").BeginArray();
      for (double r : run_ms) j.Number(r, "%.3f");
      j.EndArray();
      j.Key("invoke_ms_median").Number(median_ms, "%.3f").Key("invoke_ms_min").Number(sorted_ms[0], "%.3f");
    }
    j.Key("peak_rss_kb").Int(PeakRssKb());
    j.Key("arena_bytes").Uint(s->arena_bytes());
    if (a.profile || a.verbose) JsonProfile(j, *s);
    j.EndObject();
    std::printf("\n");
  } else if (!a.quiet) {
    if (a.repeat > 1) {
      std::fprintf(stderr, "invoke %.2f ms (first), median of %d runs %.2f ms, min %.2f ms, peak RSS %.1f MiB\n", ms,
                   a.repeat, median_ms, sorted_ms[0], PeakRssKb() / 1024.0);
    } else {
      std::fprintf(stderr, "invoke %.2f ms, peak RSS %.1f MiB\n", ms, PeakRssKb() / 1024.0);
    }
  }
  return kExitOk;
}

struct Progress {
  bool quiet;
  const edge::Pipeline* pipeline;
  // --dump-trajectory: [steps, num_samples, latent] floats, else null.
  float* trajectory;
  int num_samples;
};

void OnStep(void* user, int chunk, int num_chunks, int step, int steps, double ms) {
  const Progress* p = static_cast<const Progress*>(user);
  if (p->trajectory != nullptr) {
    const size_t L = p->pipeline->latent_elements();
    std::memcpy(p->trajectory + (size_t(step) * p->num_samples + p->pipeline->chunk_first_sample()) * L,
                p->pipeline->step_latents(), size_t(p->pipeline->chunk_samples()) * L * sizeof(float));
  }
  if (p->quiet) return;
  if (num_chunks > 1) {
    std::fprintf(stderr, "batch %d/%d  step %2d/%d  %8.1f ms\n", chunk + 1, num_chunks, step + 1, steps, ms);
  } else {
    std::fprintf(stderr, "step %2d/%d  %8.1f ms\n", step + 1, steps, ms);
  }
}

// Maps [-1, 1] to [0, 255] and tiles samples: images in a grid, videos as one
// row of frames per sample (frames are stored sample-major, so frame t is tile t).
edge::Status WriteSamplesPng(const std::string& path, const edge::Array<int64_t>& ls, int n, const float* x,
                             int scale) {
  int frames = 1, C, H, W;
  if (ls.size() == 4) {
    frames = static_cast<int>(ls[0]); C = static_cast<int>(ls[1]); H = static_cast<int>(ls[2]); W = static_cast<int>(ls[3]);
  } else if (ls.size() == 3) {
    C = static_cast<int>(ls[0]); H = static_cast<int>(ls[1]); W = static_cast<int>(ls[2]);
  } else {
    return edge::Status::Error(edge::StatusCode::kUnsupported, "PNG output needs a [C,H,W] or [F,C,H,W] latent");
  }
  if (C != 1 && C != 3) {
    return edge::Status::Error(edge::StatusCode::kUnsupported, "PNG output needs 1 or 3 channels, the model has %d (use --out FILE.npy)", C);
  }
  // Frames to interleaved u8 ([-1, 1] -> [0, 255]), tiled with 2 white pixels
  // between them and around the grid.
  const int pad = 2, tiles = n * frames;
  const size_t frame_elems = size_t(C) * H * W;
  std::vector<uint8_t> u8(size_t(tiles) * frame_elems);
  for (int t = 0; t < tiles; ++t) {
    edge::PlanarFloatToU8(x + size_t(t) * frame_elems, C, H, W, -1.f, 1.f, u8.data() + size_t(t) * frame_elems);
  }
  std::vector<uint8_t> grid;
  int gw = 0, gh = 0;
  EDGE_RETURN_IF_ERROR(edge::TileImages(u8.data(), tiles, H, W, C, frames > 1 ? frames : 0, pad, 255, &grid, &gw, &gh));
  const int GW = gw + 2 * pad, GH = gh + 2 * pad;
  std::vector<uint8_t> img(size_t(GW) * GH * C, 255);
  for (int yy = 0; yy < gh; ++yy) {
    std::memcpy(&img[(size_t(yy + pad) * GW + pad) * C], &grid[size_t(yy) * gw * C], size_t(gw) * C);
  }
  if (scale <= 1) return edge::WritePng(path, img.data(), GW, GH, C);
  std::vector<uint8_t> big(size_t(GW) * scale * GH * scale * C);
  for (int yy = 0; yy < GH * scale; ++yy) {
    for (int xx = 0; xx < GW * scale; ++xx) {
      for (int c = 0; c < C; ++c) {
        big[(size_t(yy) * GW * scale + xx) * C + c] = img[(size_t(yy / scale) * GW + xx / scale) * C + c];
      }
    }
  }
  return edge::WritePng(path, big.data(), GW * scale, GH * scale, C);
}

int RunGenerate(const Args& a, edge::Session* s, edge::Session* decoder_session, size_t shared_arena_bytes) {
  auto pr = edge::Pipeline::Create(s);
  if (!pr.ok()) {
    std::fprintf(stderr, "edge-run: %s\n", pr.status().message());
    return ExitFor(pr.status());
  }
  edge::Pipeline& p = *pr.value();
  const edge::fb::Pipeline* meta = s->model().pipeline();
  const int num_classes = meta->num_classes();

  edge::GenerateOptions g;
  g.steps = a.steps;
  g.seed = a.seed;
  g.guidance = a.guidance;
  g.classes = a.classes;
  {
    // Legacy: --cache-threshold alone selects the per-block rule.
    edge::CacheRequest q = a.cache;
    if (!a.cache_set) q.policy = q.threshold > 0.f ? edge::CachePolicy::kTdc : edge::CachePolicy::kNone;
    if (!a.cache_set && (!q.compute_steps.empty() || q.interval > 0)) q.policy = edge::CachePolicy::kStatic;
    // No cache flag at all: the setting edge-convert --target-psnr stored, if any.
    q.model_default = !a.cache_set && q.threshold < 0.f && q.compute_steps.empty() && q.interval <= 0;
    edge::Status cs = edge::ResolveCacheOptions(s->model(), q, &g.cache, nullptr);
    g.cache.drop_instead_of_reuse = a.cache_drop;
    g.cache.delta_int8 = a.cache_int8;
    g.guidance_reuse = a.guidance_reuse;
    if (!cs.ok()) {
      std::fprintf(stderr, "edge-run: %s\n", cs.message());
      return kExitUsage;
    }
  }
  if (a.num_samples > 0) {
    g.num_samples = a.num_samples;
    if (!g.classes.empty() && static_cast<int>(g.classes.size()) != g.num_samples) {
      if (g.classes.size() != 1) return Usage("give one --class per sample, or a single class for all");
      g.classes.assign(g.num_samples, g.classes[0]);
    }
  } else if (!g.classes.empty()) {
    g.num_samples = static_cast<int>(g.classes.size());
  } else if (num_classes > 0) {
    g.num_samples = std::min(num_classes, 16);
  }
  for (int64_t c : g.classes) {
    if (num_classes > 0 && c >= num_classes) {
      std::fprintf(stderr, "edge-run: class %lld outside [0, %d)\n", static_cast<long long>(c), num_classes);
      return kExitUsage;
    }
  }
  // Condition embeddings (--cond): one per sample, or one for all.
  std::vector<float> cond;
  const size_t E = p.condition_elements();
  if (E == 0 && !a.cond.empty()) return Usage("--cond: this model takes no condition embedding");
  if (E == 0 && !a.tokens.empty()) return Usage("--tokens: this model takes no condition embedding");
  const edge::GraphLinkInfo* elink = s->model().cond_encoder_link();
  if (E > 0 && !a.tokens.empty()) {
    // The prompt stage: the condition-encoder graph once per prompt, on its
    // own session, freed before the denoising loop.
    if (!a.cond.empty()) return Usage("--tokens and --cond both give the condition: give one");
    if (elink == nullptr) return Usage("--tokens: this model has no condition-encoder graph (give --cond FILE.npy)");
    if (!a.classes.empty()) return Usage("--class: this model takes a prompt (--tokens), not classes");
    const int given = static_cast<int>(a.tokens.size());
    if (a.num_samples == 0) g.num_samples = given;
    if (given != 1 && given != g.num_samples) {
      std::fprintf(stderr, "edge-run: --tokens holds %d prompts for %d samples\n", given, g.num_samples);
      return kExitUsage;
    }
    auto pe = edge::OpenPromptEncoder(s->model(), s->options(), E);
    if (!pe.ok()) {
      std::fprintf(stderr, "edge-run: cannot prepare the condition encoder: %s\n", pe.status().message());
      const edge::StatusCode c = pe.status().code();
      return c == edge::StatusCode::kInvalidModel || c == edge::StatusCode::kUnsupported ? kExitBadModel
                                                                                        : kExitRuntime;
    }
    std::vector<const int64_t*> ids;
    std::vector<size_t> counts;
    for (const std::vector<int64_t>& t : a.tokens) {
      ids.push_back(t.data());
      counts.push_back(t.size());
    }
    cond.resize(size_t(g.num_samples) * E);
    edge::Status st = edge::EncodePrompts(pe.value().encoder.get(), ids.data(), counts.data(), given,
                                          g.num_samples, cond.data());
    if (!st.ok()) {
      std::fprintf(stderr, "edge-run: --tokens: %s\n", st.message());
      return st.code() == edge::StatusCode::kInvalidArgument ? kExitUsage : kExitRuntime;
    }
    g.condition = cond.data();
  } else if (E > 0) {
    if (a.cond.empty()) {
      if (elink != nullptr) {
        std::fprintf(stderr, "edge-run: the model takes a prompt: give --tokens IDS (or --cond FILE.npy)\n");
        return kExitUsage;
      }
      std::fprintf(stderr, "edge-run: the model is conditioned on embeddings of %zu values per sample: give --cond FILE.npy\n", E);
      return kExitUsage;
    }
    if (!a.classes.empty()) return Usage("--class: this model takes condition embeddings (--cond), not classes");
    auto arr = edge::ReadNpy(a.cond);
    if (!arr.ok()) {
      std::fprintf(stderr, "edge-run: --cond: %s\n", arr.status().message());
      return kExitUsage;
    }
    const size_t n = static_cast<size_t>(arr->num_elements());
    if (arr->dtype != edge::fb::DType::F32 || n == 0 || n % E != 0) {
      std::fprintf(stderr, "edge-run: --cond must hold float32 embeddings of %zu values each, %s has %zu values\n", E,
                   a.cond.c_str(), n);
      return kExitUsage;
    }
    const int given = static_cast<int>(n / E);
    if (a.num_samples == 0) g.num_samples = given;
    if (given != 1 && given != g.num_samples) {
      std::fprintf(stderr, "edge-run: --cond holds %d embeddings for %d samples\n", given, g.num_samples);
      return kExitUsage;
    }
    for (int k = 0; k < g.num_samples; ++k) cond.insert(cond.end(), arr->f32() + (given == 1 ? 0 : k * E), arr->f32() + (given == 1 ? E : (k + 1) * E));
    for (float x : cond) {
      if (!std::isfinite(x)) {
        std::fprintf(stderr, "edge-run: --cond: %s holds a NaN or Inf\n", a.cond.c_str());
        return kExitUsage;
      }
    }
    g.condition = cond.data();
  }
  const size_t L = p.latent_elements();
  std::vector<float> noise;
  if (!a.noise.empty()) {
    auto arr = edge::ReadNpy(a.noise);
    if (!arr.ok()) {
      std::fprintf(stderr, "edge-run: --noise: %s\n", arr.status().message());
      return kExitUsage;
    }
    if (arr->dtype != edge::fb::DType::F32 || size_t(arr->num_elements()) != size_t(g.num_samples) * L) {
      std::fprintf(stderr, "edge-run: --noise must hold %d x %zu float32 values\n", g.num_samples, L);
      return kExitUsage;
    }
    noise.assign(arr->f32(), arr->f32() + arr->num_elements());
    g.noise = noise.data();
  }
  std::vector<int64_t> out_shape = {g.num_samples};
  for (int64_t d : p.latent_shape()) out_shape.push_back(d);
  if (!a.dump_noise.empty()) {
    std::vector<float> n0(size_t(g.num_samples) * L);
    for (int k = 0; k < g.num_samples; ++k) {
      if (g.noise != nullptr) std::memcpy(n0.data() + k * L, g.noise + k * L, L * sizeof(float));
      else edge::GaussianNoise(g.seed, static_cast<uint64_t>(k), n0.data() + k * L, L);
    }
    edge::Status ws = edge::WriteNpy(a.dump_noise, edge::fb::DType::F32, out_shape, n0.data());
    if (!ws.ok()) {
      std::fprintf(stderr, "edge-run: writing %s: %s\n", a.dump_noise.c_str(), ws.message());
      return kExitRuntime;
    }
  }

  std::unique_ptr<edge::Decoder> decoder;
  if (decoder_session != nullptr) {
    auto dr = edge::Decoder::Create(s->model(), decoder_session, *s->model().decoder_link(), p.latent_shape(),
                                    a.decode_overlap);
    if (!dr.ok()) {
      std::fprintf(stderr, "edge-run: %s\n", dr.status().message());
      return dr.status().code() == edge::StatusCode::kInvalidArgument ? kExitUsage : ExitFor(dr.status());
    }
    decoder = std::move(dr.value());
  }
  const bool pixels = decoder != nullptr || meta->output_kind() == edge::fb::OutputKind::Pixels;
  std::string out = a.out.empty() ? (pixels ? "sample.png" : "sample.npy") : a.out;
  if (!EndsWith(out, ".png") && !EndsWith(out, ".npy")) return Usage("--out must end in .png or .npy");

  const float guidance = a.guidance >= 0 ? a.guidance : meta->guidance_scale();
  const int steps = a.steps > 0 ? a.steps : meta->default_steps();
  std::vector<float> trajectory;
  if (!a.dump_trajectory.empty()) {
    if (!EndsWith(a.dump_trajectory, ".npy")) return Usage("--dump-trajectory must end in .npy");
    trajectory.resize(size_t(steps) * g.num_samples * L);
  }
  Progress prog{a.quiet || a.json, &p, trajectory.empty() ? nullptr : trajectory.data(), g.num_samples};
  g.on_step = OnStep;
  g.user = &prog;
  if (!prog.quiet) {
    std::fprintf(stderr, "%s: %d sample(s), %d steps, guidance %.2f, seed %llu, %d thread(s)\n", a.model.c_str(),
                 g.num_samples, steps, guidance, static_cast<unsigned long long>(a.seed), a.threads);
  }
  std::vector<float> result(size_t(g.num_samples) * L);
  g_token_rows.assign(steps, 0.0);
  g_token_total.assign(steps, 0.0);
  g_token_stats.step_rows = g_token_rows.data();
  g_token_stats.step_total = g_token_total.data();
  g_token_stats.steps = steps;
  edge::Status st = p.Generate(g, result.data());
  if (!st.ok()) {
    std::fprintf(stderr, "edge-run: %s\n", st.message());
    return ExitFor(st);
  }
  const edge::Array<int64_t>* sample_shape = &p.latent_shape();
  if (decoder != nullptr) {
    // Decode each sample's latent into pixels.
    const size_t P = decoder->output_elements();
    std::vector<float> pixels_out(size_t(g.num_samples) * P);
    for (int k = 0; k < g.num_samples; ++k) {
      edge::Status ds = decoder->Decode(result.data() + size_t(k) * L, pixels_out.data() + size_t(k) * P);
      if (!ds.ok()) {
        std::fprintf(stderr, "edge-run: sample %d: %s\n", k, ds.message());
        return ExitFor(ds);
      }
    }
    result.swap(pixels_out);
    sample_shape = &decoder->output_shape();
    out_shape.assign(1, g.num_samples);
    for (int64_t d : *sample_shape) out_shape.push_back(d);
  }
  edge::Status ws = EndsWith(out, ".png") ? WriteSamplesPng(out, *sample_shape, g.num_samples, result.data(), a.png_scale)
                                          : edge::WriteNpy(out, edge::fb::DType::F32, out_shape, result.data());
  if (!ws.ok()) {
    std::fprintf(stderr, "edge-run: writing %s: %s\n", out.c_str(), ws.message());
    return kExitRuntime;
  }
  if (!trajectory.empty()) {
    std::vector<int64_t> tshape = {steps};
    tshape.insert(tshape.end(), out_shape.begin(), out_shape.end());
    ws = edge::WriteNpy(a.dump_trajectory, edge::fb::DType::F32, tshape, trajectory.data());
    if (!ws.ok()) {
      std::fprintf(stderr, "edge-run: writing %s: %s\n", a.dump_trajectory.c_str(), ws.message());
      return kExitRuntime;
    }
  }
  const double total = p.stats().total_ms;
  const int runs = p.stats().graph_runs;
  if (a.profile) PrintProfile(*s, "");
  if (a.profile && decoder_session != nullptr) PrintProfile(*decoder_session, "decoder: ");
  if (a.json) {
    edge::cli::JsonWriter j(stdout);
    j.BeginObject().Key("mode").String("generate").Key("model").String(a.model.c_str());
    j.Key("samples").Int(g.num_samples).Key("steps").Int(steps).Key("guidance").Number(guidance, "%g");
    j.Key("seed").Uint(a.seed).Key("threads").Int(a.threads).Key("graph_runs").Int(runs);
    j.Key("load_ms").Number(g_load_ms, "%.3f").Key("total_ms").Number(total, "%.3f");
    j.Key("ms_per_graph_run").Number(runs ? total / runs : 0.0, "%.3f");
    j.Key("peak_rss_kb").Int(PeakRssKb()).Key("arena_bytes").Uint(s->arena_bytes());
    j.Key("cache_threshold").Number(g.cache.threshold, "%g");
    j.Key("blocks_computed").Int(p.stats().blocks_computed).Key("blocks_skipped").Int(p.stats().blocks_skipped);
    // Per step: which blocks ran ('c'), were reused ('s') or forecast ('f').
    const edge::CacheStats& cst = p.stats().cache;
    j.Key("cache_policy").String(edge::CachePolicyName(g.cache.policy)).Key("cache_interval").Int(g.cache.interval);
    j.Key("cache_bytes").Uint(p.stats().cache_bytes).Key("cache_steps").BeginArray();
    for (size_t i = 0; i < cst.step_skipped.size(); ++i) {
      j.BeginObject().Key("step").Uint(i).Key("skipped").Int(cst.step_skipped[i]);
      j.Key("computed").Int(cst.step_computed[i]).Key("blocks").String(cst.step_blocks[i].data()).EndObject();
    }
    j.EndArray();
    const edge::GuidanceReuseOptions& gru = p.stats().guidance_reuse;
    j.Key("guidance_reuse").BeginObject().Key("interval").Int(gru.interval).Key("order").Int(gru.order);
    j.Key("warmup").Int(gru.warmup_steps).Key("default_used").Bool(a.guidance_reuse.interval < 0);
    j.Key("uncond_runs").Int(p.stats().uncond_runs).Key("uncond_reused").Int(p.stats().uncond_reused);
    j.Key("steps").StringN(p.stats().guidance_steps.data(), p.stats().guidance_steps.size()).EndObject();
    j.Key("output").String(out.c_str());
    JsonAttentionStats(j);
    JsonTokenReuse(j, a.token_reuse, s->model());
    // The defaults edge-convert --target-psnr stored (used unless overridden).
    if (const edge::fb::Tuning* tu = s->model().fb()->tuning()) {
      static const char* const kWeights[] = {"fp32", "int8", "nvfp4"};
      j.Key("tuning").BeginObject().Key("target_psnr").Number(tu->target_psnr(), "%g");
      j.Key("calib_psnr").Number(tu->calib_psnr(), "%g").Key("holdout_psnr").Number(tu->holdout_psnr(), "%g");
      j.Key("predicted_speedup").Number(tu->predicted_speedup(), "%g").Key("weights").String(kWeights[tu->weights()]);
      j.Key("attention_precision").String(tu->attention_precision() == 1 ? "int8" : "fp32");
      j.Key("attention_sparse").String(tu->attention_sparse() == 1 ? "clusters" : "off");
      j.Key("cache_entry").Int(tu->cache_entry()).Key("token_reuse").Number(tu->token_reuse(), "%g");
      j.Key("cache_default_used")
          .Bool(!(a.cache_set || a.cache.threshold >= 0.f || a.cache.interval > 0 || !a.cache.compute_steps.empty()));
      j.EndObject();
    }
    if (decoder != nullptr) {
      const edge::DecodeStats& ds = decoder->stats();
      j.Key("decoder").BeginObject().Key("tiles").Int(ds.tiles).Key("tiles_h").Int(ds.tiles_h);
      j.Key("tiles_w").Int(ds.tiles_w).Key("overlap").Int(decoder->overlap());
      j.Key("total_ms").Number(ds.total_ms, "%.3f").Key("cpu_ms").Number(ds.cpu_ms, "%.3f");
      j.Key("arena_bytes").Uint(decoder_session->arena_bytes());
      j.Key("shared_arena_bytes").Uint(shared_arena_bytes);
      if (a.profile || a.verbose) JsonProfile(j, *decoder_session);
      j.EndObject();
    }
    if (a.profile || a.verbose) JsonProfile(j, *s);
    j.EndObject();
    std::printf("\n");
  } else if (!a.quiet) {
    std::fprintf(stderr, "done: %.1f ms total (%d graph runs, %.1f ms each), peak RSS %.1f MiB\n", total, runs,
                 runs ? total / runs : 0.0, PeakRssKb() / 1024.0);
    if (g.cache.policy != edge::CachePolicy::kNone) {
      const long long c = p.stats().blocks_computed, k = p.stats().blocks_skipped;
      std::fprintf(stderr, "step cache %s (threshold %g%s): %lld of %lld block runs skipped (%.1f%%), %.2f MiB of residuals\n",
                   edge::CachePolicyName(g.cache.policy), g.cache.threshold,
                   g.cache.block_thresholds.empty() ? "" : ", per block", k, c + k,
                   c + k > 0 ? 100.0 * k / (c + k) : 0.0, p.stats().cache_bytes / 1048576.0);
    }
    if (const float tr = EffectiveTokenReuse(s->model(), a.token_reuse); tr > 0.f) {
      std::fprintf(stderr, "token reuse (threshold %g%s): %.1f%% of attention query rows recomputed, %.2f MiB of cached rows\n",
                   tr, a.token_reuse.threshold < 0.f ? ", the model's" : "", 100.0 * TokenReuseFraction(),
                   g_token_stats.state_bytes / 1048576.0);
    }
    if (p.stats().uncond_reused > 0) {
      std::fprintf(stderr, "guidance reuse (every %d-th step, order %d): %d unconditional passes run, %d estimated\n",
                   p.stats().guidance_reuse.interval, p.stats().guidance_reuse.order, p.stats().uncond_runs,
                   p.stats().uncond_reused);
    }
    if (decoder != nullptr) {
      const edge::DecodeStats& ds = decoder->stats();
      std::fprintf(stderr, "decoded %d sample(s): %d tile(s) of %d x %d each, %.1f ms (CPU %.1f ms); shared arena "
                   "%.2f MiB\n", g.num_samples, ds.tiles, ds.tiles_h, ds.tiles_w, ds.total_ms, ds.cpu_ms,
                   shared_arena_bytes / 1048576.0);
    }
    std::printf("wrote %s\n", out.c_str());
  }
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  const int rc = ParseArgs(argc, argv, &a);
  if (rc >= 0) return rc;

  const auto load_start = std::chrono::steady_clock::now();
  edge::LoadOptions lo;
  lo.read_into_memory = a.no_mmap;
  auto mr = edge::Model::LoadFile(a.model.c_str(), lo);
  if (!mr.ok()) {
    // The loader's messages already name the file.
    std::fprintf(stderr, "edge-run: %s\n", mr.status().message());
    // Missing, unreadable or malformed: all 'bad model file'; out of memory
    // is a runtime failure like any other.
    return mr.status().code() == edge::StatusCode::kOutOfMemory ? kExitRuntime : kExitBadModel;
  }
  edge::SessionOptions so;
  so.num_threads = a.threads;
  so.profile = a.profile;
  so.precision = a.precision;
  so.attention_density = a.attention_density;
  so.attention_precision = a.attention_precision;
  so.attention_compensation = a.attention_compensation;
  so.attention_sparse = a.attention_sparse;
  so.attention_sparse.stats = &g_attention_stats;
  so.token_reuse = a.token_reuse;
  so.token_reuse.stats = &g_token_stats;
  so.pin_big_cores = a.pin;
  so.max_arena_bytes = static_cast<size_t>(a.max_memory_mb) << 20;
  so.check_finite = a.check_finite;
  const edge::Model& model = *mr.value();
  int graph = 0;
  if (!a.graph.empty()) {
    graph = model.FindGraph(a.graph.c_str());
    if (graph < 0) {
      std::fprintf(stderr, "edge-run: %s has no graph named '%s' (it has:", a.model.c_str(), a.graph.c_str());
      for (int g = 0; g < model.num_graphs(); ++g) std::fprintf(stderr, " %s", model.graph(g)->graph_name());
      std::fprintf(stderr, ")\n");
      return kExitUsage;
    }
  }
  // A generation of a latent model with a decoder runs two graphs, one after
  // the other, on one arena of the larger plan.
  const edge::GraphLinkInfo* dlink = a.once || a.no_decode ? nullptr : model.decoder_link();
  so.external_arena = dlink != nullptr;
  auto prepare_failed = [&](const edge::Status& st) {
    std::fprintf(stderr, "edge-run: cannot prepare %s: %s\n", a.model.c_str(), st.message());
    return st.code() == edge::StatusCode::kInvalidModel ? kExitBadModel : kExitRuntime;
  };
  auto sr = edge::Session::Create(model.graph(graph), so);
  if (!sr.ok()) return prepare_failed(sr.status());
  edge::Session& s = *sr.value();
  std::unique_ptr<edge::Session> decoder_session;
  edge::SharedArena shared;
  if (dlink != nullptr) {
    auto dr = edge::Session::Create(model.graph(dlink->to_graph), so);
    if (!dr.ok()) {
      edge::Status ds = dr.status();
      return prepare_failed(ds.Prepend("decoder: "));
    }
    decoder_session = std::move(dr.value());
    edge::Session* both[2] = {&s, decoder_session.get()};
    edge::Status bs = shared.Bind(both, 2, so.max_arena_bytes);
    if (!bs.ok()) return prepare_failed(bs);
  }
  g_load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - load_start).count();
  if (a.verbose) {
    std::fprintf(stderr, "%s: %d ops, %d tensors, arena %.2f MiB (all activations %.2f MiB, peak live %.2f MiB)\n",
                 a.model.c_str(), s.model().num_nodes(), s.model().num_tensors(), s.arena_bytes() / 1048576.0,
                 s.sum_activation_bytes() / 1048576.0, s.peak_live_bytes() / 1048576.0);
    PrintKernels(s);
    if (decoder_session != nullptr) {
      std::fprintf(stderr, "decoder: %d ops\n", decoder_session->model().num_nodes());
      PrintKernels(*decoder_session);
    }
  }
  return a.once ? RunOnce(a, &s) : RunGenerate(a, &s, decoder_session.get(), shared.bytes());
}
