// Step-cache calibration (edge-convert --cache-calibrate): runs whole
// generations through the runtime's Pipeline on the finished model image and
// picks, per cache policy and PSNR target, the threshold that skips the most
// block runs while the final samples stay within the target of the FP32
// output (the same model with every layer forced to FP32).
//
// 1. Reference: FP32 generations of the calibration set (classes x seeds, the
//    model's default steps and guidance; seeds start at 1000 so evaluation
//    seeds 0.. stay unseen).
// 2. Probe run (every block computed): per step the relative change of block
//    0's modulated input (TeaCache indicator), the mean relative change of
//    the block residuals, and the ratio of residual magnitudes. A degree-2
//    least-squares polynomial maps the first to the second (the TeaCache
//    rescaling); the per-step magnitude ratios are MagCache's curve.
// 3. Per policy, a fixed grid of thresholds (0.02 .. 0.32, 2^(1/2) apart) x
//    max skips in a row {2, 4} (static: intervals 2..6) is run
//    on the model as stored; for each target the grid point with the largest
//    skip fraction whose PSNR meets the target is kept (ties: the smaller
//    threshold). A policy that cannot meet a target stores threshold 0 (off).
// 4. tdc and taylor then get per-block thresholds: each block's threshold is
//    doubled alone (in parallel); the doublings that keep the target and skip
//    more are combined (if the combination fails, the best single one stays).
// Everything runs on one thread with fixed-order sums: the result is
// bit-reproducible.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/pipeline.h"
#include "runtime/writer/model_writer.h"

namespace edge {
namespace conv {

struct CacheCalibOptions {
  std::vector<float> targets = {35.f, 30.f};  // PSNR (dB) vs FP32; the first is the default
  std::vector<int64_t> classes;                // default: 0..min(num_classes, 8)-1
  int seeds = 1;
  int threads = 1;  // generations run in parallel, one session each (results do not depend on it)
};

struct CacheCalibPoint {
  int policy = 0;
  float threshold = 0.f, psnr = 0.f, skip_fraction = 0.f;
  int max_skips = 2;
  std::vector<float> block_thresholds;  // empty: `threshold` for every block
};

struct CacheCalibReport {
  CacheCalibrationInfo info;
  std::vector<CacheCalibPoint> grid;  // every run, in order
  int generations = 0;
};

// One generation with every block computed that records the signals the
// tea and mag policies need: fits info->tea_poly and sets info->mag_ratios
// (g.steps entries). `out` receives the samples.
void ProbeCacheSignals(Pipeline* pipeline, const GenerateOptions& g, float* out, CacheCalibrationInfo* info);

// `image`: the finished model file. Errors -> ConvertError.
CacheCalibReport CalibrateCache(const std::vector<uint8_t>& image, const CacheCalibOptions& o);

}  // namespace conv
}  // namespace edge
