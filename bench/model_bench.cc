// edge-bench model: per-op, per-block, per-forward and per-step latency of a
// model over a grid of configurations (threads x precision x step cache x
// attention density), end-to-end generation time, memory, sizes and the
// output quality of each configuration against FP32.
//
// Configurations the runtime cannot run yet (a step cache, sparse attention,
// a precision override that selects no quantized kernel) are kept in the
// report as "available": false with the reason, never measured with a
// stand-in, so the grid fills itself in as the runtime grows.
//
// --serve turns the process into a worker for bench/peers/compare.py, which
// alternates it with the peer engines run by run (see PrintServeHelp).
#include "bench/model_bench.h"

#include <sys/stat.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bench/model_bench_util.h"
#include "runtime/io/npy.h"
#include "runtime/model.h"
#include "runtime/pipeline.h"
#include "runtime/session.h"
#include "runtime/writer/model_writer.h"
#include "runtime/writer/dit_builder.h"

namespace edge {
namespace bench {
namespace {

constexpr const char* kSchema = "edge-bench.model.v1";

int Fail(const std::string& msg) {
  std::fprintf(stderr, "edge-bench model: %s\n", msg.c_str());
  return 1;
}

// ---------------------------------------------------------------------------
// The model under test: a file, or a DiT built in memory with seeded weights.

struct BenchModel {
  std::vector<uint8_t> bytes;  // built models: the file image (the Model borrows it)
  std::unique_ptr<Model> model;
  std::string source;          // "file:PATH" or "dit-b2 depth 12 ..."
  long file_bytes = 0;
  int64_t params = 0;
  int tokens = 0, hidden = 0, depth = 0;
  bool quantized_build = false;  // built with quantized Linear weights (no override needed)
};

// `precision` int8 / nvfp4 stores every Linear weight quantized (the same
// seeded values, quantized by the runtime's own quantizers).
Status BuildDitModel(const Options& o, const std::string& precision, BenchModel* bm, const std::string& export_dir) {
  const std::string kind = o.Str("dit", "b2");
  testing::DitConfig cfg = testing::DitB2Config();
  if (precision == "int8") cfg.linear_weights = testing::LinearWeights::kInt8;
  if (precision == "nvfp4") cfg.linear_weights = testing::LinearWeights::kNvfp4;
  bm->quantized_build = cfg.linear_weights != testing::LinearWeights::kF32;
  // FP32 Linear weights as edge-convert stores them by default (packed, read
  // in place) or row-major (packed at load, as older files).
  const std::string fp32_layout = o.Str("fp32-layout", "packed");
  if (fp32_layout != "packed" && fp32_layout != "row-major")
    return Status::Error(StatusCode::kInvalidArgument, "%s", "--fp32-layout must be packed or row-major");
  if (!bm->quantized_build && fp32_layout == "packed") cfg.linear_weights = testing::LinearWeights::kF32Packed;
  if (kind == "s2") {  // DiT-S/2 shape: D=384, 6 heads
    cfg.hidden = 384;
    cfg.heads = 6;
  } else if (kind != "b2") {
    return Status::Error(StatusCode::kInvalidArgument, "%s", "--dit must be b2 or s2");
  }
  cfg.depth = static_cast<int>(o.Int("depth", cfg.depth));
  cfg.image_size = static_cast<int>(o.Int("image", cfg.image_size));
  cfg.seed = static_cast<uint64_t>(o.Int("seed", 1));
  if (cfg.depth < 1 || cfg.image_size < cfg.patch || cfg.image_size % cfg.patch)
    return Status::Error(StatusCode::kInvalidArgument, "%s", "bad --depth or --image");
  ModelWriter w;
  std::vector<testing::NamedWeight> weights = testing::BuildDit(cfg, &w);
  w.SetName("dit-" + kind);
  EDGE_RETURN_IF_ERROR(w.Finish(&bm->bytes));
  bm->file_bytes = static_cast<long>(bm->bytes.size());
  bm->tokens = (cfg.image_size / cfg.patch) * (cfg.image_size / cfg.patch);
  bm->hidden = cfg.hidden;
  bm->depth = cfg.depth;
  for (const auto& nw : weights) bm->params += static_cast<int64_t>(nw.values.size());
  bm->source = "dit-" + kind + (bm->quantized_build ? " " + precision : std::string()) + " builder (depth " + std::to_string(cfg.depth) + ", hidden " +
               std::to_string(cfg.hidden) + ", " + std::to_string(bm->tokens) + " tokens, seed " +
               std::to_string(cfg.seed) + ")";
  if (!export_dir.empty()) {
    // Everything the peers need to run the same network: the weights as .npy
    // (bench/peers/dit_torch.py rebuilds the module from them) and a config.
    mkdir(export_dir.c_str(), 0755);
    mkdir((export_dir + "/weights").c_str(), 0755);
    FILE* f = std::fopen((export_dir + "/model.fb").c_str(), "wb");
    if (f == nullptr || std::fwrite(bm->bytes.data(), 1, bm->bytes.size(), f) != bm->bytes.size())
      return Status::Error(StatusCode::kIoError, "cannot write %s/model.fb", export_dir.c_str());
    std::fclose(f);
    for (const auto& nw : weights)
      EDGE_RETURN_IF_ERROR(WriteNpy(export_dir + "/weights/" + nw.name + ".npy", fb::DType::F32, nw.shape,
                                    nw.values.data()));
    f = std::fopen((export_dir + "/config.json").c_str(), "w");
    if (f == nullptr) return Status::Error(StatusCode::kIoError, "%s", "cannot write config.json");
    const Json config = {{"batch", cfg.batch}, {"in_channels", cfg.in_channels}, {"image_size", cfg.image_size},
                         {"patch", cfg.patch}, {"hidden", cfg.hidden}, {"depth", cfg.depth}, {"heads", cfg.heads},
                         {"mlp_ratio", cfg.mlp_ratio}, {"num_classes", cfg.num_classes}, {"freq_dim", cfg.freq_dim},
                         {"learn_sigma", cfg.learn_sigma}, {"seed", static_cast<int>(cfg.seed)}};
    std::fprintf(f, "%s\n", config.dump().c_str());
    std::fclose(f);
  }
  auto m = Model::LoadBuffer(bm->bytes.data(), bm->bytes.size(), /*copy=*/false);
  EDGE_RETURN_IF_ERROR(m.status());
  bm->model = std::move(m.value());
  return Status();
}

// A file is used as stored (precision then comes from the session override);
// a built DiT is built in the requested precision.
Status LoadBenchModel(const Options& o, const std::string& precision, BenchModel* bm) {
  const std::string path = o.Str("model", "");
  if (path.empty()) return BuildDitModel(o, precision, bm, precision == "int8" || precision == "nvfp4" ? "" : o.Str("export", ""));
  auto m = Model::LoadFile(path.c_str());
  EDGE_RETURN_IF_ERROR(m.status());
  bm->model = std::move(m.value());
  bm->source = "file:" + path;
  bm->file_bytes = FileBytes(path);
  for (int i = 0; i < bm->model->num_tensors(); ++i)
    if (bm->model->tensor(i).is_constant) bm->params += bm->model->tensor(i).num_elements;
  bm->depth = static_cast<int>(bm->model->cache_regions().size());
  return Status();
}

// Graph inputs: DIR/<name>.npy when --inputs DIR has it, else deterministic
// values (float latents ~ N(0,1), timestep 500.37, integer ids 3 or 0), the
// same ones --export writes, so every engine sees identical inputs.
struct InputSet {
  std::vector<std::vector<uint8_t>> data;
};

Status MakeInputs(const Model& m, const std::string& dir, InputSet* in) {
  std::mt19937 rng(101);
  std::normal_distribution<float> nd;
  for (int t : m.inputs()) {
    const TensorInfo& ti = m.tensor(t);
    std::vector<uint8_t> bytes(ti.bytes);
    bool loaded = false;
    if (!dir.empty()) {
      const std::string p = dir + "/" + ti.name + ".npy";
      if (FileBytes(p) >= 0) {
        auto a = ReadNpy(p);
        EDGE_RETURN_IF_ERROR(a.status());
        if (a.value().data.size() != ti.bytes || a.value().dtype != ti.dtype)
          return Status::Error(StatusCode::kInvalidArgument, "%s: dtype or size does not match the input", p.c_str());
        bytes = a.value().data;
        loaded = true;
      }
    }
    if (!loaded) {
      if (ti.dtype == fb::DType::F32) {
        float* f = reinterpret_cast<float*>(bytes.data());
        const bool is_time = ti.rank <= 1 && ti.num_elements <= 64;
        for (int64_t i = 0; i < ti.num_elements; ++i) f[i] = is_time ? 500.37f : nd(rng);
      } else if (ti.dtype == fb::DType::I64) {
        int64_t* v = reinterpret_cast<int64_t*>(bytes.data());
        const fb::Pipeline* p = m.pipeline();
        const int64_t cls = (p != nullptr && p->num_classes() > 3) ? 3 : 0;
        for (int64_t i = 0; i < ti.num_elements; ++i) v[i] = cls;
      } else {
        std::fill(bytes.begin(), bytes.end(), 0);
      }
    }
    in->data.push_back(std::move(bytes));
  }
  return Status();
}

Status WriteInputs(const Model& m, const InputSet& in, const std::string& dir) {
  for (size_t i = 0; i < m.inputs().size(); ++i) {
    const TensorInfo& ti = m.tensor(m.inputs()[i]);
    std::vector<int64_t> shape(ti.dims, ti.dims + ti.rank);
    EDGE_RETURN_IF_ERROR(WriteNpy(dir + "/" + ti.name + ".npy", ti.dtype, shape, in.data[i].data()));
  }
  return Status();
}

// ---------------------------------------------------------------------------
// Configurations.

struct Config {
  std::string precision = "fp32";  // as-stored | fp32 | int8 | nvfp4
  std::string cache = "none";      // step cache policy: none | delta[:threshold]
  double density = 1.0;            // attention density (1: dense)
  int threads = 1;

