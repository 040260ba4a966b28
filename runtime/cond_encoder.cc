#include "runtime/cond_encoder.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <new>

namespace edge {

Result<std::unique_ptr<CondEncoder>> CondEncoder::Create(const Model& model, Session* session,
                                                         const GraphLinkInfo& link) {
  EDGE_CHECK_OR_RETURN(session != nullptr, StatusCode::kInvalidArgument, "condition encoder: null session");
  const Model& g = session->model();
  EDGE_CHECK_OR_RETURN(model.graph(link.from_graph) == &g, StatusCode::kInvalidArgument,
                       "condition encoder: the session does not run graph %d", link.from_graph);
  std::unique_ptr<CondEncoder> e(new (std::nothrow) CondEncoder());
  EDGE_CHECK_OR_RETURN(e != nullptr, StatusCode::kOutOfMemory, "condition encoder: out of memory");
  e->session_ = session;
  // The loader checked one integer input and the output's per-sample shape.
  e->in_ = g.inputs()[0];
  e->out_ = link.from_tensor;
  const TensorInfo& in = g.tensor(e->in_);
  const TensorInfo& out = g.tensor(e->out_);
  EDGE_CHECK_OR_RETURN(in.rank == 2 && in.dims[0] == 1 && in.dims[1] > 0 && out.dims[0] == 1,
                       StatusCode::kUnsupported,
                       "condition encoder graph '%s': token ids must be [1, T] and the output of batch 1 (got rank %d)",
                       g.graph_name(), in.rank);
  e->in_i32_ = in.dtype == fb::DType::I32;
  EDGE_CHECK_OR_RETURN(e->tokens_.Reset(static_cast<size_t>(in.dims[1])), StatusCode::kOutOfMemory,
                       "condition encoder: out of memory");
  e->out_elems_ = static_cast<size_t>(out.num_elements);
  return e;
}

Status CondEncoder::Encode(const int64_t* ids, size_t n, float* out) {
  const size_t T = tokens_.size();
  EDGE_CHECK_OR_RETURN(n > 0 && n <= T, StatusCode::kInvalidArgument,
                       "condition encoder: a prompt of %zu tokens (the encoder takes 1 to %zu)", n, T);
  int64_t* t = tokens_.data();
  for (size_t i = 0; i < T; ++i) t[i] = i < n ? ids[i] : 0;
  if (in_i32_) {
    // Narrowed in place, front to back: element i lands on bytes [4i, 4i+4),
    // inside the int64 elements already read.
    for (size_t i = 0; i < T; ++i) {
      const int64_t v = t[i];
      EDGE_CHECK_OR_RETURN(v >= INT32_MIN && v <= INT32_MAX, StatusCode::kInvalidArgument,
                           "condition encoder: token id %lld does not fit the graph's int32 input",
                           static_cast<long long>(v));
      const int32_t v32 = static_cast<int32_t>(v);
      std::memcpy(reinterpret_cast<unsigned char*>(t) + i * sizeof(int32_t), &v32, sizeof v32);
    }
  }
  EDGE_RETURN_IF_ERROR(session_->SetInput(in_, t, T * (in_i32_ ? sizeof(int32_t) : sizeof(int64_t))));
  EDGE_RETURN_IF_ERROR(session_->Invoke());
  std::memcpy(out, session_->data(out_), out_elems_ * sizeof(float));
  return Status::Ok();
}

Result<PromptEncoder> OpenPromptEncoder(const Model& model, SessionOptions options, size_t condition_elements) {
  const GraphLinkInfo* link = model.cond_encoder_link();
  EDGE_CHECK_OR_RETURN(link != nullptr, StatusCode::kUnsupported, "the model has no condition-encoder graph");
  options.external_arena = false;
  PromptEncoder pe;
  auto s = Session::Create(model.graph(link->from_graph), options);
  EDGE_RETURN_IF_ERROR(s.status());
  pe.session = std::move(s.value());
  auto e = CondEncoder::Create(model, pe.session.get(), *link);
  EDGE_RETURN_IF_ERROR(e.status());
  pe.encoder = std::move(e.value());
  EDGE_CHECK_OR_RETURN(pe.encoder->output_elements() == condition_elements, StatusCode::kInvalidModel,
                       "condition encoder: its output (%zu values) does not match the condition input (%zu)",
                       pe.encoder->output_elements(), condition_elements);
  return pe;
}

Status EncodePrompts(CondEncoder* encoder, const int64_t* const* ids, const size_t* counts, int num_prompts,
                     int num_samples, float* out) {
  EDGE_CHECK_OR_RETURN(encoder != nullptr && ids != nullptr && counts != nullptr && out != nullptr,
                       StatusCode::kInvalidArgument, "condition encoder: null argument");
  EDGE_CHECK_OR_RETURN(num_samples >= 1 && (num_prompts == 1 || num_prompts == num_samples),
                       StatusCode::kInvalidArgument, "condition encoder: %d prompts for %d samples (give 1 or %d)",
                       num_prompts, num_samples, num_samples);
  const size_t E = encoder->output_elements();
  for (int k = 0; k < num_samples; ++k) {
    float* dst = out + size_t(k) * E;
    if (k > 0 && num_prompts == 1) {
      std::memcpy(dst, out, E * sizeof(float));
      continue;
    }
    EDGE_CHECK_OR_RETURN(ids[k] != nullptr || counts[k] == 0, StatusCode::kInvalidArgument,
                         "condition encoder: prompt %d is null", k);
    EDGE_RETURN_IF_ERROR(encoder->Encode(ids[k], counts[k], dst));
    for (size_t i = 0; i < E; ++i) {
      EDGE_CHECK_OR_RETURN(std::isfinite(dst[i]), StatusCode::kNumericError,
                           "the condition encoder produced a NaN or Inf (prompt %d)", k);
    }
  }
  return Status::Ok();
}

}  // namespace edge
