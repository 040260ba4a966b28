#include "runtime/session.h"

#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "ops/kernel_config.h"
#include "runtime/memory_planner.h"
#include "runtime/threading.h"

namespace edge {
namespace {

const char* OpName(fb::OpType t) {
  const char* n = fb::EnumNameOpType(t);
  return (n != nullptr && n[0] != '\0') ? n : "?";
}

// Index of the first NaN or Inf, or -1.
int64_t FirstNonFinite(const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(x[i])) return i;
  }
  return -1;
}

}  // namespace

Result<std::unique_ptr<Session>> Session::Create(const Model* model,
                                                 const SessionOptions& options) {
  EDGE_CHECK_OR_RETURN(model != nullptr, StatusCode::kInvalidArgument, "Session: null model");
  EDGE_CHECK_OR_RETURN(options.num_threads >= 0 && options.num_threads <= 1024,
                       StatusCode::kInvalidArgument, "Session: threads must be in [0, 1024], got %d",
                       options.num_threads);
  std::unique_ptr<Session> s(new (std::nothrow) Session());
  EDGE_CHECK_OR_RETURN(s != nullptr, StatusCode::kOutOfMemory, "Session: out of memory");
  s->model_ = model;
  s->options_ = options;
  EDGE_RETURN_IF_ERROR(s->Init());
  return s;
}