  std::string Label() const {
    char b[128];
    std::snprintf(b, sizeof(b), "%s/cache=%s/density=%g/t%d", precision.c_str(), cache.c_str(), density, threads);
    return b;
  }
  bool IsReferenceOf(const Config& c) const {
    return precision == "fp32" && cache == "none" && density == 1.0 && threads == c.threads;
  }
};

Result<PrecisionOverride> ParsePrecision(const std::string& p) {
  if (p == "as-stored") return PrecisionOverride::kAsStored;
  if (p == "fp32") return PrecisionOverride::kFp32;
  if (p == "int8") return PrecisionOverride::kInt8;
  if (p == "nvfp4") return PrecisionOverride::kNvfp4;
  return Status::Error(StatusCode::kInvalidArgument, "unknown precision '%s' (as-stored|fp32|int8|nvfp4)", p.c_str());
}

// "none" -> threshold 0 (off); "delta" -> 0.1; "delta:T" -> T. False if unknown.
bool ParseCache(const std::string& c, CacheOptions* out) {
  *out = CacheOptions();
  if (c == "none") return true;
  if (c == "delta") {
    out->threshold = 0.1f;
    return true;
  }
  if (c.compare(0, 6, "delta:") == 0) {
    char* end = nullptr;
    out->threshold = std::strtof(c.c_str() + 6, &end);
    return end != nullptr && *end == 0 && out->threshold >= 0.f;
  }
  return false;
}

// Reason the runtime cannot run this configuration, or "" if it can. The
// precision and density checks need a session (see SessionUnavailableReason).
std::string StaticUnavailableReason(const Config& c, const Model& m) {
  CacheOptions co;
  if (!ParseCache(c.cache, &co)) return "unknown step cache policy '" + c.cache + "' (none | delta[:threshold])";
  if (co.threshold > 0.f && m.cache_regions().empty()) return "the model has no cache regions";
  if (!(c.density > 0.0 && c.density <= 1.0)) return "attention density must be in (0, 1]";
  return "";
}

bool KernelMatches(const std::string& kernel, const std::string& precision) {
  if (precision == "int8") return kernel.find("qs8") != std::string::npos || kernel.find("int8") != std::string::npos;
  if (precision == "nvfp4") return kernel.find("nvfp4") != std::string::npos;
  return true;
}

// How many Linear ops run a kernel of the requested precision.
void CountQuantizedLinears(const Session& s, const std::string& precision, int* matched, int* linears) {
  *matched = *linears = 0;
  for (int i = 0; i < s.model().num_nodes(); ++i) {
    if (s.model().node(i).type != fb::OpType::Linear) continue;
    ++*linears;
    if (KernelMatches(s.kernel_name(i), precision)) ++*matched;
  }
}

// ---------------------------------------------------------------------------
// One configuration's session and its measurements.

class Runner {
 public:
  Status Init(const BenchModel& bm, const InputSet& in, const Config& c) {
    cfg_ = c;
    model_ = bm.model.get();
    SessionOptions so;
    so.num_threads = c.threads;
    so.profile = true;
    so.attention_density = c.density < 1.0 ? static_cast<float>(c.density) : 0.f;  // 0: dense
    EDGE_ASSIGN_OR_RETURN(so.precision, ParsePrecision(c.precision));
    if (bm.quantized_build) so.precision = PrecisionOverride::kAsStored;
    EDGE_ASSIGN_OR_RETURN(session_, Session::Create(model_, so));
    for (size_t i = 0; i < model_->inputs().size(); ++i)
      EDGE_RETURN_IF_ERROR(session_->SetInput(model_->inputs()[i], in.data[i].data(), in.data[i].size()));
    op_ms_.assign(model_->num_nodes(), {});
    return Status();
  }
  Session* session() { return session_.get(); }

