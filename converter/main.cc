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
#include <iostream>
#include <algorithm>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "converter/cache_calibrate.h"
#include "runtime/delta_cache.h"
#include "runtime/sampler.h"
#include "converter/calibrate.h"
#include "converter/convert_graph.h"
#include "converter/emit.h"
#include "converter/fold.h"
#include "converter/mixed_rank.h"
#include "converter/onnx_import.h"
#include "converter/passes.h"
#include "converter/quantize.h"
#include "converter/regions.h"
#include "converter/tune.h"
#include "converter/tune_cost.h"
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
    "  --decode-tile-overlap N latent pixels neighbouring tiles share (default 2)\n"
    "\n"
    "Weight precision (Linear weights only; see converter/quantize.h):\n"
    "  --precision fp32|int8|nvfp4|mixed   default fp32. int8: W8A8 per-channel; nvfp4: E2M1 +\n"
    "                          E4M3 block scales (W4A8); mixed: calibrate, NVFP4 for the least\n"
    "                          sensitive layers, INT8 for the rest. Weights are stored packed.\n"
    "  --precision-override PATTERN=fp32|int8|nvfp4   force Linear layers whose op or weight\n"
    "                          name matches the glob (repeatable; later ones win)\n"
    "  --fp32-layout packed|row-major   FP32 Linear weights: packed (default) in the GEMM's\n"
    "                          16-column panels, used in place from the mapped file; row-major\n"
    "                          as older files (the runtime then packs a copy at load)\n"
    "  --nvfp4-scales mse|amax  NVFP4 block scales: mse (default) the E4M3 scale of least squared\n"
    "                          error per 16-weight block; amax the reference amax/6 (edge-run's)\n"
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
    "Attention (stored as the model's default; edge-run --attention-precision overrides):\n"
    "  --attention-precision fp32|int8   default fp32. int8: smoothed-K INT8 Q.K^T, 15-bit P,\n"
    "                          INT8 V (ops/qs8_attention.h)\n"
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
    "Make my model fast (picks weight precision, attention precision and sparsity, step cache):\n"
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
    "  --tune-grid             also sweep the full grid and report its best point (slow)\n"
    "\n"
    "Exit codes: 0 ok, 2 usage, 3 bad input model, 4 conversion failure (also NaN/Inf weights\n"
    "being quantized).\n";