Status Session::Init() {
  const Model& m = *model_;
  const int num_ops = m.num_nodes();
  const int num_tensors = m.num_tensors();

  // Threads: 1 runs inline (no pool); 0 means one per big core, so a
  // big.LITTLE board does not wait on its slow cores at every barrier.
  const int threads = options_.num_threads == 0 ? DefaultThreadCount() : options_.num_threads;
  if (threads != 1) {
    pool_ = pthreadpool_create(static_cast<size_t>(threads));
    EDGE_CHECK_OR_RETURN(pool_ != nullptr, StatusCode::kOutOfMemory,
                         "Session: cannot create a thread pool of %d threads", threads);
  }
  if (options_.pin_big_cores) {
    Status st = PinThreadPoolToBigCores(pool_);
    if (!st.ok() && st.code() != StatusCode::kUnsupported) return st.Prepend("Session: ");
  }

  const size_t ops = static_cast<size_t>(num_ops);
  if (!kernels_.Reset(ops) || !states_.Reset(ops) || !scratch_bytes_.Reset(ops) ||
      !scratch_ptrs_.Reset(ops) || !kernel_names_.Reset(ops, "") || !profile_.Reset(ops) ||
      !tensor_data_.Reset(static_cast<size_t>(num_tensors)) || !eval_ctx_.Reset(ops)) {
    return Status::Error(StatusCode::kOutOfMemory, "Session: out of memory for the op tables");
  }

  // 1. Pick kernels; let each check its op and ask for scratch.
  const KernelConfig& kernels = kernel_config();
  for (int i = 0; i < num_ops; ++i) {
    const NodeInfo& node = m.node(i);
    const OpKernel* k = GetOpKernel(node.type);
    if (k == nullptr || k->prepare == nullptr || k->eval == nullptr) {
      return Status::Error(StatusCode::kUnsupported, "op %d '%s': op type %s is not supported by this build",
                           i, node.name, OpName(node.type));
    }
    KernelPrepareContext pc;
    pc.model = model_;
    pc.node = &node;
    pc.node_index = i;
    pc.kernels = &kernels;
    pc.options = &options_;
    pc.pool = pool_;
    Status st = k->prepare(&pc);
    kernels_[i] = k;
    states_[i] = pc.state;  // owned even on failure, freed by the destructor
    if (!st.ok()) return st.Prepend("op %d '%s' (%s): ", i, node.name, OpName(node.type));
    scratch_bytes_[i] = pc.scratch_bytes;
    kernel_names_[i] = pc.kernel_name != nullptr ? pc.kernel_name : "";
  }

  // 2. Lifetimes of activations: [producer, last reader]. Graph inputs and
  // outputs live over the whole run (inputs keep their values across Invoke()
  // calls, so a caller may set them once); a cache region's input is kept
  // until the region ends (a skipped region reads it to rebuild its output).
  Array<int> first, last;
  if (!first.Reset(static_cast<size_t>(num_tensors), INT32_MAX) ||
      !last.Reset(static_cast<size_t>(num_tensors), -2)) {
    return Status::Error(StatusCode::kOutOfMemory, "Session: out of memory for tensor lifetimes");
  }
  for (int t : m.inputs()) first[t] = -1;
  for (int i = 0; i < num_ops; ++i) {
    const NodeInfo& node = m.node(i);
    for (int t : node.inputs) {
      if (t >= 0) last[t] = std::max(last[t], i);
    }
    for (int t : node.outputs) {
      first[t] = std::min(first[t], i);
      last[t] = std::max(last[t], i);
    }
  }
  for (int t : m.outputs()) last[t] = num_ops;
  for (int t : m.inputs()) last[t] = num_ops;
  for (const CacheRegionInfo& r : m.cache_regions()) {
    last[r.input] = std::max(last[r.input], r.last_op);
  }

  size_t num_requests = 0;
  for (int t = 0; t < num_tensors; ++t) {
    num_requests += !m.tensor(t).is_constant && first[t] != INT32_MAX;
  }
  for (int i = 0; i < num_ops; ++i) num_requests += scratch_bytes_[i] != 0;
  Array<PlanRequest> requests;
  Array<int> request_tensor;  // tensor id, or -(op+1) for scratch
  if (!requests.Reset(num_requests) || !request_tensor.Reset(num_requests)) {
    return Status::Error(StatusCode::kOutOfMemory, "Session: out of memory for the memory plan");
  }
  size_t k = 0;
  for (int t = 0; t < num_tensors; ++t) {
    const TensorInfo& info = m.tensor(t);
    if (info.is_constant || first[t] == INT32_MAX) continue;
    PlanRequest& r = requests[k];
    r.bytes = info.bytes;
    r.first = first[t];
    r.last = std::max(last[t], first[t]);
    request_tensor[k++] = t;
    sum_activation_bytes_ += info.bytes;
  }
  for (int i = 0; i < num_ops; ++i) {
    if (scratch_bytes_[i] == 0) continue;
    PlanRequest& r = requests[k];
    r.bytes = scratch_bytes_[i];
    r.first = r.last = i;
    request_tensor[k++] = -(i + 1);
  }

  // 3. One arena for everything.
  EDGE_ASSIGN_OR_RETURN(MemoryPlan plan, PlanMemory(requests.data(), requests.size(), kDataAlignment));
  arena_bytes_ = plan.arena_bytes;
  peak_live_bytes_ = plan.peak_live_bytes;
  if (options_.max_arena_bytes > 0 && arena_bytes_ > options_.max_arena_bytes)
    return Status::Error(StatusCode::kOutOfMemory,
                         "Session: the memory plan needs a %zu-byte arena, over the cap of %zu bytes", arena_bytes_,
                         options_.max_arena_bytes);
  plan_offsets_ = std::move(plan.offsets);
  plan_tensor_ = std::move(request_tensor);
  if (options_.external_arena) return Status::Ok();  // UseArena() binds
  if (arena_bytes_ > 0) {
    void* p = nullptr;
    if (posix_memalign(&p, kDataAlignment, arena_bytes_) != 0 || p == nullptr) {
      return Status::Error(StatusCode::kOutOfMemory, "Session: cannot allocate a %zu-byte arena",
                           arena_bytes_);
    }
    owned_arena_ = static_cast<uint8_t*>(p);
#ifdef MADV_HUGEPAGE
    if (arena_bytes_ >= (size_t(2) << 20)) madvise(owned_arena_, arena_bytes_, MADV_HUGEPAGE);
#endif
    // Touch every page now: first touch of fresh pages is slow here and must
    // not land inside the first Invoke().
    std::memset(owned_arena_, 0, arena_bytes_);
  }
  return BindArena(owned_arena_);
}