  // One timed forward; keeps the per-op times and the output.
  Status Forward(bool record) {
    session_->ResetProfile();
    const double t0 = NowMs();
    EDGE_RETURN_IF_ERROR(session_->Invoke());
    const double ms = NowMs() - t0;
    if (!record) return Status();
    forward_ms_.push_back(ms);
    const auto& prof = session_->profile();
    for (int i = 0; i < model_->num_nodes(); ++i) op_ms_[i].push_back(prof[i].total_ms);
    const auto& regions = model_->cache_regions();
    if (!regions.empty()) {
      double sum = 0;
      for (const auto& r : regions)
        for (int i = r.first_op; i <= r.last_op; ++i) sum += prof[i].total_ms;
      block_ms_.push_back(sum / double(regions.size()));
    }
    return Status();
  }
  std::vector<float> Output() const {
    const int out = model_->outputs()[0];
    const TensorInfo& ti = model_->tensor(out);
    const float* p = static_cast<const float*>(session_->data(out));
    return std::vector<float>(p, p + ti.num_elements);
  }
  std::vector<int64_t> OutputShape() const {
    const TensorInfo& ti = model_->tensor(model_->outputs()[0]);
    return std::vector<int64_t>(ti.dims, ti.dims + ti.rank);
  }

  // A full sampling run through the pipeline; per-step times in step_ms_.
  Status Generate(int steps, std::vector<float>* out, double* total_ms) {
    EDGE_ASSIGN_OR_RETURN(std::unique_ptr<Pipeline> p, Pipeline::Create(session_.get()));
    GenerateOptions g;
    ParseCache(cfg_.cache, &g.cache);
    g.steps = steps;
    g.seed = 7;
    g.num_samples = 1;
    g.user = this;
    g.on_step = [](void* user, int, int, int, int, double ms) {
      static_cast<Runner*>(user)->step_ms_.push_back(ms);
    };
    step_ms_.clear();
    out->assign(p->latent_elements(), 0.f);
    const double t0 = NowMs();
    EDGE_RETURN_IF_ERROR(p->Generate(g, out->data()));
    *total_ms = NowMs() - t0;
    latent_shape_.assign(p->latent_shape().begin(), p->latent_shape().end());
    blocks_computed_ = p->stats().blocks_computed;
    blocks_skipped_ = p->stats().blocks_skipped;
    return Status();
  }

