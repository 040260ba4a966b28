// edge-convert: ONNX (as torch.onnx.export writes it) -> edge model file.
//
//   edge-convert IN.onnx -o OUT.fb [--input NAME:SHAPE ...] [pipeline flags]
//                [--block-prefix NAME] [--report] [--json] [quantization flags]
//
// Exit codes: 0 ok, 2 usage, 3 bad input model, 4 conversion failure.
#include <malloc.h>
#include <sys/stat.h>

#include <climits>
#include <cmath>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <iostream>
#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "converter/cache_calibrate.h"
#include "runtime/delta_cache.h"
#include "runtime/sampler.h"
#include "converter/calibrate.h"
#include "converter/convert_graph.h"
#include "converter/emit.h"
#include "converter/fold.h"
#include "converter/gptq.h"
#include "converter/weight_quantizer.h"
#include "converter/mixed_rank.h"
#include "converter/onnx_import.h"
#include "converter/passes.h"
#include "converter/quantize.h"
#include "converter/regions.h"
#include "converter/tune.h"
#include "converter/tune_cost.h"
#include "host/json_figure.h"
#include "runtime/io/npy.h"

namespace edge {
namespace conv {
namespace {

const char kUsage[] =
    "usage: edge-convert IN.onnx -o OUT.fb [options]\n"
    "\n"
    "  -o, --output FILE       the edge model to write (written whole or not at all)\n"
    "  --input NAME:SHAPE      fix an input's shape, e.g. --input x:2x4x32x32 (repeatable)\n"
    "  --block-prefix NAME     module list holding the transformer blocks (default: auto)\n"
    "  --name NAME             model name stored in the file\n"
    "  --report                print ops before/after fusion, parameters, size, cache regions, dtypes\n"
    "  --json                  the same report as JSON on stdout\n"
    "\n"
    "Pipeline metadata:\n"
    "  --sampler flow|ddim     --train-steps N      --steps N        --shift S\n"
    "  --guidance G            --latent CxHxW or FxCxHxW\n"
    "  --roles x=latent,t=timestep,y=condition\n"
    "  --num-classes N         --null-class K\n"
    "  --prediction velocity|epsilon|sample     --output-kind pixels|latent\n"
    "  --timestep-scale S\n"
    "  --beta-schedule linear|scaled-linear   --beta-start B   --beta-end B   (DDIM's training\n"
    "                          noise schedule; default linear 0.0001 .. 0.02)\n"
    "  --null-cond FILE.npy    models conditioned on embeddings (an f32 condition input, e.g.\n"
    "                          text-encoder states): the unconditional embedding for guidance,\n"
    "                          one sample's worth (edge-run --cond gives the conditional one)\n"
    "\n"
    "Latent models (one file, several graphs):\n"
    "  --decoder FILE.onnx     convert a VAE decoder (latent -> pixels) into the same file as\n"
    "                          graph 'decoder', fed with the sampled latent; edge-run then\n"
    "                          writes pixels. A decoder exported for a smaller latent than\n"
    "                          --latent decodes in overlapping tiles of its input size\n"
    "  --decoder-input NAME:SHAPE  fix the decoder input's shape (repeatable)\n"
    "  --cond-encoder FILE.onnx  convert a prompt encoder (token ids [1, T] -> embeddings) into\n"
    "                          the same file as graph 'cond_encoder', feeding the condition\n"
    "                          input; edge-run --tokens then runs it (no tokenizer is stored)\n"
    "  --decode-tile-overlap N latent pixels neighbouring tiles share (default 2)\n"
    "\n"
    "Weight precision (see converter/quantize.h):\n"
    "  --precision fp32|int8|nvfp4|mixed   Linear weights only (Conv2d: --conv-precision);\n"
    "                          default fp32. int8: W8A8 per-channel; nvfp4: E2M1 +\n"
    "                          E4M3 block scales (W4A8); mixed: calibrate, NVFP4 for the least\n"
    "                          sensitive layers, INT8 for the rest. Weights are stored packed.\n"
    "  --conv-precision fp32|int8   Conv2d weights of every graph (denoiser, --decoder,\n"
    "                          --cond-encoder); default fp32. int8: symmetric per output channel,\n"
    "                          bias FP32, activations quantized per output pixel at run time\n"
    "                          (W8A8); measured in bench/results/conv_int8.md\n"
    "  --precision-override PATTERN=fp32|int8|nvfp4   force Linear layers whose op or weight\n"
    "                          name matches the glob (repeatable; later ones win)\n"
    "  --fp32-layout packed|row-major   FP32 Linear weights: packed (default) in the GEMM's\n"
    "                          16-column panels, used in place from the mapped file; row-major\n"
    "                          as older files (the runtime then packs a copy at load)\n"
    "  --nvfp4-scales mse|amax  NVFP4 block scales: mse (default) the E4M3 scale of least squared\n"
    "                          error per 16-weight block; amax the reference amax/6 (edge-run's)\n"
    "  --weight-rounding auto|nearest|gptq   how quantized Linear weights are rounded: nearest\n"
    "                          each weight alone; gptq error feedback on calibration inputs\n"
    "                          (--calib-steps x --calib-seeds trajectories of the sampler, every\n"
    "                          --calib-classes class at least once; needs pipeline metadata), kept\n"
    "                          per layer only where it lowers the layer's calibration output\n"
    "                          error. Same format, same kernels. auto (default): gptq for\n"
    "                          --precision mixed, nearest for int8 / nvfp4\n"
    "  --gptq-order act|natural  columns rounded by decreasing input energy (act, default;\n"
    "                          NVFP4 block scales fixed from the original weights) or in order\n"
    "  --gptq-damp F           diagonal damping of gptq, fraction of the mean (default 0.1)\n"
    "  --quant-min-size S      layers with N*K < S (default 4096) or K < 16 stay fp32\n"
    "  --final-layer fp32|quantize   the last Linear (projection to the output) stays fp32 by\n"
    "                          default (measured on dit_s2: NVFP4 output error 0.044 vs 0.10)\n"
    "  mixed: --target-bits B  average bits per weight over the mixed layers (default 6.0;\n"
    "                          NVFP4 = 4.5, INT8 = 8 + 32/K); --max-error E: NVFP4 only where the\n"
    "                          layer's relative output error is <= E (alone: no bit budget)\n"
    "         --mixed-rank output|error  rank layers by what NVFP4 in that layer alone does to\n"
    "                          full generations (output, default: one generation per layer over\n"
    "                          --calib-classes (default the first 4) x --calib-seeds from seed\n"
    "                          1000) or by the layer's own output error (error)\n"
    "         --calib-threads N  parallel generations of the output ranking (default 1; same result)\n"
    "         --calib-steps N (default 8)  --calib-seeds N (default 2)\n"
    "         --calib-classes 0,3,7 (default: 0..num_classes-1)\n"
    "         needs pipeline metadata (--roles latent,timestep; sampler flags)\n"
    "\n"
    "Attention (stored as the model's defaults; edge-run --attention-precision / --token-reuse\n"
    "override them):\n"
    "  --attention-precision fp32|int8   default fp32. int8: smoothed-K INT8 Q.K^T, 15-bit P,\n"
    "                          INT8 V (ops/qs8_attention.h)\n"
    "  --token-reuse T         during a generation, recompute only the attention query rows whose\n"
    "                          output is predicted to move by T or more (relative); default 0 (off)\n"
    "\n"
    "Guidance reuse (stored as the model's default; edge-run --guidance-reuse overrides):\n"
    "  --guidance-reuse K      run the unconditional pass only on every K-th step after warm-up\n"
    "                          (and the last step), estimating it on the others from the guidance\n"
    "                          direction (default 0 = off; runtime/guidance_reuse.h)\n"
    "  --guidance-reuse-warmup N (default 2)  --guidance-reuse-order 0|1 (default 1: extrapolate)\n"
    "\n"
    "Step cache:\n"
    "  --cache-calibrate [DB,DB..]  run calibration generations (FP32 reference vs the model\n"
    "                          as stored) and store per policy the threshold that skips the most\n"
    "                          block runs at PSNR >= each target (default 35,30; the first is\n"
    "                          the runtime's default), the TeaCache rescaling and the MagCache\n"
    "                          ratios. edge-run --cache POLICY|auto uses them\n"
    "  --cache-calib-classes 0,3   classes of the calibration set (default 0..7)\n"
    "  --cache-calib-seeds N   noise seeds per class (default 1)\n"
    "  --cache-calib-threads N generations run in parallel (default 1; same result for any N)\n"
    "\n"
    "Make my model fast (picks weight precision, attention precision, sparsity and token reuse,\n"
    "guidance reuse, step cache):\n"
    "  --target-psnr DB        (or --target quality=DBdB) run calibration generations against FP32\n"
    "                          and store as the model's defaults the configuration with the lowest\n"
    "                          predicted time whose calibration output keeps DB + margin; then\n"
    "                          report its PSNR and measured speed-up on held-back classes\n"
    "  --calib-classes 0,1,2,3 calibration classes (default: the first 4); --calib-seeds N (default 1)\n"
    "  --holdout-classes LIST|none   held-back classes (default: the first 2 not calibrated on)\n"
    "  --tune-margin DB        required above the target on calibration (default 3)\n"
    "  --tune-cache LIST|none  cache policies to try (default tdc,taylor,mag,static)\n"
    "  --tune-isa NAME         cost-model row: avx2, avx512vnni, neon, neondot (default: this CPU)\n"
    "  --tune-threads N        generations in parallel (default 1; same result for any N)\n"
    "  --tune-guidance reuse|none  try guidance reuse schedules (default reuse; guided models)\n"
    "  --tune-token-reuse reuse|none  try token reuse in attention (default none: it over-fits\n"
    "                          the calibration set on the demo models)\n"
    "  --tune-grid             also sweep the full grid and report its best point (slow)\n"
    "\n"
    "Exit codes: 0 ok, 2 usage, 3 bad input model, 4 conversion failure (also NaN/Inf weights\n"
    "being quantized).\n";

struct Options {
  std::string in, out, block_prefix, name;
  std::map<std::string, Shape> shapes;
  std::string decoder;                          // --decoder FILE.onnx
  std::string cond_encoder;                     // --cond-encoder FILE.onnx
  std::string null_cond;                        // --null-cond FILE.npy
  std::map<std::string, Shape> decoder_shapes;  // --decoder-input
  bool report = false, json = false;
  PipelineFlags pipe;
  QuantOptions quant;
  bool target_bits_given = false, max_error_given = false;
  fb::AttentionPrecision attention_precision = fb::AttentionPrecision::FP32;
  Precision conv_precision = Precision::kFp32;  // --conv-precision
  bool cache_calibrate = false;
  CacheCalibOptions cache;
  bool attention_precision_given = false, precision_given = false, guidance_reuse_given = false;
  float token_reuse = 0.f;  // stored default threshold of every Attention op
  bool token_reuse_given = false;
  bool calib_classes_given = false, calib_seeds_given = false;
  TuneOptions tune;  // target_psnr > 0: --target-psnr
  bool tune_cache_off = false;
  EmitOptions emit;
};

Shape ParseDims(const std::string& s, const std::string& flag) {
  Shape d;
  std::stringstream ss(s);
  std::string part;
  while (std::getline(ss, part, 'x')) {
    char* end = nullptr;
    long long v = std::strtoll(part.c_str(), &end, 10);
    if (part.empty() || *end || v <= 0) Fail(kExitUsage, flag + ": bad shape '" + s + "' (want e.g. 2x4x32x32)");
    d.push_back(v);
  }
  if (d.empty()) Fail(kExitUsage, flag + ": empty shape");
  return d;
}

double ParseNum(const std::string& s, const std::string& flag) {
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (s.empty() || *end) Fail(kExitUsage, flag + ": not a number: '" + s + "'");
  return v;
}

// "0,3,7": class ids >= 0.
std::vector<int64_t> ParseClassList(const std::string& list, const std::string& flag) {
  std::stringstream ss(list);
  std::string part;
  std::vector<int64_t> ids;
  while (std::getline(ss, part, ',')) {
    double v = ParseNum(part, flag);
    if (v < 0 || v != std::floor(v) || v > 1e9) Fail(kExitUsage, flag + ": class ids >= 0, comma-separated");
    ids.push_back(static_cast<int64_t>(v));
  }
  if (ids.empty()) Fail(kExitUsage, flag + ": empty list");
  return ids;
}

// `v` as one of a fixed set of values, into *out; else a usage error with `msg`.
template <typename T>
void Pick(const std::string& v, T* out, std::initializer_list<std::pair<const char*, T>> choices,
          const std::string& msg) {
  for (const auto& c : choices) {
    if (v == c.first) {
      *out = c.second;
      return;
    }
  }
  Fail(kExitUsage, msg);
}

// The command line through CLI11 (`--opt value` and `--opt=value`). Each
// option's callback checks its value with the messages of kUsage's terms;
// callbacks run once the whole command line is read.
Options Parse(int argc, char** argv) {
  Options o;
  // --help wins over any other argument, as the usage text is what a wrong
  // command line needs.
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "-h") || !std::strcmp(argv[i], "--help")) {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
  }
  // --cache-calibrate takes an optional list of targets: the next argument
  // when it starts with a digit (else the next argument is not its value).
  std::vector<std::string> args(argv, argv + argc);
  for (size_t i = 1; i + 1 < args.size(); ++i) {
    if (args[i] == "--cache-calibrate" && args[i + 1][0] >= '0' && args[i + 1][0] <= '9') {
      args[i] += "=" + args[i + 1];
      args.erase(args.begin() + static_cast<long>(i) + 1);
    }
  }