Status Session::UseArena(void* arena, size_t bytes) {
  EDGE_CHECK_OR_RETURN(options_.external_arena, StatusCode::kInvalidArgument,
                       "UseArena: the session was created with its own arena");
  EDGE_CHECK_OR_RETURN(arena_ == nullptr, StatusCode::kInvalidArgument, "UseArena: an arena is already bound");
  EDGE_CHECK_OR_RETURN(bytes >= arena_bytes_ && (arena != nullptr || arena_bytes_ == 0),
                       StatusCode::kInvalidArgument, "UseArena: %zu bytes given, the plan needs %zu", bytes,
                       arena_bytes_);
  EDGE_CHECK_OR_RETURN(reinterpret_cast<uintptr_t>(arena) % kDataAlignment == 0, StatusCode::kInvalidArgument,
                       "UseArena: the arena must be %zu-byte aligned", kDataAlignment);
  return BindArena(static_cast<uint8_t*>(arena));
}

Status Session::BindArena(uint8_t* arena) {
  const Model& m = *model_;
  const int num_ops = m.num_nodes();
  const int num_tensors = m.num_tensors();
  // A zero-byte plan still needs distinct non-null pointers for the bind()s
  // that check them; any aligned address serves, nothing is read or written.
  static uint64_t empty_arena[8] __attribute__((aligned(64)));
  arena_ = arena != nullptr ? arena : reinterpret_cast<uint8_t*>(empty_arena);
  for (size_t k = 0; k < plan_tensor_.size(); ++k) {
    const int t = plan_tensor_[k];
    uint8_t* ptr = arena_ + plan_offsets_[k];
    if (t >= 0) {
      tensor_data_[t] = ptr;
    } else {
      scratch_ptrs_[static_cast<size_t>(-t - 1)] = ptr;
    }
  }
  for (int t = 0; t < num_tensors; ++t) {
    const TensorInfo& info = m.tensor(t);
    if (info.is_constant) tensor_data_[t] = const_cast<uint8_t*>(info.data);
  }

  // 4. Contexts are built once; bind() sees the final pointers.
  for (int i = 0; i < num_ops; ++i) {
    KernelEvalContext& c = eval_ctx_[i];
    c.model = model_;
    c.node = &m.node(i);
    c.tensor_data = tensor_data_.data();
    c.scratch = scratch_ptrs_[i];
    c.state = states_[i];
    c.pool = pool_;
    c.run = &run_;
    if (kernels_[i]->bind != nullptr) {
      Status st = kernels_[i]->bind(&c);
      if (!st.ok()) return st.Prepend("op %d '%s' (%s): ", i, m.node(i).name, OpName(m.node(i).type));
    }
  }
  return Status::Ok();
}

Session::~Session() {
  for (size_t i = 0; i < states_.size(); ++i) {
    if (states_[i] != nullptr && kernels_[i] != nullptr && kernels_[i]->destroy != nullptr) {
      kernels_[i]->destroy(states_[i]);
    }
  }
  std::free(owned_arena_);
  if (pool_ != nullptr) pthreadpool_destroy(pool_);
}

Status Session::SetInput(int tensor, const void* data, size_t bytes) {
  EDGE_CHECK_OR_RETURN(tensor >= 0 && tensor < model_->num_tensors(), StatusCode::kInvalidArgument,
                       "SetInput: tensor %d out of range", tensor);
  const TensorInfo& info = model_->tensor(tensor);
  const auto& ins = model_->inputs();
  EDGE_CHECK_OR_RETURN(std::find(ins.begin(), ins.end(), tensor) != ins.end(),
                       StatusCode::kInvalidArgument, "SetInput: tensor %d '%s' is not a graph input",
                       tensor, info.name);
  EDGE_CHECK_OR_RETURN(bytes == info.bytes, StatusCode::kInvalidArgument,
                       "SetInput: input '%s' needs %zu bytes, got %zu", info.name, info.bytes, bytes);
  EDGE_CHECK_OR_RETURN(data != nullptr || bytes == 0, StatusCode::kInvalidArgument,
                       "SetInput: null data for '%s'", info.name);
  if (bytes > 0) std::memcpy(tensor_data_[tensor], data, bytes);
  return Status::Ok();
}