  const Config& config() const { return cfg_; }
  void set_cache(const std::string& cache) { cfg_.cache = cache; }
  const std::vector<double>& forward_ms() const { return forward_ms_; }
  const std::vector<double>& block_ms() const { return block_ms_; }
  const std::vector<double>& step_ms() const { return step_ms_; }
  const std::vector<int64_t>& latent_shape() const { return latent_shape_; }
  // The last generation's block runs, into a JSON object.
  void AddCacheStats(Json* j) const {
    (*j)["blocks_computed"] = blocks_computed_;
    (*j)["blocks_skipped"] = blocks_skipped_;
  }

  // Per-op medians/min/max and per-op-type medians.
  Json OpsJson() const {
    Json o = Json::array();
    for (int i = 0; i < model_->num_nodes(); ++i) {
      const NodeInfo& n = model_->node(i);
      o.push_back({{"name", n.name}, {"type", fb::EnumNameOpType(n.type)}, {"kernel", session_->kernel_name(i)},
                   {"block", BlockOf(i)}, {"ms", JsonStats(Summarize(op_ms_[i]))}});
    }
    return o;
  }
  Json OpTypesJson() const {
    std::map<std::string, std::vector<double>> per_type;
    const size_t runs = forward_ms_.size();
    for (int i = 0; i < model_->num_nodes(); ++i) {
      auto& v = per_type[fb::EnumNameOpType(model_->node(i).type)];
      v.resize(runs, 0.0);
      for (size_t r = 0; r < runs && r < op_ms_[i].size(); ++r) v[r] += op_ms_[i][r];
    }
    Json o = Json::object();
    for (const auto& kv : per_type) o[kv.first] = JsonStats(Summarize(kv.second));
    return o;
  }