  CLI::App app("edge-convert: ONNX -> edge model file", "edge-convert");
  app.set_help_flag();  // the usage text above instead of CLI11's
  // As before: a value option given twice keeps the last value.
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  PipelineInfo& p = o.pipe.info;
  // An option with one value, checked and stored by `f`.
  auto opt = [&](const char* name, std::function<void(const std::string&)> f) {
    return app.add_option_function<std::string>(name, std::move(f));
  };
  // A repeatable option: one value per occurrence, in command-line order.
  auto each = [&](const char* name, std::function<void(const std::string&)> f) {
    return app
        .add_option_function<std::vector<std::string>>(
            name, [f](const std::vector<std::string>& vs) { for (const std::string& v : vs) f(v); })
        ->take_all()
        ->expected(1)
        ->allow_extra_args(false);
  };
  auto pipe = [&](const char* name, std::function<void(const std::string&)> f) {
    return opt(name, [&o, f](const std::string& v) {
      f(v);
      o.pipe.any = true;
    });
  };
  // A count in [lo, hi].
  auto count = [](const std::string& v, const std::string& flag, double lo, double hi, const std::string& msg) {
    const double x = ParseNum(v, flag);
    if (!(x >= lo && x <= hi && x == std::floor(x))) Fail(kExitUsage, msg);
    return static_cast<int>(x);
  };

