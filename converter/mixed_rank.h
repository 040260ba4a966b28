// Ranking of Linear layers for --precision mixed by their effect on the final
// output (--mixed-rank output, the default): for each calibrated layer, one
// full generation (the model's sampler, steps and guidance) with only that
// layer's weight in NVFP4 and every other weight FP32, compared with the
// all-FP32 generation of the same samples. The layer's cost is the mean
// squared error it adds to the final samples; the allocation (AllocateMixed)
// lowers layers in increasing order of that cost per stored bit saved.
//
// A layer's own output error (calibrate.h) ranks poorly: an error in an early
// block or in the timestep/condition path is carried through every later step
// and block, one in a late MLP is damped (measured on the demo models; the
// rank correlation of both orders is reported).
//
// Calibration set: --calib-classes (default the first 4 classes) x
// --calib-seeds noise seeds from 1000 (the held-back evaluation seed 0 stays
// unseen). Each generation runs on one thread in its own session, so the
// result does not depend on --calib-threads.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "converter/quantize.h"

namespace edge {
namespace conv {

struct OutputRankResult {
  int generations = 0, samples = 0;
  double seconds = 0;             // wall time
  double spearman_vs_error = 0;   // rank correlation of output cost and own NVFP4 error
  std::vector<int> layers;        // indices into the LinearLayer list, as ranked
};

// image_with(i): the model image with only layers[i] in NVFP4 (i >= 0) or
// all FP32 (i = -1); called on the calling thread only. Fills out_mse /
// out_psnr of each listed layer.
OutputRankResult RankByOutput(const std::function<std::vector<uint8_t>(int)>& image_with,
                              std::vector<LinearLayer>* layers, const std::vector<int>& listed,
                              const QuantOptions& o);

}  // namespace conv
}  // namespace edge
