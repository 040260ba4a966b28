// Calibration for --precision mixed: runs the FP32 model (built in memory)
// through the runtime over a few sampler trajectories and measures, for each
// candidate Linear, how much its output changes when its weight is INT8 or
// NVFP4 (the runtime's own W8A8 / W4A8 kernels, per-token int8 activations),
// on the activations the FP32 model really produces.
//
// Trajectories: calib_trajectories.h (--calib-seeds seeds x --calib-steps
// steps of the model's sampler, with its guidance).
//
// Per graph run the session is invoked op by op (InvokeRange): just before a
// candidate Linear runs, its input is live and both quantized variants run on
// it; right after, its FP32 output is compared with theirs. Block signal per
// cache region and step: Gamma = |y - x|_1 / |x|_1 (region input x, output y).
// Sums are in double in a fixed order on one thread, so the result (and the
// allocation made from it) is reproducible.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "converter/quantize.h"

namespace edge {
namespace conv {

struct CalibLayer {
  int layer = -1;  // index into the LinearLayer list
  int op = -1;     // op index in the calibration model
  QuantWeightPtr int8, nvfp4;
};

struct CalibResult {
  int steps = 0, seeds = 0, graph_runs = 0;
  bool guided = false;
  std::vector<std::string> regions;
  std::vector<std::vector<double>> gamma;  // [region][step], mean over seeds
  // [calib layer][step]: relative L2 error at that step (over seeds).
  std::vector<std::vector<double>> err_int8_step, err_nvfp4_step;
  // Predictor check, over blocks: mean Gamma of a block vs the mean NVFP4
  // error of its calibrated layers; and over (block, step) pairs, with
  // Gamma of the same step and of the previous step (the paper's Gamma_{t-1}).
  double pearson_block = 0, spearman_block = 0;
  double pearson_step = 0, spearman_step = 0;
  double pearson_lag = 0, spearman_lag = 0;
  int n_block = 0, n_step = 0, n_lag = 0;
};

// `model`: the FP32 model file image (with pipeline metadata). Fills
// err_int8 / err_nvfp4 of the listed layers. Errors -> ConvertError.
CalibResult Calibrate(const std::vector<uint8_t>& model, const std::vector<CalibLayer>& calib,
                      std::vector<LinearLayer>* layers, const QuantOptions& o);

}  // namespace conv
}  // namespace edge
