// The C API over Model / Session / Pipeline.
#include "runtime/edge.h"

#include <cstring>
#include <memory>

#include "runtime/c_api_settings.h"
#include "runtime/cond_encoder.h"
#include "runtime/decoder.h"
#include "runtime/model.h"
#include "runtime/pipeline.h"
#include "runtime/session.h"
#include "runtime/shared_arena.h"

struct edge_model {
  std::unique_ptr<edge::Model> model;
};

struct edge_session {
  std::unique_ptr<edge::Session> session;
  std::unique_ptr<edge::Pipeline> pipeline;  // created on first generate
  // A latent model's decoder graph (graph 0 sessions only), on one arena
  // shared with the denoiser; the Decoder is created on first use.
  std::unique_ptr<edge::Session> decoder_session;
  std::unique_ptr<edge::Decoder> decoder;
  edge::SharedArena arena;
  edge::PromptEncoder prompt;  // the condition encoder, opened on first use
};

namespace {

thread_local char g_last_error[256] = "";

edge_status Report(const edge::Status& s) {
  if (s.ok()) return EDGE_OK;
  std::snprintf(g_last_error, sizeof(g_last_error), "%s", s.message());
  return static_cast<edge_status>(static_cast<int>(s.code()));
}

edge_status Fail(edge_status code, const char* msg) {
  std::snprintf(g_last_error, sizeof(g_last_error), "%s", msg);
  return code;
}

edge_status LoadModel(const char* path, bool read_into_memory, edge_model** out) {
  if (path == nullptr || out == nullptr) return Fail(EDGE_INVALID_ARGUMENT, "edge_model_load: null argument");
  *out = nullptr;
  edge::LoadOptions options;
  options.read_into_memory = read_into_memory;
  auto r = edge::Model::LoadFile(path, options);
  if (!r.ok()) return Report(r.status());
  edge_model* m = new (std::nothrow) edge_model();
  if (m == nullptr) return Fail(EDGE_OUT_OF_MEMORY, "edge_model_load: out of memory");
  m->model = std::move(r.value());
  *out = m;
  return EDGE_OK;
}

}  // namespace