  app.add_option("IN.onnx", o.in);
  app.add_option("-o,--output", o.out);
  for (const char* a : {"--input", "--decoder-input"}) {
    const std::string flag = a;
    each(a, [&o, flag](const std::string& v) {
      size_t c = v.rfind(':');
      if (c == std::string::npos || c == 0) Fail(kExitUsage, flag + " wants NAME:SHAPE, got '" + v + "'");
      (flag == "--input" ? o.shapes : o.decoder_shapes)[v.substr(0, c)] = ParseDims(v.substr(c + 1), flag);
    });
  }
  app.add_option("--decoder", o.decoder);
  app.add_option("--cond-encoder", o.cond_encoder);
  pipe("--null-cond", [&](const std::string& v) { o.null_cond = v; });
  pipe("--decode-tile-overlap", [&](const std::string& v) {
    p.decode_tile_overlap = count(v, "--decode-tile-overlap", 0, 1024, "--decode-tile-overlap: an integer in [0, 1024]");
  });
  app.add_option("--block-prefix", o.block_prefix);
  app.add_option("--name", o.name);
  app.add_flag("--report", o.report);
  app.add_flag("--json", o.json);
  pipe("--sampler", [&](const std::string& v) {
    Pick(v, &p.sampler, {{"flow", fb::Sampler::FlowEuler}, {"ddim", fb::Sampler::DDIM}}, "--sampler: flow or ddim");
  });
  pipe("--beta-schedule", [&](const std::string& v) {
    Pick(v, &p.beta_schedule,
         {{"linear", fb::BetaSchedule::Linear}, {"scaled-linear", fb::BetaSchedule::ScaledLinear}},
         "--beta-schedule: linear or scaled-linear");
  });
  pipe("--beta-start", [&](const std::string& v) { p.beta_start = static_cast<float>(ParseNum(v, "--beta-start")); });
  pipe("--beta-end", [&](const std::string& v) { p.beta_end = static_cast<float>(ParseNum(v, "--beta-end")); });
  pipe("--train-steps", [&](const std::string& v) { p.train_steps = static_cast<int>(ParseNum(v, "--train-steps")); });
  pipe("--steps", [&](const std::string& v) { p.default_steps = static_cast<int>(ParseNum(v, "--steps")); });
  pipe("--shift", [&](const std::string& v) { p.shift = static_cast<float>(ParseNum(v, "--shift")); });
  pipe("--guidance", [&](const std::string& v) { p.guidance_scale = static_cast<float>(ParseNum(v, "--guidance")); });
  pipe("--guidance-reuse", [&](const std::string& v) {
    p.guidance_reuse_interval = count(v, "--guidance-reuse", 0, 10000, "--guidance-reuse: an integer in [0, 10000]");
    o.guidance_reuse_given = true;
  });
  pipe("--guidance-reuse-warmup", [&](const std::string& v) {
    p.guidance_reuse_warmup =
        count(v, "--guidance-reuse-warmup", 0, 10000, "--guidance-reuse-warmup: an integer in [0, 10000]");
    o.guidance_reuse_given = true;
  });
  pipe("--guidance-reuse-order", [&](const std::string& v) {
    p.guidance_reuse_order = count(v, "--guidance-reuse-order", 0, 1, "--guidance-reuse-order: 0 or 1");
    o.guidance_reuse_given = true;
  });
  opt("--tune-guidance", [&](const std::string& v) {
    Pick(v, &o.tune.guidance_reuse, {{"reuse", true}, {"none", false}}, "--tune-guidance: reuse or none");
  });
  opt("--tune-token-reuse", [&](const std::string& v) {
    Pick(v, &o.tune.token_reuse, {{"reuse", true}, {"none", false}}, "--tune-token-reuse: reuse or none");
  });
  pipe("--latent", [&](const std::string& v) {
    p.latent_shape = ParseDims(v, "--latent");
    if (p.latent_shape.size() != 3 && p.latent_shape.size() != 4) Fail(kExitUsage, "--latent: CxHxW or FxCxHxW");
  });
  pipe("--roles", [&](const std::string& v) {
    std::stringstream ss(v);
    std::string kv;
    while (std::getline(ss, kv, ',')) {
      size_t e = kv.find('=');
      if (e == std::string::npos) Fail(kExitUsage, "--roles wants NAME=ROLE,...");
      o.pipe.roles[kv.substr(0, e)] = kv.substr(e + 1);
    }
  });
  pipe("--num-classes", [&](const std::string& v) { p.num_classes = static_cast<int>(ParseNum(v, "--num-classes")); });
  pipe("--null-class", [&](const std::string& v) { p.null_condition = static_cast<int64_t>(ParseNum(v, "--null-class")); });
  pipe("--prediction", [&](const std::string& v) {
    Pick(v, &p.prediction,
         {{"velocity", fb::Prediction::Velocity}, {"epsilon", fb::Prediction::Epsilon},
          {"sample", fb::Prediction::Sample}},
         "--prediction: velocity, epsilon or sample");
  });
  pipe("--output-kind", [&](const std::string& v) {
    Pick(v, &p.output_kind, {{"pixels", fb::OutputKind::Pixels}, {"latent", fb::OutputKind::Latent}},
         "--output-kind: pixels or latent");
  });
  pipe("--timestep-scale", [&](const std::string& v) { p.timestep_scale = static_cast<float>(ParseNum(v, "--timestep-scale")); });
  opt("--precision", [&](const std::string& v) {
    if (v != "fp32" && v != "int8" && v != "nvfp4" && v != "mixed")
      Fail(kExitUsage, "--precision: fp32, int8, nvfp4 or mixed (got '" + v + "')");
    o.quant.mode = v;
    o.precision_given = true;
  });
  opt("--conv-precision", [&](const std::string& v) {
    Pick(v, &o.conv_precision, {{"fp32", Precision::kFp32}, {"int8", Precision::kInt8}},
         "--conv-precision: fp32 or int8 (got '" + v + "')");
  });
  opt("--fp32-layout", [&](const std::string& v) {
    Pick(v, &o.emit.fp32_packed, {{"packed", true}, {"row-major", false}},
         "--fp32-layout: packed or row-major (got '" + v + "')");
  });
  opt("--token-reuse", [&](const std::string& v) {
    const double t = ParseNum(v, "--token-reuse");
    if (!(t >= 0 && t <= 1e6)) Fail(kExitUsage, "--token-reuse: a threshold in [0, 1e6] (0: off)");
    o.token_reuse = static_cast<float>(t);
    o.token_reuse_given = true;
  });
  opt("--attention-precision", [&](const std::string& v) {
    o.attention_precision_given = true;
    Pick(v, &o.attention_precision, {{"fp32", fb::AttentionPrecision::FP32}, {"int8", fb::AttentionPrecision::INT8}},
         "--attention-precision: fp32 or int8 (got '" + v + "')");
  });
  each("--precision-override", [&](const std::string& v) {
    size_t e = v.rfind('=');
    Precision pr;
    if (e == std::string::npos || e == 0 || !ParsePrecision(v.substr(e + 1), &pr))
      Fail(kExitUsage, "--precision-override wants PATTERN=fp32|int8|nvfp4, got '" + v + "'");
    o.quant.overrides.push_back({v.substr(0, e), pr});
  });
  opt("--mixed-rank", [&](const std::string& v) {
    Pick(v, &o.quant.rank_by_output, {{"output", true}, {"error", false}},
         "--mixed-rank: output or error (got '" + v + "')");
  });
  opt("--calib-threads", [&](const std::string& v) {
    o.quant.calib_threads = count(v, "--calib-threads", 1, 256, "--calib-threads: an integer in [1, 256]");
  });
  opt("--weight-rounding", [&](const std::string& v) {
    Pick(v, &o.quant.rounding, {{"gptq", 1}, {"nearest", 0}, {"auto", -1}},
         "--weight-rounding: auto, nearest or gptq (got '" + v + "')");
  });
  opt("--gptq-order", [&](const std::string& v) {
    Pick(v, &o.quant.gptq_act_order, {{"act", true}, {"natural", false}},
         "--gptq-order: natural or act (got '" + v + "')");
  });
  opt("--gptq-damp", [&](const std::string& v) {
    const double x = ParseNum(v, "--gptq-damp");
    if (!(x > 0 && x <= 1)) Fail(kExitUsage, "--gptq-damp: a number in (0, 1]");
    o.quant.gptq_damp = x;
  });
  opt("--nvfp4-scales", [&](const std::string& v) {
    Pick(v, &o.quant.scale_search, {{"mse", true}, {"amax", false}}, "--nvfp4-scales: mse or amax (got '" + v + "')");
  });
  opt("--quant-min-size", [&](const std::string& v) {
    double x = ParseNum(v, "--quant-min-size");
    if (x < 0 || x != std::floor(x) || x > 1e15) Fail(kExitUsage, "--quant-min-size: a count >= 0");
    o.quant.min_size = static_cast<int64_t>(x);
  });
  opt("--final-layer", [&](const std::string& v) {
    Pick(v, &o.quant.quantize_final, {{"fp32", false}, {"quantize", true}}, "--final-layer: fp32 or quantize");
  });
  opt("--target-bits", [&](const std::string& v) {
    double x = ParseNum(v, "--target-bits");
    if (!(x > 0 && x <= 32)) Fail(kExitUsage, "--target-bits: a number in (0, 32]");
    o.quant.target_bits = x;
    o.target_bits_given = true;
  });
  opt("--max-error", [&](const std::string& v) {
    double x = ParseNum(v, "--max-error");
    if (!(x >= 0 && std::isfinite(x))) Fail(kExitUsage, "--max-error: a number >= 0");
    o.quant.max_error = x;
    o.max_error_given = true;
  });
  opt("--calib-steps", [&](const std::string& v) {
    o.quant.calib_steps = count(v, "--calib-steps", 1, 1000, "--calib-steps: an integer in [1, 1000]");
  });
  opt("--calib-seeds", [&](const std::string& v) {
    o.quant.calib_seeds = count(v, "--calib-seeds", 1, 1000, "--calib-seeds: an integer in [1, 1000]");
    o.calib_seeds_given = true;
  });
  opt("--calib-classes", [&](const std::string& v) {
    o.quant.calib_classes = ParseClassList(v, "--calib-classes");
    o.calib_classes_given = true;
  });
  // A flag that may carry its list as --cache-calibrate=35,30 (see above).
  std::string cache_targets;
  CLI::Option* cache_calibrate = app.add_flag("--cache-calibrate{}", cache_targets);
  opt("--cache-calib-classes", [&](const std::string& v) { o.cache.classes = ParseClassList(v, "--cache-calib-classes"); });
  opt("--cache-calib-threads", [&](const std::string& v) {
    o.cache.threads = count(v, "--cache-calib-threads", 1, 256, "--cache-calib-threads: an integer in [1, 256]");
  });
  opt("--cache-calib-seeds", [&](const std::string& v) {
    o.cache.seeds = count(v, "--cache-calib-seeds", 1, 100, "--cache-calib-seeds: an integer in [1, 100]");
  });
  // --target-psnr 30, or --target quality=30dB
  CLI::Option* target_psnr = opt("--target-psnr", [&](const std::string& v) {
    const double t = ParseNum(v, "--target-psnr");
    if (!(t > 0 && t <= 98)) Fail(kExitUsage, "--target-psnr: a PSNR in dB in (0, 98]");
    o.tune.target_psnr = static_cast<float>(t);
  });
  opt("--target", [&](const std::string& q) {
    if (q.rfind("quality=", 0) != 0) Fail(kExitUsage, "--target wants quality=DB, e.g. quality=30dB");
    std::string v = q.substr(8);
    if (v.size() > 2 && v.substr(v.size() - 2) == "dB") v.resize(v.size() - 2);
    const double t = ParseNum(v, "--target");
    if (!(t > 0 && t <= 98)) Fail(kExitUsage, "--target: a PSNR in dB in (0, 98]");
    o.tune.target_psnr = static_cast<float>(t);
  })->excludes(target_psnr);
  opt("--tune-margin", [&](const std::string& v) {
    const double t = ParseNum(v, "--tune-margin");
    if (!(t >= 0 && t <= 20)) Fail(kExitUsage, "--tune-margin: dB in [0, 20]");
    o.tune.margin_db = static_cast<float>(t);
  });
  opt("--holdout-classes", [&](const std::string& v) {
    if (v == "none") o.tune.holdout_off = true;
    else o.tune.holdout = ParseClassList(v, "--holdout-classes");
  });
  app.add_flag("--tune-grid", o.tune.grid);
  opt("--tune-threads", [&](const std::string& v) {
    o.tune.threads = count(v, "--tune-threads", 1, 256, "--tune-threads: an integer in [1, 256]");
  });
  opt("--tune-isa", [&](const std::string& v) {
    o.tune.isa = v;
    if (FindThroughput(o.tune.isa) == nullptr)
      Fail(kExitUsage, "--tune-isa: unknown '" + o.tune.isa + "' (known: " + ThroughputNames() + ")");
  });
  opt("--tune-cache", [&](const std::string& v) {
    std::stringstream ss(v);
    std::string part;
    o.tune.cache_policies.clear();
    o.tune_cache_off = false;
    while (std::getline(ss, part, ',')) {
      CachePolicy cp;
      if (part == "none") o.tune_cache_off = true;
      else if (ParseCachePolicy(part.c_str(), &cp) && cp != CachePolicy::kNone) o.tune.cache_policies.push_back(static_cast<int>(cp));
      else Fail(kExitUsage, "--tune-cache: policies from tdc,fb,tea,mag,static,taylor, or none");
    }
    if (o.tune_cache_off && !o.tune.cache_policies.empty()) Fail(kExitUsage, "--tune-cache: none with other policies");
  });