struct Options {
  std::string in, out, block_prefix, name;
  std::map<std::string, Shape> shapes;
  std::string decoder;                          // --decoder FILE.onnx
  std::string null_cond;                        // --null-cond FILE.npy
  std::map<std::string, Shape> decoder_shapes;  // --decoder-input
  bool report = false, json = false;
  PipelineFlags pipe;
  QuantOptions quant;
  bool target_bits_given = false, max_error_given = false;
  fb::AttentionPrecision attention_precision = fb::AttentionPrecision::FP32;
  bool cache_calibrate = false;
  CacheCalibOptions cache;
  bool attention_precision_given = false, precision_given = false, guidance_reuse_given = false;
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

Options Parse(int argc, char** argv) {
  Options o;
  auto need = [&](int& i) -> std::string {
    if (i + 1 >= argc) Fail(kExitUsage, std::string(argv[i]) + " needs a value");
    return argv[++i];
  };
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    PipelineInfo& p = o.pipe.info;
    if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (a == "-o" || a == "--output") {
      o.out = need(i);
    } else if (a == "--input" || a == "--decoder-input") {
      std::string v = need(i);
      size_t c = v.rfind(':');
      if (c == std::string::npos || c == 0) Fail(kExitUsage, a + " wants NAME:SHAPE, got '" + v + "'");
      (a == "--input" ? o.shapes : o.decoder_shapes)[v.substr(0, c)] = ParseDims(v.substr(c + 1), a);
    } else if (a == "--decoder") {
      o.decoder = need(i);
    } else if (a == "--null-cond") {
      o.null_cond = need(i);
      o.pipe.any = true;
    } else if (a == "--decode-tile-overlap") {
      const double v = ParseNum(need(i), a);
      if (!(v >= 0 && v <= 1024 && v == std::floor(v))) Fail(kExitUsage, a + ": an integer in [0, 1024]");
      p.decode_tile_overlap = static_cast<int>(v);
      o.pipe.any = true;
    } else if (a == "--block-prefix") {
      o.block_prefix = need(i);
    } else if (a == "--name") {
      o.name = need(i);
    } else if (a == "--report") {
      o.report = true;
    } else if (a == "--json") {
      o.json = true;
    } else if (a == "--sampler") {
      std::string v = need(i);
      if (v == "flow") p.sampler = fb::Sampler::FlowEuler;
      else if (v == "ddim") p.sampler = fb::Sampler::DDIM;
      else Fail(kExitUsage, "--sampler: flow or ddim");
      o.pipe.any = true;
    } else if (a == "--beta-schedule") {
      std::string v = need(i);
      if (v == "linear") p.beta_schedule = fb::BetaSchedule::Linear;
      else if (v == "scaled-linear") p.beta_schedule = fb::BetaSchedule::ScaledLinear;
      else Fail(kExitUsage, "--beta-schedule: linear or scaled-linear");
      o.pipe.any = true;
    } else if (a == "--beta-start" || a == "--beta-end") {
      (a == "--beta-start" ? p.beta_start : p.beta_end) = static_cast<float>(ParseNum(need(i), a));
      o.pipe.any = true;
    } else if (a == "--train-steps") {
      p.train_steps = static_cast<int>(ParseNum(need(i), a));
      o.pipe.any = true;
    } else if (a == "--steps") {
      p.default_steps = static_cast<int>(ParseNum(need(i), a));
      o.pipe.any = true;
    } else if (a == "--shift") {
      p.shift = static_cast<float>(ParseNum(need(i), a));
      o.pipe.any = true;
    } else if (a == "--guidance") {
      p.guidance_scale = static_cast<float>(ParseNum(need(i), a));
      o.pipe.any = true;
    } else if (a == "--guidance-reuse" || a == "--guidance-reuse-warmup") {
      const double v = ParseNum(need(i), a);
      if (!(v >= 0 && v <= 10000 && v == std::floor(v))) Fail(kExitUsage, a + ": an integer in [0, 10000]");
      (a == "--guidance-reuse" ? p.guidance_reuse_interval : p.guidance_reuse_warmup) = static_cast<int>(v);
      o.guidance_reuse_given = true;
      o.pipe.any = true;
    } else if (a == "--guidance-reuse-order") {
      const double v = ParseNum(need(i), a);
      if (v != 0 && v != 1) Fail(kExitUsage, "--guidance-reuse-order: 0 or 1");
      p.guidance_reuse_order = static_cast<int>(v);
      o.guidance_reuse_given = true;
      o.pipe.any = true;
    } else if (a == "--tune-guidance") {
      const std::string v = need(i);
      if (v != "none" && v != "reuse") Fail(kExitUsage, "--tune-guidance: reuse or none");
      o.tune.guidance_reuse = v == "reuse";
    } else if (a == "--latent") {
      p.latent_shape = ParseDims(need(i), a);
      if (p.latent_shape.size() != 3 && p.latent_shape.size() != 4) Fail(kExitUsage, "--latent: CxHxW or FxCxHxW");
      o.pipe.any = true;
    } else if (a == "--roles") {
      std::stringstream ss(need(i));
      std::string kv;
      while (std::getline(ss, kv, ',')) {
        size_t e = kv.find('=');
        if (e == std::string::npos) Fail(kExitUsage, "--roles wants NAME=ROLE,...");
        o.pipe.roles[kv.substr(0, e)] = kv.substr(e + 1);
      }
      o.pipe.any = true;
    } else if (a == "--num-classes") {
      p.num_classes = static_cast<int>(ParseNum(need(i), a));
      o.pipe.any = true;
    } else if (a == "--null-class") {
      p.null_condition = static_cast<int64_t>(ParseNum(need(i), a));
      o.pipe.any = true;
    } else if (a == "--prediction") {
      std::string v = need(i);
      if (v == "velocity") p.prediction = fb::Prediction::Velocity;
      else if (v == "epsilon") p.prediction = fb::Prediction::Epsilon;
      else if (v == "sample") p.prediction = fb::Prediction::Sample;
      else Fail(kExitUsage, "--prediction: velocity, epsilon or sample");
      o.pipe.any = true;
    } else if (a == "--output-kind") {
      std::string v = need(i);
      if (v == "pixels") p.output_kind = fb::OutputKind::Pixels;
      else if (v == "latent") p.output_kind = fb::OutputKind::Latent;
      else Fail(kExitUsage, "--output-kind: pixels or latent");
      o.pipe.any = true;
    } else if (a == "--timestep-scale") {
      p.timestep_scale = static_cast<float>(ParseNum(need(i), a));
      o.pipe.any = true;
    } else if (a == "--precision") {
      std::string v = need(i);
      if (v != "fp32" && v != "int8" && v != "nvfp4" && v != "mixed")
        Fail(kExitUsage, "--precision: fp32, int8, nvfp4 or mixed (got '" + v + "')");
      o.quant.mode = v;
      o.precision_given = true;
    } else if (a == "--fp32-layout") {
      const std::string v = need(i);
      if (v == "packed") o.emit.fp32_packed = true;
      else if (v == "row-major") o.emit.fp32_packed = false;
      else Fail(kExitUsage, "--fp32-layout: packed or row-major (got '" + v + "')");
    } else if (a == "--attention-precision") {
      std::string v = need(i);
      o.attention_precision_given = true;
      if (v == "fp32") o.attention_precision = fb::AttentionPrecision::FP32;
      else if (v == "int8") o.attention_precision = fb::AttentionPrecision::INT8;
      else Fail(kExitUsage, "--attention-precision: fp32 or int8 (got '" + v + "')");
    } else if (a == "--precision-override") {
      std::string v = need(i);
      size_t e = v.rfind('=');
      Precision p;
      if (e == std::string::npos || e == 0 || !ParsePrecision(v.substr(e + 1), &p))
        Fail(kExitUsage, "--precision-override wants PATTERN=fp32|int8|nvfp4, got '" + v + "'");
      o.quant.overrides.push_back({v.substr(0, e), p});
    } else if (a == "--mixed-rank") {
      std::string v = need(i);
      if (v == "output") o.quant.rank_by_output = true;
      else if (v == "error") o.quant.rank_by_output = false;
      else Fail(kExitUsage, "--mixed-rank: output or error (got '" + v + "')");
    } else if (a == "--calib-threads") {
      double v = ParseNum(need(i), a);
      if (!(v >= 1 && v <= 256 && v == std::floor(v))) Fail(kExitUsage, "--calib-threads: an integer in [1, 256]");
      o.quant.calib_threads = static_cast<int>(v);
    } else if (a == "--nvfp4-scales") {
      std::string v = need(i);
      if (v == "mse") o.quant.scale_search = true;
      else if (v == "amax") o.quant.scale_search = false;
      else Fail(kExitUsage, "--nvfp4-scales: mse or amax (got '" + v + "')");
    } else if (a == "--quant-min-size") {
      double v = ParseNum(need(i), a);
      if (v < 0 || v != std::floor(v) || v > 1e15) Fail(kExitUsage, "--quant-min-size: a count >= 0");
      o.quant.min_size = static_cast<int64_t>(v);
    } else if (a == "--final-layer") {
      std::string v = need(i);
      if (v == "fp32") o.quant.quantize_final = false;
      else if (v == "quantize") o.quant.quantize_final = true;
      else Fail(kExitUsage, "--final-layer: fp32 or quantize");
    } else if (a == "--target-bits") {
      double v = ParseNum(need(i), a);
      if (!(v > 0 && v <= 32)) Fail(kExitUsage, "--target-bits: a number in (0, 32]");
      o.quant.target_bits = v;
      o.target_bits_given = true;
    } else if (a == "--max-error") {
      double v = ParseNum(need(i), a);
      if (!(v >= 0 && std::isfinite(v))) Fail(kExitUsage, "--max-error: a number >= 0");
      o.quant.max_error = v;
      o.max_error_given = true;
    } else if (a == "--calib-steps" || a == "--calib-seeds") {
      double v = ParseNum(need(i), a);
      if (!(v >= 1 && v <= 1000 && v == std::floor(v))) Fail(kExitUsage, a + ": an integer in [1, 1000]");
      (a == "--calib-steps" ? o.quant.calib_steps : o.quant.calib_seeds) = static_cast<int>(v);
      if (a == "--calib-seeds") o.calib_seeds_given = true;
    } else if (a == "--calib-classes") {
      o.quant.calib_classes = ParseClassList(need(i), a);
      o.calib_classes_given = true;
    } else if (a == "--cache-calibrate") {
      o.cache_calibrate = true;
      // Optional list of targets: the next argument when it starts with a digit.
      if (i + 1 < argc && argv[i + 1][0] >= '0' && argv[i + 1][0] <= '9') {
        std::stringstream ss(need(i));
        std::string part;
        o.cache.targets.clear();
        while (std::getline(ss, part, ',')) {
          double v = ParseNum(part, a);
          if (!(v > 0 && v < 200)) Fail(kExitUsage, "--cache-calibrate: PSNR targets in (0, 200) dB");
          o.cache.targets.push_back(static_cast<float>(v));
        }
        if (o.cache.targets.empty()) Fail(kExitUsage, "--cache-calibrate: empty target list");
      }
    } else if (a == "--cache-calib-classes") {
      o.cache.classes = ParseClassList(need(i), a);
    } else if (a == "--cache-calib-threads") {
      double v = ParseNum(need(i), a);
      if (!(v >= 1 && v <= 256 && v == std::floor(v))) Fail(kExitUsage, "--cache-calib-threads: an integer in [1, 256]");
      o.cache.threads = static_cast<int>(v);
    } else if (a == "--cache-calib-seeds") {
      double v = ParseNum(need(i), a);
      if (!(v >= 1 && v <= 100 && v == std::floor(v))) Fail(kExitUsage, "--cache-calib-seeds: an integer in [1, 100]");
      o.cache.seeds = static_cast<int>(v);
    } else if (a == "--target-psnr" || a == "--target") {
      // --target-psnr 30, or --target quality=30dB
      std::string v = need(i);
      if (a == "--target") {
        if (v.rfind("quality=", 0) != 0) Fail(kExitUsage, "--target wants quality=DB, e.g. quality=30dB");
        v = v.substr(8);
        if (v.size() > 2 && v.substr(v.size() - 2) == "dB") v.resize(v.size() - 2);
      }
      const double t = ParseNum(v, a);
      if (!(t > 0 && t <= 98)) Fail(kExitUsage, a + ": a PSNR in dB in (0, 98]");
      o.tune.target_psnr = static_cast<float>(t);
    } else if (a == "--tune-margin") {
      const double t = ParseNum(need(i), a);
      if (!(t >= 0 && t <= 20)) Fail(kExitUsage, "--tune-margin: dB in [0, 20]");
      o.tune.margin_db = static_cast<float>(t);
    } else if (a == "--holdout-classes") {
      const std::string v = need(i);
      if (v == "none") o.tune.holdout_off = true;
      else o.tune.holdout = ParseClassList(v, a);
    } else if (a == "--tune-grid") {
      o.tune.grid = true;
    } else if (a == "--tune-threads") {
      double v = ParseNum(need(i), a);
      if (!(v >= 1 && v <= 256 && v == std::floor(v))) Fail(kExitUsage, "--tune-threads: an integer in [1, 256]");
      o.tune.threads = static_cast<int>(v);
    } else if (a == "--tune-isa") {
      o.tune.isa = need(i);
      if (FindThroughput(o.tune.isa) == nullptr)
        Fail(kExitUsage, "--tune-isa: unknown '" + o.tune.isa + "' (known: " + ThroughputNames() + ")");
    } else if (a == "--tune-cache") {
      std::stringstream ss(need(i));
      std::string part;
      o.tune.cache_policies.clear();
      o.tune_cache_off = false;
      while (std::getline(ss, part, ',')) {
        CachePolicy p;
        if (part == "none") o.tune_cache_off = true;
        else if (ParseCachePolicy(part.c_str(), &p) && p != CachePolicy::kNone) o.tune.cache_policies.push_back(static_cast<int>(p));
        else Fail(kExitUsage, "--tune-cache: policies from tdc,fb,tea,mag,static,taylor, or none");
      }
      if (o.tune_cache_off && !o.tune.cache_policies.empty()) Fail(kExitUsage, "--tune-cache: none with other policies");
    } else if (!a.empty() && a[0] == '-') {
      Fail(kExitUsage, "unknown option '" + a + "'");
    } else if (o.in.empty()) {
      o.in = a;
    } else {
      Fail(kExitUsage, "unexpected argument '" + a + "'");
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

std::string JsonStr(const std::string& s) {
  std::string o = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') { o += '\\'; o += ch; }
    else if (static_cast<unsigned char>(ch) < 0x20) { char b[8]; std::snprintf(b, sizeof b, "\\u%04x", ch); o += b; }
    else o += ch;
  }
  return o + "\"";
}

std::string JsonCounts(const std::map<std::string, int>& c) {
  std::string s = "{";
  bool first = true;
  for (const auto& kv : c) {
    s += (first ? "" : ", ") + JsonStr(kv.first) + ": " + std::to_string(kv.second);
    first = false;
  }
  return s + "}";
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

std::string QuantJson(const QuantOptions& q, const std::vector<LinearLayer>& layers, const CalibResult* c,
                      const OutputRankResult* rank, double mixed_bits) {
  std::ostringstream j;
  double f32 = 0, stored = 0;
  for (const LinearLayer& l : layers) {
    f32 += 4.0 * double(l.N) * double(l.K);
    stored += LayerBytes(l);
  }
  j << "{\"mode\": " << JsonStr(q.mode) << ", \"linear_weight_bytes_fp32\": " << Num(f32)
    << ", \"linear_weight_bytes\": " << Num(stored);
  if (q.mode == "mixed") {
    j << ", \"target_bits\": " << Num(q.target_bits) << ", \"max_error\": " << Num(q.max_error)
      << ", \"mixed_average_bits\": " << Num(mixed_bits) << ", \"mixed_rank\": \""
      << (q.rank_by_output ? "output" : "error") << "\"";
  }
  if (q.mode != "fp32") j << ", \"nvfp4_scales\": \"" << (q.scale_search ? "mse" : "amax") << "\"";
  if (rank != nullptr) {
    j << ", \"output_ranking\": {\"generations\": " << rank->generations << ", \"samples\": " << rank->samples
      << ", \"seconds\": " << Num(rank->seconds) << ", \"spearman_vs_error\": " << Num(rank->spearman_vs_error)
      << "}";
  }
  j << ",\n  \"layers\": [";
  for (size_t i = 0; i < layers.size(); ++i) {
    const LinearLayer& l = layers[i];
    j << (i ? "," : "") << "\n   {\"name\": " << JsonStr(l.name) << ", \"weight\": " << JsonStr(l.weight)
      << ", \"N\": " << l.N << ", \"K\": " << l.K << ", \"precision\": \"" << PrecisionName(l.precision)
      << "\", \"reason\": " << JsonStr(l.reason) << ", \"bits\": " << Num(StoredBits(l.precision, l.N, l.K))
      << ", \"region\": " << l.region;
    if (l.err_nvfp4 >= 0) j << ", \"err_int8\": " << Num(l.err_int8) << ", \"err_nvfp4\": " << Num(l.err_nvfp4);
    if (l.out_mse >= 0) j << ", \"out_mse\": " << Num(l.out_mse) << ", \"out_psnr\": " << Num(l.out_psnr);
    j << "}";
  }
  j << "]";
  if (c != nullptr) {
    j << ",\n  \"calibration\": {\"steps\": " << c->steps << ", \"seeds\": " << c->seeds
      << ", \"graph_runs\": " << c->graph_runs << ", \"guided\": " << (c->guided ? "true" : "false")
      << ", \"gamma\": [";
    for (size_t r = 0; r < c->regions.size(); ++r) {
      j << (r ? ", " : "") << "{\"region\": " << JsonStr(c->regions[r]) << ", \"per_step\": [";
      for (size_t t = 0; t < c->gamma[r].size(); ++t) j << (t ? ", " : "") << Num(c->gamma[r][t]);
      j << "]}";
    }
    j << "],\n   \"correlation\": {\"blocks\": {\"n\": " << c->n_block << ", \"pearson\": " << Num(c->pearson_block)
      << ", \"spearman\": " << Num(c->spearman_block) << "}, \"block_steps\": {\"n\": " << c->n_step
      << ", \"pearson\": " << Num(c->pearson_step) << ", \"spearman\": " << Num(c->spearman_step)
      << "}, \"block_steps_lag1\": {\"n\": " << c->n_lag << ", \"pearson\": " << Num(c->pearson_lag)
      << ", \"spearman\": " << Num(c->spearman_lag) << "}}}";
  }
  j << "}";
  return j.str();
}

void PrintQuantReport(const QuantOptions& q, const std::vector<LinearLayer>& layers, const CalibResult* c,
                      const OutputRankResult* rank, double mixed_bits) {
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
                                     const std::string& name, int weights) {
  static const char* const kModes[] = {"fp32", "int8", "nvfp4"};
  QuantOptions q = o.quant;
  q.mode = kModes[weights];
  std::vector<LinearLayer> layers = PlanLinears(g, regions, q);
  std::map<int, QuantWeightPtr> qmap;
  for (const LinearLayer& l : layers)
    if (l.precision != Precision::kFp32) qmap[l.node] = QuantizeWeight(g, l, l.precision, q.scale_search);
  ModelWriter w;
  Emit(g, regions, o.pipe, name, &w, &qmap);
  std::vector<uint8_t> image;
  Status st = w.Finish(&image);
  if (!st.ok()) Fail(kExitConvert, std::string("tuning model: ") + st.message());
  return image;
}

TuneReport RunTuning(Graph& g, const std::vector<Region>& regions, const Options& o, const std::string& name) {
  std::vector<uint8_t> images[3];
  auto image = [&](int w) -> const std::vector<uint8_t>& {
    if (images[w].empty()) images[w] = EmitWithWeights(g, regions, o, name, w);
    return images[w];
  };
  return Tune(image, o.tune);
}

std::string TuneConfigJson(const TuneConfig& c) {
  std::ostringstream j;
  j << "{\"config\": " << JsonStr(DescribeConfig(c)) << ", \"weights\": " << c.weights
    << ", \"attention_precision\": " << c.attention << ", \"cluster_err_tol\": " << Num(c.err_tol)
    << ", \"cache_policy\": " << JsonStr(CachePolicyName(static_cast<CachePolicy>(c.cache_policy)))
    << ", \"cache_threshold\": " << Num(c.cache_threshold) << ", \"guidance_reuse_interval\": " << c.guidance_interval
    << ", \"guidance_reuse_warmup\": " << c.guidance_warmup << ", \"guidance_reuse_order\": " << c.guidance_order
    << ", \"psnr\": " << Num(c.psnr)
    << ", \"worst_psnr\": " << Num(c.worst_psnr) << ", \"skip_fraction\": " << Num(c.skip_fraction)
    << ", \"exact_fraction\": " << Num(c.exact_fraction) << ", \"predicted_s\": " << Num(c.seconds)
    << ", \"keeps_target\": " << (c.ok ? "true" : "false") << ", \"step\": " << JsonStr(c.step) << "}";
  return j.str();
}

std::string TuneJson(const TuneReport& r, const TuneOptions& t) {
  std::ostringstream j;
  j << "{\"target_psnr\": " << Num(t.target_psnr) << ", \"margin_db\": " << Num(t.margin_db)
    << ", \"objective\": \"cost model\", \"isa\": " << JsonStr(r.isa) << ", \"isa_source\": "
    << JsonStr(r.isa_source) << ", \"improved\": " << (r.improved ? "true" : "false")
    << ", \"predicted_speedup\": " << Num(r.predicted_speedup) << ", \"holdout_psnr\": " << Num(r.holdout_psnr)
    << ", \"holdout_worst_psnr\": " << Num(r.holdout_worst) << ", \"holdout_measured_speedup\": "
    << Num(r.holdout_speedup) << ", \"generations\": " << r.generations << ", \"seconds\": "
    << Num(r.wall_seconds) << ",\n   \"chosen\": " << TuneConfigJson(r.chosen);
  if (r.grid_ran) {
    j << ",\n   \"grid_points\": " << r.grid_points << ", \"grid_best\": " << TuneConfigJson(r.grid_best)
      << ", \"greedy_vs_grid_speedup\": " << Num(r.chosen.seconds > 0 ? r.grid_best.seconds / r.chosen.seconds : 0);
  }
  j << ",\n   \"trace\": [";
  for (size_t i = 0; i < r.trace.size(); ++i) j << (i ? "," : "") << "\n    " << TuneConfigJson(r.trace[i]);
  j << "]}";
  return j.str();
}

void PrintTuneReport(const TuneReport& r, const TuneOptions& t) {
  std::printf("tuning for PSNR >= %g dB (+%g dB margin on calibration), cost model %s (%s): %d generations, "
              "%.0f s\n",
              t.target_psnr, t.margin_db, r.isa.c_str(), r.isa_source.c_str(), r.generations, r.wall_seconds);
  for (const TuneConfig& c : r.trace)
    std::printf("  %-8s %-66s PSNR %6.2f dB (worst %6.2f)  skipped %5.1f%%  exact %5.1f%%  predicted %7.2f s%s\n",
                c.step.c_str(), DescribeConfig(c).c_str(), c.psnr, c.worst_psnr, 100.0 * c.skip_fraction,
                100.0 * c.exact_fraction, c.seconds, c.ok ? "" : "  (misses)");
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
  EmitResult er = Emit(d, {}, PipelineFlags(), name, w, nullptr, o.emit);
  w->SelectGraph(0);
  w->AddLink(0, p->latent_input, graph, er.tensor_of.at(d.inputs[0]));
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
    if (!n.dead && n.edge && n.etype == fb::OpType::Attention) n.ea.attention_precision = o.attention_precision;
  }
  TuneReport tune_rep;
  const bool tuning = o.tune.target_psnr > 0.f;
  if (tuning) {
    tune_rep = RunTuning(g, regions, o, name);
    const TuneConfig& c = tune_rep.chosen;
    static const char* const kModes[] = {"fp32", "int8", "nvfp4"};
    o.quant.mode = kModes[c.weights];
    for (Node& n : g.nodes) {
      if (n.dead || !n.edge || n.etype != fb::OpType::Attention) continue;
      n.ea.attention_precision = static_cast<fb::AttentionPrecision>(c.attention);
      n.ea.sparse_mode = c.err_tol > 0.f ? 1 : 0;
      n.ea.sparse_err_tol = c.err_tol > 0.f ? c.err_tol : -1.f;
    }
    if (c.guidance_interval > 1) {
      o.pipe.info.guidance_reuse_interval = c.guidance_interval;
      o.pipe.info.guidance_reuse_warmup = c.guidance_warmup;
      o.pipe.info.guidance_reuse_order = c.guidance_order;
    }
  }
  // Weight precision: static rules, then (mixed) calibration and allocation.
  std::vector<LinearLayer> layers = PlanLinears(g, regions, o.quant);
  std::map<std::pair<int, int>, QuantWeightPtr> qcache;  // (weight value, precision)
  auto quantized = [&](const LinearLayer& l, Precision p) {
    QuantWeightPtr& q = qcache[{l.weight_value, static_cast<int>(p)}];
    if (!q) q = QuantizeWeight(g, l, p, o.quant.scale_search);
    return q;
  };
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
      c.int8 = quantized(l, Precision::kInt8);
      c.nvfp4 = quantized(l, Precision::kNvfp4);
      cl.push_back(c);
    }
    if (!cl.empty()) {
      std::vector<uint8_t> image;
      {
        ModelWriter w0;
        EmitResult er0 = Emit(g, regions, o.pipe, name, &w0);
        for (CalibLayer& c : cl) c.op = er0.op_of_node[layers[c.layer].node];
        Status fst = w0.Finish(&image);
        if (!fst.ok()) Fail(kExitConvert, std::string("calibration model: ") + fst.message());
      }
      calib = Calibrate(image, cl, &layers, o.quant);
      calibrated = true;
      if (o.quant.rank_by_output) {
        std::vector<int> listed;
        for (const CalibLayer& c : cl) listed.push_back(c.layer);
        auto image_with = [&](int i) {
          std::map<int, QuantWeightPtr> one;
          if (i >= 0) one[layers[listed[i]].node] = quantized(layers[listed[i]], Precision::kNvfp4);
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
    if (l.precision != Precision::kFp32) qmap[l.node] = quantized(l, l.precision);
  qcache.clear();
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
  Status st = w.WriteFile(o.out);
  if (!st.ok()) Fail(kExitConvert, std::string("cannot write '") + o.out + "': " + st.message());
  struct stat sb;
  int64_t file_bytes = stat(o.out.c_str(), &sb) == 0 ? static_cast<int64_t>(sb.st_size) : -1;
  std::map<std::string, int> after = CountOps(g, false);

  if (o.json) {
    std::ostringstream j;
    j << "{\n \"input\": " << JsonStr(o.in) << ",\n \"output\": " << JsonStr(o.out)
      << ",\n \"ops_before\": " << JsonCounts(before) << ",\n \"num_ops_before\": " << Total(before)
      << ",\n \"ops_after\": " << JsonCounts(after) << ",\n \"num_ops_after\": " << Total(after)
      << ",\n \"parameters\": " << er.parameters << ",\n \"constant_bytes\": " << er.constant_bytes
      << ",\n \"file_bytes\": " << file_bytes << ",\n \"cache_regions\": [";
    for (size_t k = 0; k < regions.size(); ++k) {
      const Region& r = regions[k];
      j << (k ? "," : "") << "\n  {\"name\": " << JsonStr(r.name) << ", \"first_op\": " << r.first_op
        << ", \"last_op\": " << r.last_op << ", \"input\": " << JsonStr(g.values[r.input].name)
        << ", \"output\": " << JsonStr(g.values[r.output].name) << "}";
    }
    j << "],\n \"tensors\": [";
    for (size_t k = 0; k < er.tensor_values.size(); ++k) {
      const Value& v = g.values[er.tensor_values[k]];
      j << (k ? "," : "") << "\n  {\"name\": " << JsonStr(v.name) << ", \"shape\": [";
      for (size_t d = 0; d < v.shape.size(); ++d) j << (d ? ", " : "") << v.shape[d];
      j << "], \"dtype\": \"" << DTypeLabel(v.dtype) << "\", \"constant\": "
        << (v.c ? "true" : "false") << "}";
    }
    j << "],\n \"quantization\": " << QuantJson(o.quant, layers, calibrated ? &calib : nullptr, ranked ? &rank : nullptr, mixed_bits);
    if (tuning) j << ",\n \"tuning\": " << TuneJson(tune_rep, o.tune);
    j << "\n}\n";
    std::fputs(j.str().c_str(), stdout);
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
    PrintQuantReport(o.quant, layers, calibrated ? &calib : nullptr, ranked ? &rank : nullptr, mixed_bits);
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
