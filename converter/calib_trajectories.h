// The calibration trajectories of edge-convert's weight passes (--precision
// mixed's per-layer errors, --weight-rounding gptq's input statistics): the
// FP32 model run op by op through the runtime over --calib-seeds seeds x
// --calib-steps steps of its sampler, so that a pass sees every op's input
// just before it runs and its output just after.
//
// Latents start from the runtime's seeded noise (sample k of seed s uses
// stream k, like Pipeline). Class-conditional models get classes from
// --calib-classes (default 0..num_classes-1, cycled over samples) and, when
// the batch is even and a null class exists, classifier-free guidance with
// the model's scale (cond/uncond halves of the batch, as Pipeline does).
// Other inputs (F32 conditions such as text context) get seeded Gaussian
// noise, integer ones zeros. One thread, fixed order: reproducible.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "converter/quantize.h"
#include "runtime/model.h"
#include "runtime/session.h"

namespace edge {
namespace conv {

struct CalibSession {
  std::unique_ptr<Model> model;
  std::unique_ptr<Session> session;  // one thread
  bool guided = false;
};

// Loads the FP32 model image (which must carry pipeline metadata with a
// latent and a timestep input; else kExitUsage naming `flag`) and makes its
// session. Errors -> ConvertError naming `context`.
CalibSession OpenCalibSession(const std::vector<uint8_t>& image, const std::string& flag,
                              const std::string& context);

// hook(op, step, after): called before (after = false) and after (true) op
// `op` of each graph run of step `step`. Exits with kExitConvert when the
// model's output goes non-finite.
// cover_classes: run at least as many seeds as it takes for every
// calibration class to appear once (a batch-2 export runs one guided sample
// per graph run: 16 classes take 16 seeds). Returns the seeds run.
using CalibOpHook = std::function<void(int op, int step, bool after)>;
int RunCalibTrajectories(CalibSession* cs, const QuantOptions& o, const std::string& context,
                         const CalibOpHook& hook, bool cover_classes = false);

}  // namespace conv
}  // namespace edge