  try {
    std::vector<char*> ptrs;
    for (std::string& a : args) ptrs.push_back(&a[0]);
    app.parse(static_cast<int>(ptrs.size()), ptrs.data());
  } catch (const CLI::ParseError& e) {
    // Unknown options, missing values, extra arguments: CLI11's wording,
    // this tool's exit code.
    Fail(kExitUsage, e.what());
  }
  if (cache_calibrate->count() > 0) {
    o.cache_calibrate = true;
    if (!cache_targets.empty()) {
      std::stringstream ss(cache_targets);
      std::string part;
      o.cache.targets.clear();
      while (std::getline(ss, part, ',')) {
        double v = ParseNum(part, "--cache-calibrate");
        if (!(v > 0 && v < 200)) Fail(kExitUsage, "--cache-calibrate: PSNR targets in (0, 200) dB");
        o.cache.targets.push_back(static_cast<float>(v));
      }
      if (o.cache.targets.empty()) Fail(kExitUsage, "--cache-calibrate: empty target list");
    }
  }
  if (o.in.empty()) Fail(kExitUsage, "no input model given");
  if (o.out.empty()) Fail(kExitUsage, "no output file given (-o OUT.fb)");
  if (o.pipe.info.sampler == fb::Sampler::DDIM && !DdimBetasValid(o.pipe.info.beta_start, o.pipe.info.beta_end)) {
    Fail(kExitUsage, "--beta-start " + std::to_string(o.pipe.info.beta_start) + " and --beta-end " +
                         std::to_string(o.pipe.info.beta_end) + ": DDIM needs 0 < start <= end < 1");
  }
  // --max-error alone is a pure error threshold (no bit budget).
  if (o.max_error_given && !o.target_bits_given) o.quant.target_bits = 0;
  if (o.tune.target_psnr > 0.f) {
    // The search picks these itself; a fixed choice would be silently lost.
    if (o.precision_given) Fail(kExitUsage, "--target-psnr picks the weight precision: drop --precision");
    if (o.attention_precision_given)
      Fail(kExitUsage, "--target-psnr picks the attention precision: drop --attention-precision");
    if (o.token_reuse_given) Fail(kExitUsage, "--target-psnr picks token reuse: drop --token-reuse");
    if (o.guidance_reuse_given && o.tune.guidance_reuse)
      Fail(kExitUsage, "--target-psnr picks guidance reuse: drop --guidance-reuse* (or add --tune-guidance none)");
    if (o.calib_classes_given) o.tune.classes = o.quant.calib_classes;
    if (o.calib_seeds_given) o.tune.seeds = o.quant.calib_seeds;
    if (o.tune_cache_off) o.tune.cache_policies.clear();
  }
  return o;
}

std::map<std::string, int> CountOps(const Graph& g, bool skip_constants) {
  std::map<std::string, int> c;
  for (const Node& n : g.nodes)
    if (!n.dead && !(skip_constants && n.op == "Constant")) ++c[n.edge ? std::string(EdgeOpName(n.etype)) : n.op];
  return c;
}

using host::Json;

Json JsonCounts(const std::map<std::string, int>& c) {
  Json j = Json::object();
  for (const auto& kv : c) j[kv.first] = kv.second;
  return j;
}

int Total(const std::map<std::string, int>& c) {
  int t = 0;
  for (const auto& kv : c) t += kv.second;
  return t;
}

// The edge dtype a value is stored with (see emit.cc).
const char* DTypeLabel(int t) {
  if (IsFloatType(t)) return "F32";
  switch (t) {
    case kInt64: return "I64";
    case kInt32: return "I32";
    case kInt8: return "I8";
    case kUint8: case kBool: return "U8";
    default: return ElemTypeName(t);
  }
}

// Weight bytes of a layer as stored (F32: 4 per weight).
double LayerBytes(const LinearLayer& l) { return StoredBits(l.precision, l.N, l.K) * double(l.N) * double(l.K) / 8; }

std::string Num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.6g", v);
  return b;
}

// A figure of the JSON report as the text report shows it (6 digits).
Json Fig(double v) { return host::JsonFigure(v); }

