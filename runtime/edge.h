/* edge: C API of the diffusion-transformer runtime.
 *
 * Every function returns an edge_status; on failure edge_last_error() gives a
 * message naming what was wrong (thread-local, valid until the next call on
 * the same thread). Objects are opaque and freed with their *_free call.
 *
 * ABI rule. Functions are only added, never changed or removed. An options
 * struct only grows at the end: fields are never removed or reordered, and a
 * new field's default keeps the behaviour of the release before it. Always
 * fill an options struct with its *_default() function and then set the
 * fields you need; code written so builds unchanged against later releases.
 * A program holds the struct size of the edge.h it was compiled with, so a
 * release that grows a struct raises EDGE_VERSION_MINOR, and the shared
 * library's soname carries MAJOR.MINOR while MAJOR is 0: a program never
 * meets a library whose structs are larger than its own. The static library
 * (the default) is linked into the program and has no such concern.
 */
#ifndef EDGE_EDGE_H_
#define EDGE_EDGE_H_

#include <stddef.h>
#include <stdint.h>

/* The release this header belongs to. The build reads these three lines
 * (CMakeLists.txt): the package version, the soname and edge.pc follow them. */
#define EDGE_VERSION_MAJOR 0
#define EDGE_VERSION_MINOR 3
#define EDGE_VERSION_PATCH 0
#define EDGE_MAKE_VERSION(major, minor, patch) ((major) * 10000 + (minor) * 100 + (patch))
#define EDGE_VERSION EDGE_MAKE_VERSION(EDGE_VERSION_MAJOR, EDGE_VERSION_MINOR, EDGE_VERSION_PATCH)

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  EDGE_OK = 0,
  EDGE_INVALID_ARGUMENT = 1,
  EDGE_INVALID_MODEL = 2,
  EDGE_UNSUPPORTED = 3,
  EDGE_OUT_OF_MEMORY = 4,
  EDGE_IO_ERROR = 5,
  EDGE_INTERNAL = 6,
  EDGE_NUMERIC_ERROR = 7
} edge_status;

typedef struct edge_model edge_model;
typedef struct edge_session edge_session;

typedef struct {
  int num_threads; /* 1 by default; 0 = one per big core */
  int profile;     /* non-zero: collect per-op timings */
  int precision;   /* 0 as stored, 1 fp32, 2 int8, 3 nvfp4 */
  int attention_precision; /* -1 as stored, 0 fp32, 1 int8 (INT8 Q.K^T and P.V) */
  float attention_density; /* < 0 as stored; 0 or 1 dense; (0, 1) block-sparse */
  size_t max_arena_bytes;  /* 0: no cap; else a model whose activation arena needs more
                              is refused by edge_session_create (EDGE_OUT_OF_MEMORY) */
  int check_finite;        /* non-zero: a NaN/Inf in an output of edge_session_invoke (or in the
                              latents of an edge_generate step) is EDGE_NUMERIC_ERROR naming the op
                              that first produced one; 0 by default (edge-run: on) */
  /* The remaining edge-run settings (edge-run --help names each). */
  int pin_threads;            /* non-zero: pin the worker threads to the big cores (--pin) */
  int attention_compensation; /* 1 (default): skipped key tiles enter through their centroids;
                                 0: they contribute nothing (--no-attention-compensation) */
  int attention_sparse;       /* -1 as stored, 0 off, 1 tiles (attention_density), 2 clusters */
  /* Cluster-sparse attention; -1 (or 0 for the sizes): as stored, else the built-in default. */
  float attention_top_p;       /* keep key clusters up to this cumulative mass, in [0, 1] */
  float attention_min_frac;    /* ...and at least this fraction of them, in [0, 1] */
  float attention_err_tol;     /* add clusters until the estimate error is <= this x value RMS */
  int attention_cluster_size;  /* tokens per query cluster */
  int attention_key_cluster_size; /* tokens per key cluster */
  int attention_kmeans_iters;  /* k-means iterations per step after the first */
  int attention_refresh;       /* every N-th step iterates fully again (0: never) */
  int attention_replan;        /* plan (k-means step, selection) on every N-th step only;
                                  the steps between keep it with fresh centroids. Since 0.3 */
  int attention_dense_steps;   /* the first N steps run dense attention */
  /* Token-level reuse in dense attention during edge_generate (--token-reuse): a query
   * row is recomputed only when its predicted change exceeds token_reuse_threshold;
   * < 0 (default): the model's stored setting (off unless edge-convert --token-reuse
   * wrote one); 0: off. Since 0.2. */
  float token_reuse_threshold;
  int token_reuse_warmup;     /* steps computed in full at the start (default 2) */
  int token_reuse_max_stale;  /* reuses of a row in a row, in [0, 255] (default 2) */
  int token_reuse_order;      /* 0: keep the last output; 1 (default): extrapolate from the last two */
} edge_session_options;