extern "C" {

const char* edge_last_error(void) { return g_last_error; }

edge_status edge_model_load(const char* path, edge_model** out) { return LoadModel(path, false, out); }

edge_status edge_model_load_in_memory(const char* path, edge_model** out) {
  return LoadModel(path, true, out);
}

void edge_model_free(edge_model* model) { delete model; }

void edge_session_options_default(edge_session_options* o) {
  if (o == nullptr) return;
  o->num_threads = 1;
  o->profile = 0;
  o->precision = 0;
  o->attention_precision = -1;
  o->attention_density = -1.f;
  o->max_arena_bytes = 0;
  o->check_finite = 0;
  edge::DefaultSessionSettings(o);
}

edge_status edge_session_create(const edge_model* model, const edge_session_options* options,
                                edge_session** out) {
  return edge_session_create_graph(model, nullptr, options, out);
}

int edge_model_num_graphs(const edge_model* model) { return model == nullptr ? 0 : model->model->num_graphs(); }

const char* edge_model_graph_name(const edge_model* model, int graph) {
  if (model == nullptr || graph < 0 || graph >= model->model->num_graphs()) return nullptr;
  return model->model->graph(graph)->graph_name();
}

edge_status edge_session_create_graph(const edge_model* model, const char* graph, const edge_session_options* options,
                                      edge_session** out) {
  if (model == nullptr || out == nullptr) return Fail(EDGE_INVALID_ARGUMENT, "edge_session_create: null argument");
  *out = nullptr;
  const edge::Model& m = *model->model;
  const int g = graph == nullptr || graph[0] == '\0' ? 0 : m.FindGraph(graph);
  if (g < 0) return Fail(EDGE_INVALID_ARGUMENT, "edge_session_create_graph: the model has no graph of that name");
  edge::SessionOptions so;
  if (options != nullptr) {
    so.num_threads = options->num_threads;
    so.profile = options->profile != 0;
    if (options->precision < 0 || options->precision > 3) {
      return Fail(EDGE_INVALID_ARGUMENT, "edge_session_create: precision must be 0..3");
    }
    so.precision = static_cast<edge::PrecisionOverride>(options->precision);
    if (options->attention_precision < -1 || options->attention_precision > 1) {
      return Fail(EDGE_INVALID_ARGUMENT, "edge_session_create: attention_precision must be -1, 0 or 1");
    }
    so.attention_precision = options->attention_precision;
    if (!(options->attention_density <= 1.f)) {  // also refuses NaN
      return Fail(EDGE_INVALID_ARGUMENT, "edge_session_create: attention_density must be <= 1");
    }
    so.attention_density = options->attention_density;
    so.max_arena_bytes = options->max_arena_bytes;
    so.check_finite = options->check_finite != 0;
    if (const char* bad = edge::ApplySessionSettings(*options, &so)) return Fail(EDGE_INVALID_ARGUMENT, bad);
  }
  // Graph 0 of a latent model also prepares its decoder, on one arena of
  // the larger plan (the decoder runs after the sampling loop).
  const edge::GraphLinkInfo* link = g == 0 ? m.decoder_link() : nullptr;
  so.external_arena = link != nullptr;
  auto r = edge::Session::Create(m.graph(g), so);
  if (!r.ok()) return Report(r.status());
  std::unique_ptr<edge_session> s(new (std::nothrow) edge_session());
  if (s == nullptr) return Fail(EDGE_OUT_OF_MEMORY, "edge_session_create: out of memory");
  s->session = std::move(r.value());
  if (link != nullptr) {
    auto d = edge::Session::Create(m.graph(link->to_graph), so);
    if (!d.ok()) {
      edge::Status ds = d.status();
      return Report(ds.Prepend("decoder: "));
    }
    s->decoder_session = std::move(d.value());
    edge::Session* both[2] = {s->session.get(), s->decoder_session.get()};
    const edge::Status bs = s->arena.Bind(both, 2, so.max_arena_bytes);
    if (!bs.ok()) return Report(bs);
  }
  *out = s.release();
  return EDGE_OK;
}

void edge_session_free(edge_session* session) { delete session; }

edge_status edge_session_set_input(edge_session* s, const char* name, const void* data, size_t bytes) {
  if (s == nullptr || name == nullptr) return Fail(EDGE_INVALID_ARGUMENT, "edge_session_set_input: null argument");
  const int t = s->session->model().FindTensor(name);
  if (t < 0) return Fail(EDGE_INVALID_ARGUMENT, "edge_session_set_input: no tensor with that name");
  return Report(s->session->SetInput(t, data, bytes));
}

edge_status edge_session_invoke(edge_session* s) {
  if (s == nullptr) return Fail(EDGE_INVALID_ARGUMENT, "edge_session_invoke: null session");
  return Report(s->session->Invoke());
}

edge_status edge_session_get_output(edge_session* s, const char* name, const void** data, size_t* bytes) {
  if (s == nullptr || name == nullptr || data == nullptr || bytes == nullptr) {
    return Fail(EDGE_INVALID_ARGUMENT, "edge_session_get_output: null argument");
  }
  const edge::Model& m = s->session->model();
  const int t = m.FindTensor(name);
  bool is_output = false;
  for (int o : m.outputs()) is_output |= (o == t);
  if (t < 0 || !is_output) return Fail(EDGE_INVALID_ARGUMENT, "edge_session_get_output: no graph output with that name");
  *data = s->session->data(t);
  *bytes = m.tensor(t).bytes;
  return EDGE_OK;
}

int edge_session_num_ops(const edge_session* s) { return s == nullptr ? 0 : s->session->model().num_nodes(); }

edge_status edge_session_op_profile(const edge_session* s, int op, double* total_ms, const char** kernel_name) {
  if (s == nullptr || op < 0 || op >= s->session->model().num_nodes()) {
    return Fail(EDGE_INVALID_ARGUMENT, "edge_session_op_profile: bad op index");
  }
  if (total_ms != nullptr) *total_ms = s->session->profile()[op].total_ms;
  if (kernel_name != nullptr) *kernel_name = s->session->kernel_name(op);
  return EDGE_OK;
}

void edge_generate_options_default(edge_generate_options* o) {
  if (o == nullptr) return;
  std::memset(o, 0, sizeof(*o));
  o->guidance = -1.f;
  o->num_samples = 1;
  o->cache_threshold = 0.f;
  o->cache_scale = 1.f;
  o->cache_policy = -2;  // the model's tuned default (none if it has none)
  o->guidance_reuse_interval = -1;  // the model's stored setting
  o->guidance_reuse_warmup = 2;
  o->guidance_reuse_order = 1;
  edge::DefaultGenerateSettings(o);
}

static edge_status EnsurePipeline(edge_session* s) {
  if (s->pipeline != nullptr) return EDGE_OK;
  auto r = edge::Pipeline::Create(s->session.get());
  if (!r.ok()) return Report(r.status());
  s->pipeline = std::move(r.value());
  return EDGE_OK;
}

size_t edge_latent_elements(edge_session* s) {
  if (s == nullptr || EnsurePipeline(s) != EDGE_OK) return 0;
  return s->pipeline->latent_elements();
}

int edge_latent_shape(edge_session* s, int64_t* dims, int max_dims) {
  if (s == nullptr || (dims == nullptr && max_dims > 0)) {
    Fail(EDGE_INVALID_ARGUMENT, "edge_latent_shape: null argument");
    return -1;
  }
  if (EnsurePipeline(s) != EDGE_OK) return -1;
  const auto& shape = s->pipeline->latent_shape();
  for (int i = 0; i < max_dims && i < static_cast<int>(shape.size()); ++i) dims[i] = shape[i];
  return static_cast<int>(shape.size());
}

// The prompt stage of edge_generate: token ids through the model's condition
// encoder into num_samples embeddings (in *out, allocated here: outside any
// invoke).
static edge_status EncodePromptOptions(edge_session* s, const edge_generate_options& o,
                                       std::unique_ptr<float[]>* out) {
  if (o.condition != nullptr) return Fail(EDGE_INVALID_ARGUMENT, "edge_generate: give condition or prompt_tokens, not both");
  if (o.prompt_tokens == nullptr || o.prompt_lengths == nullptr) {
    return Fail(EDGE_INVALID_ARGUMENT, "edge_generate: num_prompts without prompt_tokens and prompt_lengths");
  }
  const size_t E = s->pipeline->condition_elements();
  if (E == 0) return Fail(EDGE_INVALID_ARGUMENT, "edge_generate: this model takes no condition embedding");
  if (s->prompt.encoder == nullptr) {
    auto r = edge::OpenPromptEncoder(s->session->model(), s->session->options(), E);
    if (!r.ok()) return Report(r.status());
    s->prompt = std::move(r.value());
  }
  out->reset(new (std::nothrow) float[size_t(o.num_samples) * E]);
  if (*out == nullptr) return Fail(EDGE_OUT_OF_MEMORY, "edge_generate: out of memory for the prompt embeddings");
  return Report(edge::EncodePrompts(s->prompt.encoder.get(), o.prompt_tokens, o.prompt_lengths, o.num_prompts,
                                    o.num_samples, out->get()));
}

edge_status edge_generate(edge_session* s, const edge_generate_options* options, float* out, size_t out_count) {
  if (s == nullptr || options == nullptr || out == nullptr) return Fail(EDGE_INVALID_ARGUMENT, "edge_generate: null argument");
  const edge_status st = EnsurePipeline(s);
  if (st != EDGE_OK) return st;
  if (options->num_samples < 1 ||
      out_count < size_t(options->num_samples) * s->pipeline->latent_elements()) {
    return Fail(EDGE_INVALID_ARGUMENT, "edge_generate: output buffer too small for num_samples latents");
  }
  edge::GenerateOptions g;
  g.steps = options->steps;
  g.seed = options->seed;
  g.guidance = options->guidance;
  g.num_samples = options->num_samples;
  if (options->classes != nullptr) g.classes.assign(options->classes, options->classes + options->num_samples);
  g.noise = options->noise;
  g.condition = options->condition;
  std::unique_ptr<float[]> encoded;
  if (options->num_prompts != 0) {
    const edge_status es = EncodePromptOptions(s, *options, &encoded);
    if (es != EDGE_OK) return es;
    g.condition = encoded.get();
  }
  edge::CacheRequest q;
  if (options->cache_policy == -2) {
    q.model_default = true;
  } else if (options->cache_policy == 0) {
    q.policy = options->cache_threshold > 0.f ? edge::CachePolicy::kTdc : edge::CachePolicy::kNone;
    q.threshold = options->cache_threshold;
  } else if (options->cache_policy == -1) {
    q.automatic = true;
    q.threshold = options->cache_threshold;
  } else if (options->cache_policy > 0 && options->cache_policy < edge::kNumCachePolicies) {
    q.policy = static_cast<edge::CachePolicy>(options->cache_policy);
    q.threshold = options->cache_threshold;
  } else {
    return Fail(EDGE_INVALID_ARGUMENT, "edge_generate: cache_policy must be in [-2, 6]");
  }
  q.scale = options->cache_scale == 0.f ? 1.f : options->cache_scale;
  if (options->cache_interval < 0) return Fail(EDGE_INVALID_ARGUMENT, "edge_generate: cache_interval must be >= 0");
  q.interval = options->cache_interval;
  if (const char* bad = edge::ApplyCacheRequestSettings(*options, &q)) return Fail(EDGE_INVALID_ARGUMENT, bad);
  const edge::Status cs = edge::ResolveCacheOptions(s->session->model(), q, &g.cache, nullptr);
  if (!cs.ok()) return Report(cs);
  edge::ApplyCacheStorageSettings(*options, &g.cache);
  g.guidance_reuse.interval = options->guidance_reuse_interval;
  g.guidance_reuse.warmup_steps = options->guidance_reuse_warmup;
  g.guidance_reuse.order = options->guidance_reuse_order;
  return Report(s->pipeline->Generate(g, out));
}

static edge_status EnsureDecoder(edge_session* s) {
  if (s->decoder != nullptr) return EDGE_OK;
  if (s->decoder_session == nullptr) return Fail(EDGE_UNSUPPORTED, "the model has no decoder graph");
  const edge_status st = EnsurePipeline(s);
  if (st != EDGE_OK) return st;
  const edge::Model& m = s->session->model();
  auto r = edge::Decoder::Create(m, s->decoder_session.get(), *m.decoder_link(), s->pipeline->latent_shape(), -1);
  if (!r.ok()) return Report(r.status());
  s->decoder = std::move(r.value());
  return EDGE_OK;
}

size_t edge_decoded_elements(edge_session* s) {
  if (s == nullptr || EnsureDecoder(s) != EDGE_OK) return 0;
  return s->decoder->output_elements();
}

edge_status edge_generate_decoded(edge_session* s, const edge_generate_options* options, float* out,
                                  size_t out_count) {
  if (s == nullptr || options == nullptr || out == nullptr) {
    return Fail(EDGE_INVALID_ARGUMENT, "edge_generate_decoded: null argument");
  }
  edge_status st = EnsureDecoder(s);
  if (st != EDGE_OK) return st;
  const size_t L = s->pipeline->latent_elements(), P = s->decoder->output_elements();
  if (options->num_samples < 1 || out_count < size_t(options->num_samples) * P) {
    return Fail(EDGE_INVALID_ARGUMENT, "edge_generate_decoded: output buffer too small for num_samples images");
  }
  std::unique_ptr<float[]> latents(new (std::nothrow) float[size_t(options->num_samples) * L]);
  if (!latents) return Fail(EDGE_OUT_OF_MEMORY, "edge_generate_decoded: out of memory for the latents");
  st = edge_generate(s, options, latents.get(), size_t(options->num_samples) * L);
  if (st != EDGE_OK) return st;
  for (int k = 0; k < options->num_samples; ++k) {
    st = Report(s->decoder->Decode(latents.get() + size_t(k) * L, out + size_t(k) * P));
    if (st != EDGE_OK) return st;
  }
  return EDGE_OK;
}

}  // extern "C"