Json QuantJson(const QuantOptions& q, const std::vector<LinearLayer>& layers, const CalibResult* c,
               const OutputRankResult* rank, double mixed_bits, double gptq_seconds) {
  double f32 = 0, stored = 0;
  for (const LinearLayer& l : layers) {
    f32 += 4.0 * double(l.N) * double(l.K);
    stored += LayerBytes(l);
  }
  Json j = {{"mode", q.mode}, {"linear_weight_bytes_fp32", Fig(f32)}, {"linear_weight_bytes", Fig(stored)}};
  if (q.mode == "mixed") {
    j["target_bits"] = Fig(q.target_bits);
    j["max_error"] = Fig(q.max_error);
    j["mixed_average_bits"] = Fig(mixed_bits);
    j["mixed_rank"] = q.rank_by_output ? "output" : "error";
  }
  if (q.mode != "fp32") j["nvfp4_scales"] = q.scale_search ? "mse" : "amax";
  j["weight_rounding"] = q.gptq ? "gptq" : "nearest";
  if (q.gptq) j["gptq_seconds"] = Fig(gptq_seconds);
  if (rank != nullptr) {
    j["output_ranking"] = {{"generations", rank->generations}, {"samples", rank->samples},
                           {"seconds", Fig(rank->seconds)}, {"spearman_vs_error", Fig(rank->spearman_vs_error)}};
  }
  Json& jl = j["layers"] = Json::array();
  for (const LinearLayer& l : layers) {
    Json e = {{"name", l.name}, {"weight", l.weight}, {"N", l.N}, {"K", l.K},
              {"precision", PrecisionName(l.precision)}, {"reason", l.reason},
              {"bits", Fig(StoredBits(l.precision, l.N, l.K))}, {"region", l.region}};
    if (l.err_nvfp4 >= 0) {
      e["err_int8"] = Fig(l.err_int8);
      e["err_nvfp4"] = Fig(l.err_nvfp4);
    }
    if (l.out_mse >= 0) {
      e["out_mse"] = Fig(l.out_mse);
      e["out_psnr"] = Fig(l.out_psnr);
    }
    if (l.gptq_proxy >= 0) {
      e["gptq_err_nearest"] = Fig(l.gptq_proxy_nearest);
      e["gptq_err"] = Fig(l.gptq_proxy);
      e["gptq_kept"] = l.gptq_used;
    }
    jl.push_back(std::move(e));
  }
  if (c != nullptr) {
    Json gamma = Json::array();
    for (size_t r = 0; r < c->regions.size(); ++r) {
      Json steps = Json::array();
      for (double g : c->gamma[r]) steps.push_back(Fig(g));
      gamma.push_back({{"region", c->regions[r]}, {"per_step", std::move(steps)}});
    }
    auto corr = [](int n, double pearson, double spearman) {
      return Json{{"n", n}, {"pearson", Fig(pearson)}, {"spearman", Fig(spearman)}};
    };
    j["calibration"] = {
        {"steps", c->steps}, {"seeds", c->seeds}, {"graph_runs", c->graph_runs}, {"guided", c->guided},
        {"gamma", std::move(gamma)},
        {"correlation",
         {{"blocks", corr(c->n_block, c->pearson_block, c->spearman_block)},
          {"block_steps", corr(c->n_step, c->pearson_step, c->spearman_step)},
          {"block_steps_lag1", corr(c->n_lag, c->pearson_lag, c->spearman_lag)}}}};
  }
  return j;
}

void PrintQuantReport(const QuantOptions& q, const std::vector<LinearLayer>& layers, const CalibResult* c,
                      const OutputRankResult* rank, double mixed_bits, double gptq_seconds) {
  double f32 = 0, stored = 0;
  for (const LinearLayer& l : layers) {
    f32 += 4.0 * double(l.N) * double(l.K);
    stored += LayerBytes(l);
  }
  std::printf("weight precision: %s (Linear weights %.0f -> %.0f bytes, %.3fx)\n", q.mode.c_str(), f32, stored,
              f32 > 0 ? stored / f32 : 0.0);
  if (q.mode == "mixed") {
    std::printf("  mixed: average %.3f bits per weight (target %g", mixed_bits, q.target_bits);
    if (q.max_error >= 0) std::printf(", max error %g", q.max_error);
    std::printf(", ranked by %s)\n", q.rank_by_output ? "effect on the output" : "own error");
  }
  if (rank != nullptr)
    std::printf("  output ranking: %d generations of %d samples, %.0f s; rank correlation with the own-error "
                "order %.3f (spearman)\n",
                rank->generations, rank->samples, rank->seconds, rank->spearman_vs_error);
  std::printf("  %-52s %-11s %-6s %-6s %-10s %-10s %-10s %s\n", "layer", "N x K", "prec", "bits", "err_int8",
              "err_nvfp4", "psnr_alone", "reason");
  for (const LinearLayer& l : layers) {
    std::string nk = std::to_string(l.N) + "x" + std::to_string(l.K);
    std::string e8 = l.err_nvfp4 >= 0 ? Num(l.err_int8) : "-", e4 = l.err_nvfp4 >= 0 ? Num(l.err_nvfp4) : "-";
    std::string op = l.out_mse >= 0 ? Num(l.out_psnr) : "-";
    std::printf("  %-52s %-11s %-6s %-6.2f %-10s %-10s %-10s %s\n", l.name.c_str(), nk.c_str(),
                PrecisionName(l.precision), StoredBits(l.precision, l.N, l.K), e8.c_str(), e4.c_str(), op.c_str(),
                l.reason.c_str());
  }
  if (q.gptq) {
    int done = 0, kept = 0;
    double e_near = 0, e_kept = 0;
    for (const LinearLayer& l : layers) {
      if (l.gptq_proxy < 0) continue;
      ++done;
      kept += l.gptq_used ? 1 : 0;
      e_near += std::sqrt(l.gptq_proxy_nearest);
      e_kept += std::sqrt(std::min(l.gptq_proxy, l.gptq_proxy_nearest));
    }
    std::printf("  weight rounding gptq: %d of %d quantized layers keep it; relative calibration output error, "
                "mean over layers, %.4f nearest -> %.4f (%.1f s)\n",
                kept, done, done ? e_near / done : 0.0, done ? e_kept / done : 0.0, gptq_seconds);
  }
  if (c != nullptr) {
    std::printf("  calibration: %d seeds x %d steps (%d graph runs%s)\n", c->seeds, c->steps, c->graph_runs,
                c->guided ? ", guided" : "");
    for (size_t r = 0; r < c->regions.size(); ++r) {
      std::printf("  gamma %-14s", c->regions[r].c_str());
      for (double v : c->gamma[r]) std::printf(" %.4f", v);
      std::printf("\n");
    }
    std::printf("  predictor gamma vs NVFP4 error: blocks n=%d pearson %.3f spearman %.3f; "
                "(block, step) n=%d pearson %.3f spearman %.3f; gamma(t-1) n=%d pearson %.3f spearman %.3f\n",
                c->n_block, c->pearson_block, c->spearman_block, c->n_step, c->pearson_step, c->spearman_step,
                c->n_lag, c->pearson_lag, c->spearman_lag);
  }
}

// The model image with Linear weights in one precision (0 fp32, 1 int8,
// 2 nvfp4) under the static rules, as it would be written.
std::vector<uint8_t> EmitWithWeights(Graph& g, const std::vector<Region>& regions, const Options& o,
                                     const std::string& name, int weights, WeightQuantizer* wq) {
  static const char* const kModes[] = {"fp32", "int8", "nvfp4"};
  QuantOptions q = o.quant;
  q.mode = kModes[weights];
  std::vector<LinearLayer> layers = PlanLinears(g, regions, q);
  wq->Prepare(layers);
  std::map<int, QuantWeightPtr> qmap;
  for (const LinearLayer& l : layers)
    if (l.precision != Precision::kFp32) qmap[l.node] = wq->Get(l, l.precision);
  for (const auto& kv : QuantizeConvWeights(g, o.conv_precision)) qmap[kv.first] = kv.second;
  ModelWriter w;
  Emit(g, regions, o.pipe, name, &w, &qmap);
  std::vector<uint8_t> image;
  Status st = w.Finish(&image);
  if (!st.ok()) Fail(kExitConvert, std::string("tuning model: ") + st.message());
  return image;
}

TuneReport RunTuning(Graph& g, const std::vector<Region>& regions, const Options& o, const std::string& name,
                     WeightQuantizer* wq) {
  std::vector<uint8_t> images[3];
  auto image = [&](int w) -> const std::vector<uint8_t>& {
    if (images[w].empty()) images[w] = EmitWithWeights(g, regions, o, name, w, wq);
    return images[w];
  };
  return Tune(image, o.tune);
}