Status Session::Invoke() {
  if (model_->num_nodes() == 0) return Status::Ok();
  EDGE_CHECK_OR_RETURN(arena_ != nullptr, StatusCode::kInvalidArgument,
                       "Invoke: no arena is bound (the session was created with external_arena; call UseArena)");
  EDGE_RETURN_IF_ERROR(InvokeRange(0, model_->num_nodes() - 1));
  if (!options_.check_finite) return Status::Ok();
  for (int t : model_->outputs()) {
    const TensorInfo& info = model_->tensor(t);
    if (info.dtype != fb::DType::F32) continue;
    if (FirstNonFinite(static_cast<const float*>(tensor_data_[t]), info.num_elements) >= 0) {
      char what[160];
      std::snprintf(what, sizeof(what), "graph output '%s'", info.name);
      return LocateNonFinite(what);
    }
  }
  return Status::Ok();
}

Status Session::LocateNonFinite(const char* what) {
  const Model& m = *model_;
  auto find = [&](int t, int64_t* at) {
    const TensorInfo& info = m.tensor(t);
    if (info.dtype != fb::DType::F32 || tensor_data_[t] == nullptr) return false;
    *at = FirstNonFinite(static_cast<const float*>(tensor_data_[t]), info.num_elements);
    return *at >= 0;
  };
  int64_t at = -1;
  for (int t : m.inputs()) {
    if (find(t, &at)) {
      const float v = static_cast<const float*>(tensor_data_[t])[at];
      return Status::Error(StatusCode::kNumericError,
                           "%s is not finite: graph input '%s' holds %s at element %lld", what,
                           m.tensor(t).name, std::isnan(v) ? "NaN" : "Inf", static_cast<long long>(at));
    }
  }
  for (int i = 0; i < m.num_nodes(); ++i) {
    EDGE_RETURN_IF_ERROR(InvokeRange(i, i));
    const NodeInfo& n = m.node(i);
    for (int t : n.outputs) {
      if (!find(t, &at)) continue;
      const float v = static_cast<const float*>(tensor_data_[t])[at];
      return Status::Error(StatusCode::kNumericError,
                           "%s is not finite: op %d '%s' (%s) first produced %s, in output '%s' at element %lld",
                           what, i, n.name, OpName(n.type), std::isnan(v) ? "NaN" : "Inf", m.tensor(t).name,
                           static_cast<long long>(at));
    }
  }
  return Status::Error(StatusCode::kNumericError,
                       "%s is not finite (every op was finite when the graph ran again op by op)", what);
}

Status Session::InvokeRange(int first_op, int last_op) {
  EDGE_CHECK_OR_RETURN(first_op >= 0 && last_op < model_->num_nodes() && first_op <= last_op + 1,
                       StatusCode::kInvalidArgument, "InvokeRange: [%d, %d] outside [0, %d)", first_op,
                       last_op, model_->num_nodes());
  for (int i = first_op; i <= last_op; ++i) {
    Status st;
    if (options_.profile) {
      const auto t0 = std::chrono::steady_clock::now();
      st = kernels_[i]->eval(&eval_ctx_[i]);
      const auto t1 = std::chrono::steady_clock::now();
      profile_[i].total_ms += std::chrono::duration<double, std::milli>(t1 - t0).count();
      profile_[i].calls += 1;
    } else {
      st = kernels_[i]->eval(&eval_ctx_[i]);
    }
    if (!st.ok()) {
      const NodeInfo& n = model_->node(i);
      return st.Prepend("op %d '%s' (%s): ", i, n.name, OpName(n.type));
    }
  }
  return Status::Ok();
}

void Session::ResetProfile() {
  for (OpProfile& p : profile_) p = OpProfile();
}

}  // namespace edge