 private:
  int BlockOf(int op) const {
    const auto& regions = model_->cache_regions();
    for (size_t r = 0; r < regions.size(); ++r)
      if (op >= regions[r].first_op && op <= regions[r].last_op) return static_cast<int>(r);
    return -1;
  }

  Config cfg_;
  const Model* model_ = nullptr;
  std::unique_ptr<Session> session_;
  std::vector<std::vector<double>> op_ms_;
  std::vector<double> forward_ms_, block_ms_, step_ms_;
  std::vector<int64_t> latent_shape_;
  int64_t blocks_computed_ = 0, blocks_skipped_ = 0;
};

// What the session actually selected must match the configuration: the
// precision override must give at least one Linear a quantized kernel, and a
// density < 1 must give the Attention ops a sparse kernel; otherwise the
// configuration would silently run something else.
std::string SessionUnavailableReason(Runner* r, const Config& c, int* matched, int* linears) {
  const Session& s = *r->session();
  if (c.density < 1.0) {
    for (int i = 0; i < s.model().num_nodes(); ++i) {
      if (s.model().node(i).type != fb::OpType::Attention) continue;
      if (std::strstr(s.kernel_name(i), "sparse") == nullptr)
        return std::string("attention density < 1 did not select a sparse attention kernel (got ") +
               s.kernel_name(i) + ")";
    }
  }
  if (c.precision == "fp32" || c.precision == "as-stored") return "";
  CountQuantizedLinears(s, c.precision, matched, linears);
  if (*matched == 0)
    return "no Linear runs a " + c.precision + " kernel under the precision override (" +
           std::to_string(*linears) + " Linear ops; quantized weights or the override are not available)";
  return "";
}

Json ModelJson(const BenchModel& bm) {
  const Model& m = *bm.model;
  return {{"source", bm.source}, {"name", m.name()}, {"file_bytes", bm.file_bytes},
          {"constant_bytes", m.constant_bytes()}, {"params", bm.params}, {"ops", m.num_nodes()},
          {"blocks", m.cache_regions().size()}, {"tokens", bm.tokens}, {"hidden", bm.hidden}};
}

// Sizes of the shipped artifacts next to this binary (build tree layout).
Json BinariesJson() {
  const std::string exe = SelfExePath();
  const std::string bench_dir = exe.substr(0, exe.rfind('/'));
  const std::string build = bench_dir.substr(0, bench_dir.rfind('/'));
  const std::pair<const char*, std::string> files[] = {
      {"edge-bench", exe},
      {"edge-run", build + "/runtime/edge-run"},
      {"libedge_runtime.a", build + "/runtime/libedge_runtime.a"},
      {"libedge_ops.a", build + "/ops/libedge_ops.a"},
  };
  Json o = Json::object();
  for (const auto& f : files) {
    const long b = FileBytes(f.second);
    if (b >= 0) o[f.first] = b;
  }
  return o;
}

// ---------------------------------------------------------------------------
// Serve mode: one configuration, driven line by line over stdin/stdout.

void PrintServeHelp() {
  std::fprintf(stderr,
               "serve protocol (one JSON line answers each command):\n"
               "  forward N        N timed forwards -> {\"forward_ms\":[..],\"block_ms\":[..]}\n"
               "  warmup N         N untimed forwards\n"
               "  save PATH        last forward's output as .npy\n"
               "  generate S PATH [CACHE]  S-step sampling run (CACHE: none | delta[:threshold])\n"
               "                   -> {\"total_ms\":..,\"step_ms\":[..],\"blocks_skipped\":..}, latents to PATH\n"
               "  ops              per-op and per-op-type stats of all timed forwards\n"
               "  quit\n");
}

int Serve(const Options& o, const BenchModel& bm, const InputSet& in) {
  Config c;
  c.threads = static_cast<int>(o.Int("threads", 1));
  c.precision = o.Str("precision", "fp32");
  c.cache = o.Str("cache", "none");
  c.density = o.Double("density", 1.0);
  std::string reason = StaticUnavailableReason(c, *bm.model);
  if (!reason.empty()) {
    PrintJsonLine({{"ready", false}, {"reason", reason}});
    return 0;
  }
  Runner r;
  Status st = r.Init(bm, in, c);
  if (!st.ok()) return Fail(st.message());
  int matched = 0, linears = 0;
  reason = SessionUnavailableReason(&r, c, &matched, &linears);
  if (!reason.empty()) {
    PrintJsonLine({{"ready", false}, {"reason", reason}});
    return 0;
  }
  PrintJsonLine({{"ready", true}, {"model", ModelJson(bm)}, {"arena_bytes", r.session()->arena_bytes()},
                 {"peak_rss_bytes", PeakRssBytes()}});
  std::string line;
  while (std::getline(std::cin, line)) {
    char cmd[32] = {0}, path[4096] = {0};
    long n = 0;
    const int fields = std::sscanf(line.c_str(), "%31s %ld %4095s", cmd, &n, path);
    Json reply;
    if (fields >= 2 && !std::strcmp(cmd, "forward")) {
      const size_t before = r.forward_ms().size();
      for (long i = 0; i < n && st.ok(); ++i) st = r.Forward(true);
      std::vector<double> f(r.forward_ms().begin() + before, r.forward_ms().end());
      std::vector<double> b;
      if (!r.block_ms().empty()) b.assign(r.block_ms().begin() + before, r.block_ms().end());
      reply = {{"forward_ms", JsonArray(f)}, {"block_ms", JsonArray(b)}};
    } else if (fields >= 2 && !std::strcmp(cmd, "warmup")) {
      for (long i = 0; i < n && st.ok(); ++i) st = r.Forward(false);
      reply = {{"ok", true}};
    } else if (fields >= 1 && !std::strcmp(cmd, "save")) {
      std::sscanf(line.c_str(), "%31s %4095s", cmd, path);
      std::vector<float> out = r.Output();
      st = WriteNpy(path, fb::DType::F32, r.OutputShape(), out.data());
      reply = {{"ok", true}};
    } else if (fields >= 3 && !std::strcmp(cmd, "generate")) {
      // Optional 4th field: the step cache policy of this run.
      char cache[64] = {0};
      if (std::sscanf(line.c_str(), "%31s %ld %4095s %63s", cmd, &n, path, cache) == 4) {
        CacheOptions co;
        if (!ParseCache(cache, &co)) st = Status::Error(StatusCode::kInvalidArgument, "bad cache policy %s", cache);
        else r.set_cache(cache);
      }
      std::vector<float> out;
      double total = 0;
      if (st.ok()) st = r.Generate(static_cast<int>(n), &out, &total);
      if (st.ok()) {
        std::vector<int64_t> shape = {1};
        shape.insert(shape.end(), r.latent_shape().begin(), r.latent_shape().end());
        st = WriteNpy(path, fb::DType::F32, shape, out.data());
      }
      reply = {{"total_ms", JsonNumber(total)}, {"step_ms", JsonArray(r.step_ms())}};
      r.AddCacheStats(&reply);
    } else if (fields >= 1 && !std::strcmp(cmd, "ops")) {
      reply = {{"ops", r.OpsJson()}, {"op_types", r.OpTypesJson()}, {"peak_rss_bytes", PeakRssBytes()}};
    } else if (fields >= 1 && !std::strcmp(cmd, "quit")) {
      break;
    } else {
      PrintServeHelp();
      reply = {{"error", "unknown command"}};
    }
    if (!st.ok()) reply = {{"error", st.message()}};
    PrintJsonLine(reply);
    if (!st.ok()) return 1;
  }
  return 0;
}

// ---------------------------------------------------------------------------
// Standalone mode: the whole grid, one JSON report.

void Usage() {
  std::fprintf(stderr,
               "usage: edge-bench model [--model FILE | --dit b2|s2 [--depth N] [--image S] [--seed S]\n"
               "                         [--fp32-layout packed|row-major]]\n"
               "         [--threads 1,2] [--precision fp32,int8,nvfp4] [--cache none,delta:0.1] [--density 1,0.25]\n"
               "         [--warmup W] [--runs R] [--steps S] [--inputs DIR] [--json] [--out FILE] [--quick]\n"
               "       edge-bench model ... --serve | --export DIR\n"
               "--quick: a 1-block DiT-B at 256 tokens, 2 runs, 2 steps (a smoke run, not a timing)\n");
}

// The options of `edge-bench model`.
const std::vector<std::string> kModelValues = {"model",   "dit",   "depth",  "image", "seed",   "fp32-layout",
                                               "threads", "precision", "cache", "density", "warmup", "runs",
                                               "steps",   "inputs", "out",   "export"};
const std::vector<std::string> kModelFlags = {"json", "quick", "serve", "help"};

int RunGrid(const Options& o, const BenchModel& bm, const InputSet& in) {
  const bool quick = o.Has("quick");
  const int warmup = static_cast<int>(o.Int("warmup", 1));
  const int runs = static_cast<int>(o.Int("runs", quick ? 2 : 3));
  const int steps = static_cast<int>(o.Int("steps", quick ? 2 : 20));
  if (runs < 1 || warmup < 0 || steps < 0) return Fail("--runs >= 1, --warmup >= 0, --steps >= 0");

  std::vector<Config> grid;
  for (const std::string& t : o.List("threads", "1"))
    for (const std::string& p : o.List("precision", "fp32,int8,nvfp4"))
      for (const std::string& c : o.List("cache", "none"))
        for (const std::string& d : o.List("density", "1")) {
          Config cfg;
          cfg.threads = std::atoi(t.c_str());
          cfg.precision = p;
          cfg.cache = c;
          cfg.density = std::strtod(d.c_str(), nullptr);
          if (cfg.threads < 1) return Fail("--threads values must be >= 1");
          if (!ParsePrecision(p).ok()) return Fail(ParsePrecision(p).status().message());
          grid.push_back(cfg);
        }

  struct Outputs {
    Config cfg;
    std::vector<float> forward, generate;
  };
  std::vector<Outputs> refs;
  Json entries = Json::array();
  const bool can_generate = bm.model->pipeline() != nullptr && steps > 0;
  std::map<std::string, std::unique_ptr<BenchModel>> quantized;  // built DiTs per precision
  const BenchModel& fp32_model = bm;
  for (const Config& c : grid) {
    const BenchModel* cm = &fp32_model;
    if (!o.Has("model") && (c.precision == "int8" || c.precision == "nvfp4")) {
      auto& slot = quantized[c.precision];
      if (!slot) {
        slot.reset(new BenchModel());
        if (Status st = LoadBenchModel(o, c.precision, slot.get()); !st.ok()) return Fail(st.message());
      }
      cm = slot.get();
    }
    const BenchModel& bm = *cm;
    Json e = {{"precision", c.precision}, {"cache", c.cache}, {"attention_density", JsonNumber(c.density)},
              {"threads", c.threads}};
    std::string reason = StaticUnavailableReason(c, *bm.model);
    Runner r;
    int matched = 0, linears = 0;
    if (reason.empty()) {
      Status st = r.Init(bm, in, c);
      if (!st.ok()) return Fail(c.Label() + ": " + st.message());
      reason = SessionUnavailableReason(&r, c, &matched, &linears);
    }
    if (!reason.empty()) {
      std::fprintf(stderr, "%-40s not available: %s\n", c.Label().c_str(), reason.c_str());
      e["available"] = false;
      e["reason"] = reason;
      entries.push_back(std::move(e));
      continue;
    }
    for (int i = 0; i < warmup; ++i)
      if (Status st = r.Forward(false); !st.ok()) return Fail(st.message());
    for (int i = 0; i < runs; ++i)
      if (Status st = r.Forward(true); !st.ok()) return Fail(st.message());
    Outputs outs{c, r.Output(), {}};
    double gen_ms = 0;
    if (can_generate)
      if (Status st = r.Generate(steps, &outs.generate, &gen_ms); !st.ok()) return Fail(st.message());
    const Stats fwd = Summarize(r.forward_ms()), blk = Summarize(r.block_ms()), stp = Summarize(r.step_ms());
    std::fprintf(stderr, "%-40s forward %8.1f ms (min %.1f max %.1f)  block %7.2f ms  %d steps %9.1f ms\n",
                 c.Label().c_str(), fwd.median, fwd.min, fwd.max, blk.median, can_generate ? steps : 0, gen_ms);
    e["available"] = true;
    e["forward_ms"] = JsonStats(fwd);
    e["forward_runs_ms"] = JsonArray(r.forward_ms());
    e["block_ms"] = JsonStats(blk);
    if (can_generate) {
      e["steps"] = steps;
      e["generate_ms"] = JsonNumber(gen_ms);
      e["step_ms"] = JsonStats(stp);
      r.AddCacheStats(&e);
    }
    e["model_file_bytes"] = bm.file_bytes;
    e["arena_bytes"] = r.session()->arena_bytes();
    e["peak_rss_bytes_so_far"] = PeakRssBytes();
    if (c.precision != "fp32" && c.precision != "as-stored") {
      e["quantized_linears"] = matched;
      e["linears"] = linears;
    }
    // Quality against the FP32 configuration with the same thread count
    // (grids list fp32 first; a missing reference leaves quality out).
    for (const Outputs& ref : refs) {
      if (!ref.cfg.IsReferenceOf(c)) continue;
      const size_t n = outs.forward.size();
      Json q = {{"reference", ref.cfg.Label()},
                {"forward_psnr_db", JsonNumber(Psnr(ref.forward.data(), outs.forward.data(), n))},
                {"forward_rel_l2", JsonNumber(RelL2(ref.forward.data(), outs.forward.data(), n))}};
      if (can_generate) {
        const size_t g = outs.generate.size();
        q["generate_psnr_db"] = JsonNumber(Psnr(ref.generate.data(), outs.generate.data(), g));
        q["generate_rel_l2"] = JsonNumber(RelL2(ref.generate.data(), outs.generate.data(), g));
      }
      q["note"] = "PSNR null means identical outputs (infinite PSNR)";
      e["quality"] = std::move(q);
      break;
    }
    e["op_types_ms"] = r.OpTypesJson();
    e["ops"] = r.OpsJson();
    if (c.precision == "fp32" && c.cache == "none" && c.density == 1.0) refs.push_back(std::move(outs));
    entries.push_back(e);
  }

  const Json report = {{"schema", kSchema},
                       {"command", "edge-bench model " + o.command()},
                       {"machine", MachineJson()},
                       {"model", ModelJson(bm)},
                       {"binaries_bytes", BinariesJson()},
                       {"settings", {{"warmup", warmup}, {"runs", runs}, {"steps", can_generate ? steps : 0},
                                     {"quick", quick}}},
                       {"peak_rss_bytes", PeakRssBytes()},
                       {"configs", std::move(entries)}};
  const std::string j = report.dump(1, ' ', false, Json::error_handler_t::replace) + "\n";
  const std::string out = o.Str("out", "");
  if (!out.empty()) {
    FILE* f = std::fopen(out.c_str(), "w");
    if (f == nullptr || std::fputs(j.c_str(), f) < 0) return Fail("cannot write " + out);
    std::fclose(f);
  }
  if (o.Has("json")) std::fputs(j.c_str(), stdout);
  return 0;
}

}  // namespace

int RunModelBench(int argc, char** argv) {
  Options o(argc, argv, kModelValues, kModelFlags);
  if (!o.ok() || o.Has("help")) {
    if (!o.ok()) std::fprintf(stderr, "edge-bench model: %s\n", o.error().c_str());
    Usage();
    return o.ok() ? 0 : 2;
  }
  // --quick: a smoke run of the whole path at a small size.
  Options q = o;
  BenchModel bm;
  if (o.Has("quick") && !o.Has("model")) {
    std::vector<char*> args(argv, argv + argc);
    static char depth[] = "--depth", one[] = "1", image[] = "--image", i32[] = "32";
    if (!o.Has("depth")) { args.push_back(depth); args.push_back(one); }
    if (!o.Has("image")) { args.push_back(image); args.push_back(i32); }
    q = Options(static_cast<int>(args.size()), args.data(), kModelValues, kModelFlags);
  }
  // A served configuration builds its model in its own precision; the grid
  // starts from FP32 and builds quantized models as it reaches them.
  Status st = LoadBenchModel(q, q.Has("serve") ? q.Str("precision", "fp32") : "fp32", &bm);
  if (!st.ok()) return Fail(st.message());
  InputSet in;
  st = MakeInputs(*bm.model, q.Str("inputs", ""), &in);
  if (!st.ok()) return Fail(st.message());
  if (q.Has("export")) {
    st = WriteInputs(*bm.model, in, q.Str("export", ""));
    if (!st.ok()) return Fail(st.message());
    if (!q.Has("serve") && !q.Has("json") && !q.Has("out")) return 0;
  }
  if (q.Has("serve")) return Serve(q, bm, in);
  return RunGrid(q, bm, in);
}

}  // namespace bench
}  // namespace edge