Json TuneConfigJson(const TuneConfig& c) {
  return {{"config", DescribeConfig(c)}, {"weights", c.weights}, {"attention_precision", c.attention},
          {"cluster_err_tol", Fig(c.err_tol)},
          {"cache_policy", CachePolicyName(static_cast<CachePolicy>(c.cache_policy))},
          {"cache_threshold", Fig(c.cache_threshold)}, {"guidance_reuse_interval", c.guidance_interval},
          {"guidance_reuse_warmup", c.guidance_warmup}, {"guidance_reuse_order", c.guidance_order},
          {"token_reuse", Fig(c.token_reuse)}, {"rows_fraction", Fig(c.rows_fraction)},
          {"psnr", Fig(c.psnr)}, {"worst_psnr", Fig(c.worst_psnr)}, {"skip_fraction", Fig(c.skip_fraction)},
          {"exact_fraction", Fig(c.exact_fraction)}, {"predicted_s", Fig(c.seconds)}, {"keeps_target", c.ok},
          {"step", c.step}};
}

Json TuneJson(const TuneReport& r, const TuneOptions& t) {
  Json j = {{"target_psnr", Fig(t.target_psnr)}, {"margin_db", Fig(t.margin_db)}, {"objective", "cost model"},
            {"isa", r.isa}, {"isa_source", r.isa_source}, {"improved", r.improved},
            {"predicted_speedup", Fig(r.predicted_speedup)}, {"holdout_psnr", Fig(r.holdout_psnr)},
            {"holdout_worst_psnr", Fig(r.holdout_worst)}, {"holdout_measured_speedup", Fig(r.holdout_speedup)},
            {"generations", r.generations}, {"seconds", Fig(r.wall_seconds)}, {"chosen", TuneConfigJson(r.chosen)}};
  if (r.grid_ran) {
    j["grid_points"] = r.grid_points;
    j["grid_best"] = TuneConfigJson(r.grid_best);
    j["greedy_vs_grid_speedup"] = Fig(r.chosen.seconds > 0 ? r.grid_best.seconds / r.chosen.seconds : 0);
  }
  Json& trace = j["trace"] = Json::array();
  for (const TuneConfig& c : r.trace) trace.push_back(TuneConfigJson(c));
  return j;
}

void PrintTuneReport(const TuneReport& r, const TuneOptions& t) {
  std::printf("tuning for PSNR >= %g dB (+%g dB margin on calibration), cost model %s (%s): %d generations, "
              "%.0f s\n",
              t.target_psnr, t.margin_db, r.isa.c_str(), r.isa_source.c_str(), r.generations, r.wall_seconds);
  for (const TuneConfig& c : r.trace)
    std::printf("  %-8s %-66s PSNR %6.2f dB (worst %6.2f)  skipped %5.1f%%  exact %5.1f%%  rows %5.1f%%  "
                "predicted %7.2f s%s\n",
                c.step.c_str(), DescribeConfig(c).c_str(), c.psnr, c.worst_psnr, 100.0 * c.skip_fraction,
                100.0 * c.exact_fraction, 100.0 * c.rows_fraction, c.seconds, c.ok ? "" : "  (misses)");
  if (!r.improved) {
    std::printf("no approximation keeps %g dB on the calibration set: the model stays FP32\n", t.target_psnr);
    return;
  }
  std::printf("chosen: %s; calibration PSNR %.2f dB, predicted speed-up %.2fx\n", DescribeConfig(r.chosen).c_str(),
              r.chosen.psnr, r.predicted_speedup);
  if (r.grid_ran)
    std::printf("full grid (%d points): best %s, predicted %.2f s; the greedy choice reaches %.0f%% of its speed-up\n",
                r.grid_points, DescribeConfig(r.grid_best).c_str(), r.grid_best.seconds,
                r.chosen.seconds > 0 ? 100.0 * r.grid_best.seconds / r.chosen.seconds : 100.0);
  if (r.holdout_psnr >= 0.f)
    std::printf("held-back classes: PSNR %.2f dB (worst sample %.2f), measured speed-up %.2fx (CPU time)%s\n",
                r.holdout_psnr, r.holdout_worst, r.holdout_speedup,
                r.holdout_psnr < t.target_psnr ? "  -- below the target: the calibration set over-fits" : "");
}

// --null-cond: stores the unconditional embedding as a constant of graph 0
// and names it in the pipeline.
void AttachNullCondition(const Options& o, const Graph& g, const EmitResult& er, ModelWriter* w) {
  const PipelineInfo* p = w->pipeline();
  if (p == nullptr || p->condition_input < 0) {
    Fail(kExitUsage, "--null-cond needs a condition input (--roles NAME=condition)");
  }
  const Value& cond = g.values[er.tensor_values[p->condition_input]];
  auto arr = ReadNpy(o.null_cond);
  if (!arr.ok()) Fail(kExitUsage, "--null-cond: " + std::string(arr.status().message()));
  if (arr->dtype != fb::DType::F32) Fail(kExitUsage, "--null-cond: " + o.null_cond + " must hold float32 values");
  for (int64_t i = 0; i < arr->num_elements(); ++i) {
    if (!std::isfinite(arr->f32()[i])) Fail(kExitUsage, "--null-cond: " + o.null_cond + " holds a NaN or Inf");
  }
  int64_t per_sample = 1;
  for (size_t d = 1; d < cond.shape.size(); ++d) per_sample *= cond.shape[d];
  if (cond.dtype != kFloat || cond.shape.size() < 2 || arr->num_elements() != per_sample) {
    Fail(kExitUsage, "--null-cond: " + o.null_cond + " holds " + std::to_string(arr->num_elements()) +
                         " values; the condition input '" + cond.name + "' " + ShapeStr(cond.shape) +
                         " takes " + std::to_string(per_sample) + " float32 values per sample");
  }
  PipelineInfo q = *p;
  q.null_condition_tensor = w->AddConstant("null_condition", arr->shape, fb::DType::F32, arr->data.data(),
                                           arr->data.size());
  w->SetPipeline(q);
}

// --decoder: the VAE decoder as graph 1 of the same file, fed by a link with
// the sampled latent. Its weights share the data segment (equal buffers are
// stored once). No cache regions: the decoder runs once per sample.
void AddDecoderGraph(const Options& o, const std::string& name, ModelWriter* w) {
  const PipelineInfo* p = w->pipeline();
  if (p == nullptr || p->latent_input < 0) {
    Fail(kExitUsage, "--decoder needs pipeline metadata with a latent input (--roles x=latent,...)");
  }
  Graph d = ImportOnnx(o.decoder);
  std::vector<std::string> warnings;
  PrepareGraph(d, o.decoder_shapes, "", &warnings);
  for (const std::string& wmsg : warnings) std::fprintf(stderr, "edge-convert: note: decoder: %s\n", wmsg.c_str());
  if (d.inputs.size() != 1 || d.outputs.size() != 1) {
    Fail(kExitConvert, "--decoder: the decoder must have one input (the latent) and one output (pixels); " +
                               o.decoder + " has " + std::to_string(d.inputs.size()) + " and " +
                               std::to_string(d.outputs.size()));
  }
  // The sampled latent [C, H, W] feeds a [1, C, H, W] decoder, or tiles of a
  // smaller one (the loader's rule, checked here to name the files).
  const Value& z = d.values[d.inputs[0]];
  bool fits = z.dtype == kFloat && z.shape.size() == p->latent_shape.size() + 1 && z.shape[0] == 1;
  for (size_t i = 0; fits && i < p->latent_shape.size(); ++i) {
    const int64_t want = p->latent_shape[i], have = z.shape[i + 1];
    fits = have == want || (p->latent_shape.size() == 3 && i >= 1 && have > 0 && have < want);
  }
  if (!fits) {
    Fail(kExitUsage, "--decoder: the decoder input '" + z.name + "' " + ShapeStr(z.shape) +
                         " does not take the latent " + ShapeStr(p->latent_shape) +
                         " (it must be [1, C, H, W] of the latent, or smaller in H and W for tiles)");
  }
  const int graph = w->AddGraph("decoder");
  const std::map<int, QuantWeightPtr> convs = QuantizeConvWeights(d, o.conv_precision);
  EmitResult er = Emit(d, {}, PipelineFlags(), name, w, &convs, o.emit);
  w->SelectGraph(0);
  w->AddLink(0, p->latent_input, graph, er.tensor_of.at(d.inputs[0]));
}

