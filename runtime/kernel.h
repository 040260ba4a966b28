// The contract between the session and each operator's kernel binding.
//
// Split in the TFLite Micro way: prepare() checks types and shapes and asks
// for scratch memory; the session then plans the arena; bind() runs once the
// data pointers are fixed (e.g. XNNPACK setup); eval() runs the op with no
// allocation, no locks and no logging.
#pragma once

#include <cstddef>
#include <cstdint>

#include <pthreadpool.h>

#include "runtime/model.h"
#include "runtime/status.h"

namespace edge {

struct KernelConfig;
struct KernelSettings;

// Where a graph run sits in a generation, for kernels that carry state from
// one denoising step to the next (attention's token reuse). The pipeline
// sets it before each run (Session::SetRunContext); a plain Invoke() has
// step -1, and such kernels then compute everything.
struct RunContext {
  int step = -1;             // sampler step, -1: not in a generation
  int steps = 0;             // steps of the generation
  int branch = 0;            // guidance branch run as its own call (0 or 1)
  uint64_t generation = 0;   // changes whenever the samples change (state resets)
};

struct KernelPrepareContext {
  // Inputs
  const Model* model = nullptr;
  const NodeInfo* node = nullptr;
  int node_index = 0;
  const KernelConfig* kernels = nullptr;  // the kernel of each family (null: scalar tier)
  const KernelSettings* options = nullptr;  // null: the defaults
  pthreadpool_t pool = nullptr;  // null: run on the calling thread
  // Outputs
  size_t scratch_bytes = 0;      // arena scratch, valid only during eval
  void* state = nullptr;         // kernel-private, freed with destroy()
  const char* kernel_name = "ref";  // which implementation was chosen (static string)
};

struct KernelEvalContext {
  const Model* model = nullptr;
  const NodeInfo* node = nullptr;
  void* const* tensor_data = nullptr;  // indexed by tensor id
  void* scratch = nullptr;             // 64-byte aligned, scratch_bytes long
  void* state = nullptr;
  pthreadpool_t pool = nullptr;
  const RunContext* run = nullptr;     // never null during eval

  const TensorInfo& tensor(int id) const { return model->tensor(id); }
  const TensorInfo& input_info(int i) const { return model->tensor(node->inputs[i]); }
  const TensorInfo& output_info(int i) const { return model->tensor(node->outputs[i]); }
  bool has_input(int i) const {
    return i < static_cast<int>(node->inputs.size()) && node->inputs[i] >= 0;
  }
  template <typename T>
  const T* input(int i) const { return static_cast<const T*>(tensor_data[node->inputs[i]]); }
  template <typename T>
  T* output(int i) const { return static_cast<T*>(tensor_data[node->outputs[i]]); }
};

struct OpKernel {
  Status (*prepare)(KernelPrepareContext* ctx);
  Status (*bind)(KernelEvalContext* ctx);  // may be null
  Status (*eval)(KernelEvalContext* ctx);
  void (*destroy)(void* state);            // may be null
};

// The binding for an op type (its row of the op traits table,
// runtime/op_traits.h), or null for a value outside the schema's OpType.
const OpKernel* GetOpKernel(fb::OpType type);

}  // namespace edge