typedef struct {
  int steps;          /* 0: model default */
  uint64_t seed;
  float guidance;     /* < 0: model default; 1: off */
  int num_samples;
  const int64_t* classes; /* num_samples ids, or NULL for 0,1,2,... */
  const float* noise;     /* optional initial noise, or NULL */
  float cache_threshold;  /* step cache threshold: with cache_policy 0, > 0 runs the
                             per-block rule (tdc); with a policy, >= 0 overrides the
                             calibrated threshold and < 0 takes it from the model */
  /* Step cache policy: 0 none (or tdc when cache_threshold > 0), 1 tdc, 2 fb,
   * 3 tea, 4 mag, 5 static, 6 taylor, -1 auto (the model's calibrated policy
   * skipping the most), -2 the model's tuned default (edge-convert
   * --target-psnr; none when the model has none; what
   * edge_generate_options_default sets). See edge-run --help. */
  int cache_policy;
  float cache_scale;      /* multiplies calibrated thresholds; 0 = 1 */
  int cache_interval;     /* static: compute every k-th step (0: calibrated) */
  /* Guidance reuse (see edge-run --guidance-reuse): the unconditional pass runs
   * on the first guidance_reuse_warmup steps, the last step and every
   * guidance_reuse_interval-th step after warm-up, and is estimated on the
   * others (order 0: the last guidance direction; 1: extrapolated from the last
   * two). interval -1: the model's stored setting (what
   * edge_generate_options_default sets, with warm-up 2 and order 1); 0 or 1: off. */
  int guidance_reuse_interval;
  int guidance_reuse_warmup;
  int guidance_reuse_order;
  /* The remaining edge-run step-cache settings (edge-run --help names each). */
  float cache_target_psnr;  /* > 0: the calibration entries made for this PSNR target
                               (--cache-target); 0: the first stored */
  const int* cache_steps;   /* static: compute exactly these steps (--cache-steps), or NULL */
  int num_cache_steps;
  int cache_max_skips;      /* at most this many skips in a row; -1: calibrated, else 2 */
  int cache_warmup;         /* steps always computed at the start (default 2) */
  int cache_int8;           /* non-zero: INT8 residuals with a scale per token (--cache-int8) */
  int cache_drop;           /* ablation: a skipped block outputs its input (--cache-drop) */
  /* Models conditioned on embeddings (an f32 condition input, e.g. text-encoder
   * hidden states): num_samples embeddings of the model's per-sample size, or
   * NULL for class-conditional and unconditional models. Guidance uses the
   * model's stored null embedding. */
  const float* condition;
  /* Models with a condition-encoder graph (edge-convert --cond-encoder): the
   * prompts as token ids, instead of `condition`. num_prompts is 1 (one prompt
   * for every sample) or num_samples; prompt k is
   * prompt_tokens[k][0 .. prompt_lengths[k]). The runtime has no tokenizer: the
   * ids come from the model's. Shorter prompts are padded with id 0; longer ones
   * than the encoder takes are refused (EDGE_INVALID_ARGUMENT). num_prompts 0:
   * not used. Since 0.3. */
  const int64_t* const* prompt_tokens;
  const size_t* prompt_lengths;
  int num_prompts;
} edge_generate_options;

const char* edge_last_error(void);

/* The library's release, EDGE_MAKE_VERSION(major, minor, patch): compare with
 * EDGE_VERSION, the header's, e.g. to refuse a mismatched shared library. */
int edge_version(void);
/* The same as "MAJOR.MINOR.PATCH". */
const char* edge_version_string(void);

/* Maps the file: it must not be truncated or rewritten in place while the
 * model lives (replace it by rename; in place: SIGBUS on the next read of a
 * lost page). edge_model_load_in_memory reads it into memory instead, after
 * which the file is not used. */
edge_status edge_model_load(const char* path, edge_model** out);
edge_status edge_model_load_in_memory(const char* path, edge_model** out);
void edge_model_free(edge_model* model);

void edge_session_options_default(edge_session_options* options);
edge_status edge_session_create(const edge_model* model, const edge_session_options* options,
                                edge_session** out);
void edge_session_free(edge_session* session);

/* Graph-level use: set named inputs, invoke, read named outputs. */
edge_status edge_session_set_input(edge_session* session, const char* name, const void* data,
                                   size_t bytes);
edge_status edge_session_invoke(edge_session* session);
/* The pointer stays valid until the next invoke or until the session is freed. */
edge_status edge_session_get_output(edge_session* session, const char* name, const void** data,
                                    size_t* bytes);
/* Per-op timings (profile on): total milliseconds of op i, its kernel name. */
int edge_session_num_ops(const edge_session* session);
edge_status edge_session_op_profile(const edge_session* session, int op, double* total_ms,
                                    const char** kernel_name);

/* Pipeline-level use: the whole denoising loop. `out` receives
 * num_samples * edge_latent_elements() floats. */
void edge_generate_options_default(edge_generate_options* options);
size_t edge_latent_elements(edge_session* session);
/* The shape of one sample's latent (edge_latent_elements() is its product,
 * e.g. {1, 32, 32} for channels, height, width): writes the first max_dims
 * sizes to dims and returns the rank, or -1 on error. */
int edge_latent_shape(edge_session* session, int64_t* dims, int max_dims);
edge_status edge_generate(edge_session* session, const edge_generate_options* options, float* out,
                          size_t out_count);

/* Latent models (format 2 files: several graphs, e.g. "denoiser" and
 * "decoder"). edge_session_create opens graph 0, the denoiser; for a model
 * with a decoder it also prepares the decoder on one activation arena of the
 * larger plan (graph inputs set by hand do not survive a decode).
 * edge_generate still returns latents; edge_generate_decoded returns
 * num_samples * edge_decoded_elements() pixel values (in [-1, 1] for the
 * usual VAE), decoding in overlapping tiles when the model's decoder is
 * smaller than the latent. Graph names: graph 0 is "denoiser". */
int edge_model_num_graphs(const edge_model* model);
const char* edge_model_graph_name(const edge_model* model, int graph); /* NULL if out of range */
/* A session on one graph by name (NULL or "": graph 0), for graph-level use. */
edge_status edge_session_create_graph(const edge_model* model, const char* graph,
                                      const edge_session_options* options, edge_session** out);
size_t edge_decoded_elements(edge_session* session); /* 0 without a decoder */
edge_status edge_generate_decoded(edge_session* session, const edge_generate_options* options,
                                  float* out, size_t out_count);

#ifdef __cplusplus
}
#endif

#endif /* EDGE_EDGE_H_ */