// The prompt encoder: token ids [1, T] in, the condition embedding [1, ...]
// out, whose per-sample shape is the denoiser's condition input's.
void AddCondEncoderGraph(const Options& o, const std::string& name, const Graph& g, const EmitResult& main,
                         ModelWriter* w) {
  const PipelineInfo* p = w->pipeline();
  if (p == nullptr || p->condition_input < 0 || p->null_condition_tensor < 0) {
    Fail(kExitUsage, "--cond-encoder needs an embedding-conditioned model: --roles ...,NAME=condition with a float "
                     "condition input and --null-cond FILE.npy");
  }
  Graph e = ImportOnnx(o.cond_encoder);
  std::vector<std::string> warnings;
  PrepareGraph(e, {}, "", &warnings);
  for (const std::string& wmsg : warnings) std::fprintf(stderr, "edge-convert: note: cond encoder: %s\n", wmsg.c_str());
  if (e.inputs.size() != 1 || e.outputs.size() != 1) {
    Fail(kExitConvert, "--cond-encoder: the encoder must have one input (token ids) and one output (embeddings); " +
                           o.cond_encoder + " has " + std::to_string(e.inputs.size()) + " and " +
                           std::to_string(e.outputs.size()));
  }
  const Value& ids = e.values[e.inputs[0]];
  const Value& emb = e.values[e.outputs[0]];
  const Value& cond = g.values[main.tensor_values.at(static_cast<size_t>(p->condition_input))];
  bool fits = emb.dtype == kFloat && cond.dtype == kFloat && emb.shape.size() == cond.shape.size() &&
              !emb.shape.empty() && emb.shape[0] == 1;
  for (size_t i = 1; fits && i < emb.shape.size(); ++i) fits = emb.shape[i] == cond.shape[i];
  if (!fits) {
    Fail(kExitUsage, "--cond-encoder: the encoder output '" + emb.name + "' " + ShapeStr(emb.shape) +
                         " does not feed the condition input '" + cond.name + "' " + ShapeStr(cond.shape) +
                         " (it must be float32 [1, ...] of one sample's condition)");
  }
  if ((ids.dtype != kInt64 && ids.dtype != kInt32) || ids.shape.size() != 2 || ids.shape[0] != 1 || ids.shape[1] <= 0) {
    Fail(kExitUsage, "--cond-encoder: the input '" + ids.name + "' " + ShapeStr(ids.shape) +
                         " must be int64 or int32 token ids of shape [1, T]");
  }
  const int graph = w->AddGraph("cond_encoder");
  const std::map<int, QuantWeightPtr> convs = QuantizeConvWeights(e, o.conv_precision);
  EmitResult er = Emit(e, {}, PipelineFlags(), name, w, &convs, o.emit);
  w->SelectGraph(0);
  // The loader checks the shapes at the boundary (and names them).
  w->AddLink(graph, er.tensor_of.at(e.outputs[0]), 0, p->condition_input);
}

int Run(int argc, char** argv) {
  Options o = Parse(argc, argv);
  Graph g = ImportOnnx(o.in);
  std::map<std::string, int> before = CountOps(g, true);

  std::vector<std::string> warnings;
  std::vector<Region> regions = PrepareGraph(g, o.shapes, o.block_prefix, &warnings);
  for (const std::string& wmsg : warnings) std::fprintf(stderr, "edge-convert: note: %s\n", wmsg.c_str());

  ModelWriter w;
  std::string name = o.name;
  if (name.empty()) {
    name = o.in.substr(o.in.find_last_of('/') == std::string::npos ? 0 : o.in.find_last_of('/') + 1);
    if (name.size() > 5 && name.substr(name.size() - 5) == ".onnx") name.resize(name.size() - 5);
  }
  for (Node& n : g.nodes) {
    if (!n.dead && n.edge && n.etype == fb::OpType::Attention) {
      n.ea.attention_precision = o.attention_precision;
      n.ea.token_reuse = o.token_reuse;
    }
  }
  TuneReport tune_rep;
  const bool tuning = o.tune.target_psnr > 0.f;
  std::unique_ptr<WeightQuantizer> wq;  // the quantized weights of trials and file
  if (tuning) {
    // The tuner calibrates anyway: its INT8 / NVFP4 trials (and the file
    // after them) round with error feedback unless --weight-rounding nearest,
    // on statistics of its calibration classes only.
    o.quant.gptq = o.quant.rounding != 0;
    QuantOptions tq = o.quant;
    tq.calib_classes = o.tune.classes;
    if (tq.calib_classes.empty())
      for (int c = 0; c < std::min(std::max(o.pipe.info.num_classes, 1), 4); ++c) tq.calib_classes.push_back(c);
    if (o.pipe.info.num_classes <= 0) tq.calib_classes.clear();
    wq.reset(new WeightQuantizer(g, regions, o.pipe, name, tq));
    tune_rep = RunTuning(g, regions, o, name, wq.get());
    const TuneConfig& c = tune_rep.chosen;
    static const char* const kModes[] = {"fp32", "int8", "nvfp4"};
    o.quant.mode = kModes[c.weights];
    for (Node& n : g.nodes) {
      if (n.dead || !n.edge || n.etype != fb::OpType::Attention) continue;
      n.ea.attention_precision = static_cast<fb::AttentionPrecision>(c.attention);
      n.ea.sparse_mode = c.err_tol > 0.f ? 1 : 0;
      n.ea.sparse_err_tol = c.err_tol > 0.f ? c.err_tol : -1.f;
      n.ea.token_reuse = c.token_reuse;
    }
    if (c.guidance_interval > 1) {
      o.pipe.info.guidance_reuse_interval = c.guidance_interval;
      o.pipe.info.guidance_reuse_warmup = c.guidance_warmup;
      o.pipe.info.guidance_reuse_order = c.guidance_order;
    }
  }
  // Weight precision: static rules, then (mixed) calibration and allocation.
  std::vector<LinearLayer> layers = PlanLinears(g, regions, o.quant);
  if (!tuning) {
    o.quant.gptq = o.quant.rounding == 1 || (o.quant.rounding < 0 && o.quant.mode == "mixed");
    wq.reset(new WeightQuantizer(g, regions, o.pipe, name, o.quant));
  }
  wq->Prepare(layers);
  CalibResult calib;
  bool calibrated = false;
  OutputRankResult rank;
  bool ranked = false;
  double mixed_bits = 0;
  if (o.quant.mode == "mixed") {
    std::vector<CalibLayer> cl;
    for (size_t i = 0; i < layers.size(); ++i) {
      const LinearLayer& l = layers[i];
      if (!l.candidate || l.overridden) continue;
      CalibLayer c;
      c.layer = static_cast<int>(i);
      c.int8 = wq->Get(l, Precision::kInt8);
      c.nvfp4 = wq->Get(l, Precision::kNvfp4);
      cl.push_back(c);
    }
    if (!cl.empty()) {
      for (CalibLayer& c : cl) c.op = wq->OpOfNode(layers[c.layer].node);
      calib = Calibrate(wq->Fp32Image(), cl, &layers, o.quant);
      calibrated = true;
      if (o.quant.rank_by_output) {
        std::vector<int> listed;
        for (const CalibLayer& c : cl) listed.push_back(c.layer);
        auto image_with = [&](int i) {
          std::map<int, QuantWeightPtr> one;
          if (i >= 0) one[layers[listed[i]].node] = wq->Get(layers[listed[i]], Precision::kNvfp4);
          ModelWriter wi;
          Emit(g, regions, o.pipe, name, &wi, &one);
          std::vector<uint8_t> img;
          Status fst = wi.Finish(&img);
          if (!fst.ok()) Fail(kExitConvert, std::string("ranking model: ") + fst.message());
          return img;
        };
        rank = RankByOutput(image_with, &layers, listed, o.quant);
        ranked = true;
      }
      mixed_bits = AllocateMixed(&layers, o.quant);
    }
  }
  std::map<int, QuantWeightPtr> qmap;
  for (const LinearLayer& l : layers)
    if (l.precision != Precision::kFp32) qmap[l.node] = wq->Get(l, l.precision);
  wq->Annotate(&layers);
  const double gptq_seconds = wq->seconds();
  for (const auto& kv : QuantizeConvWeights(g, o.conv_precision)) qmap[kv.first] = kv.second;
  wq.reset();
  EmitResult er = Emit(g, regions, o.pipe, name, &w, &qmap, o.emit);
  if (!o.null_cond.empty()) AttachNullCondition(o, g, er, &w);
  CacheCalibReport cache_rep;
  if (o.cache_calibrate) {
    std::vector<uint8_t> image;
    Status fst = w.Finish(&image);
    if (!fst.ok()) Fail(kExitConvert, std::string("cache calibration model: ") + fst.message());
    cache_rep = CalibrateCache(image, o.cache);
    w.SetCacheCalibration(cache_rep.info);
    if (!o.json) {
      std::printf("cache calibration: %d generations, %d steps\n", cache_rep.generations, cache_rep.info.steps);
      std::printf("  tea rescaling:");
      for (float c : cache_rep.info.tea_poly) std::printf(" %.6g", c);
      std::printf("%s\n", cache_rep.info.tea_poly.empty() ? " identity (fit degenerate)" : "");
      for (const CacheCalibPoint& pt : cache_rep.grid)
        std::printf("  %-6s %-8g max skips %2d  PSNR %6.2f dB  skipped %5.1f%%%s\n",
                    CachePolicyName(static_cast<CachePolicy>(pt.policy)), pt.threshold, pt.max_skips, pt.psnr,
                    100.0 * pt.skip_fraction, pt.block_thresholds.empty() ? "" : "  (per-block)");
      for (const CachePolicyCalibrationInfo& e : cache_rep.info.policies) {
        std::printf("  target %4.1f dB: %-6s threshold %-8g max skips %2d  PSNR %6.2f dB  skipped %5.1f%%",
                    e.target_psnr, CachePolicyName(static_cast<CachePolicy>(e.policy)), e.threshold, e.max_skips,
                    e.psnr, 100.0 * e.skip_fraction);
        if (!e.block_thresholds.empty()) {
          std::printf("  per block:");
          for (float t : e.block_thresholds) std::printf(" %g", t);
        }
        std::printf("\n");
      }
    }
  }
  if (tuning) {
    // The chosen cache setting joins the calibration entries; Tuning names it.
    TuningInfo ti;
    const TuneConfig& c = tune_rep.chosen;
    ti.target_psnr = o.tune.target_psnr;
    ti.calib_psnr = c.psnr;
    ti.holdout_psnr = tune_rep.holdout_psnr;
    ti.predicted_speedup = static_cast<float>(tune_rep.predicted_speedup);
    ti.weights = c.weights;
    ti.attention_precision = c.attention;
    ti.attention_sparse = c.err_tol > 0.f ? 1 : 0;
    ti.token_reuse = c.token_reuse;
    if (!tune_rep.cache_info.policies.empty()) {
      CacheCalibrationInfo info = o.cache_calibrate ? cache_rep.info : tune_rep.cache_info;
      if (o.cache_calibrate) info.policies.push_back(tune_rep.cache_info.policies[0]);
      if (info.tea_poly.empty()) info.tea_poly = tune_rep.cache_info.tea_poly;
      if (info.mag_ratios.empty()) info.mag_ratios = tune_rep.cache_info.mag_ratios;
      if (info.steps == 0) info.steps = tune_rep.cache_info.steps;
      ti.cache_entry = static_cast<int>(info.policies.size()) - 1;
      w.SetCacheCalibration(info);
    }
    w.SetTuning(ti);
    if (!o.json) PrintTuneReport(tune_rep, o.tune);
  }
  if (!o.decoder.empty()) AddDecoderGraph(o, name, &w);
  if (!o.cond_encoder.empty()) AddCondEncoderGraph(o, name, g, er, &w);
  Status st = w.WriteFile(o.out);
  if (!st.ok()) Fail(kExitConvert, std::string("cannot write '") + o.out + "': " + st.message());
  struct stat sb;
  int64_t file_bytes = stat(o.out.c_str(), &sb) == 0 ? static_cast<int64_t>(sb.st_size) : -1;
  std::map<std::string, int> after = CountOps(g, false);

  if (o.json) {
    Json j = {{"input", o.in}, {"output", o.out}, {"ops_before", JsonCounts(before)},
              {"num_ops_before", Total(before)}, {"ops_after", JsonCounts(after)}, {"num_ops_after", Total(after)},
              {"parameters", er.parameters}, {"constant_bytes", er.constant_bytes}, {"file_bytes", file_bytes}};
    Json& jr = j["cache_regions"] = Json::array();
    for (const Region& r : regions) {
      jr.push_back({{"name", r.name}, {"first_op", r.first_op}, {"last_op", r.last_op},
                    {"input", g.values[r.input].name}, {"output", g.values[r.output].name}});
    }
    Json& jt = j["tensors"] = Json::array();
    for (int v : er.tensor_values) {
      const Value& val = g.values[v];
      jt.push_back({{"name", val.name}, {"shape", val.shape}, {"dtype", DTypeLabel(val.dtype)}, {"constant", val.c != nullptr}});
    }
    j["quantization"] =
        QuantJson(o.quant, layers, calibrated ? &calib : nullptr, ranked ? &rank : nullptr, mixed_bits, gptq_seconds);
    j["quantization"]["conv_precision"] = PrecisionName(o.conv_precision);
    if (tuning) j["tuning"] = TuneJson(tune_rep, o.tune);
    // Names come from the ONNX file: bytes that are not UTF-8 are replaced
    // (U+FFFD) rather than refused.
    std::fputs((j.dump(1, ' ', false, Json::error_handler_t::replace) + "\n").c_str(), stdout);
  } else if (o.report) {
    std::printf("edge-convert %s -> %s\n", o.in.c_str(), o.out.c_str());
    std::printf("ops before fusion: %d\n", Total(before));
    for (const auto& kv : before) std::printf("  %-22s %d\n", kv.first.c_str(), kv.second);
    std::printf("ops after fusion: %d\n", Total(after));
    for (const auto& kv : after) std::printf("  %-22s %d\n", kv.first.c_str(), kv.second);
    std::printf("parameters: %lld (%lld constant bytes)\n", static_cast<long long>(er.parameters),
                static_cast<long long>(er.constant_bytes));
    std::printf("file size: %lld bytes\n", static_cast<long long>(file_bytes));
    std::printf("cache regions: %zu\n", regions.size());
    for (const Region& r : regions)
      std::printf("  %-16s ops %d..%d  in %s  out %s\n", r.name.c_str(), r.first_op, r.last_op,
                  g.values[r.input].name.c_str(), g.values[r.output].name.c_str());
    std::printf("ops:\n");
    int idx = 0;
    for (const Node& n : g.nodes) {
      if (n.dead) continue;
      std::string io;
      for (int v : n.in) io += v < 0 ? std::string(" -") : " " + ShapeStr(g.values[v].shape) + (g.values[v].c ? "c" : "");
      io += " ->";
      for (int v : n.out) io += " " + ShapeStr(g.values[v].shape);
      std::printf("  %4d %-18s %-48s%s\n", idx++, EdgeOpName(n.etype), n.name.c_str(), io.c_str());
    }
    PrintQuantReport(o.quant, layers, calibrated ? &calib : nullptr, ranked ? &rank : nullptr, mixed_bits, gptq_seconds);
    std::printf("tensors: %zu\n", er.tensor_values.size());
    for (int v : er.tensor_values) {
      const Value& val = g.values[v];
      std::printf("  %-5s %-10s %-18s %s\n", DTypeLabel(val.dtype),
                  val.c ? "constant" : "activation", ShapeStr(val.shape).c_str(), val.name.c_str());
    }
  }
  return kExitOk;
}

}  // namespace
}  // namespace conv
}  // namespace edge

namespace {
// Error text can hold names from a hostile file: print it as plain ASCII.
std::string Printable(const std::string& s) {
  std::string o;
  for (unsigned char ch : s) {
    if (ch == '\n' || (ch >= 0x20 && ch < 0x7f)) {
      o += static_cast<char>(ch);
    } else {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02x", ch);
      o += b;
    }
  }
  return o;
}
}  // namespace

int main(int argc, char** argv) {
  // Weights are large and short-lived: keep freed memory in the heap for reuse
  // instead of returning it to the OS and faulting fresh pages in again.
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, INT_MAX);
  try {
    return edge::conv::Run(argc, argv);
  } catch (const edge::conv::ConvertError& e) {
    std::fprintf(stderr, "edge-convert: error: %s\n", Printable(e.what()).c_str());
    if (e.code == edge::conv::kExitUsage) std::fprintf(stderr, "(run 'edge-convert --help' for usage)\n");
    return e.code;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "edge-convert: error: out of memory\n");
    return edge::conv::kExitConvert;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "edge-convert: error: %s\n", e.what());
    return edge::conv::kExitConvert;
  }
}
