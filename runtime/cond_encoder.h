// The prompt stage of an embedding-conditioned model: runs the model's
// condition-encoder graph (the graph a link feeds into the denoiser's
// condition input, see Model::cond_encoder_link()) on one prompt's token ids
// and returns the embedding sequence the denoiser attends to.
//
// Graphs have fixed shapes: the encoder takes [1, T] token ids (int64 or
// int32). A prompt of fewer than T tokens is padded with token id 0 (the
// usual padding id; the graph sees the padded sequence, as it was exported),
// one of more is refused. Turning text into token ids (a tokenizer) is the
// caller's job: the runtime has none.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "runtime/array.h"
#include "runtime/model.h"
#include "runtime/session.h"
#include "runtime/status.h"

namespace edge {

class CondEncoder {
 public:
  // `session` runs graph link.from_graph of `model`.
  static Result<std::unique_ptr<CondEncoder>> Create(const Model& model, Session* session, const GraphLinkInfo& link);

  size_t max_tokens() const { return tokens_.size(); }
  // Floats of one embedding sequence (the denoiser's per-sample condition).
  size_t output_elements() const { return out_elems_; }

  // Encodes one prompt of `n` token ids (each in [0, vocabulary) when the
  // graph's embedding table bounds it; the op checks) into
  // output_elements() floats. Allocates nothing.
  Status Encode(const int64_t* ids, size_t n, float* out);

 private:
  CondEncoder() = default;

  Session* session_ = nullptr;
  int in_ = -1, out_ = -1;
  bool in_i32_ = false;
  Array<int64_t> tokens_;  // [T] (int32 inputs use the first half as int32)
  size_t out_elems_ = 0;
};

// The encoder with a session of its own on the linked graph (its own arena:
// the prompt stage runs once, before the denoising loop).
struct PromptEncoder {
  std::unique_ptr<Session> session;
  std::unique_ptr<CondEncoder> encoder;
};

// Opens the model's condition encoder (kUnsupported when it has none) and
// checks that it yields `condition_elements` floats, the denoiser's
// per-sample condition.
Result<PromptEncoder> OpenPromptEncoder(const Model& model, SessionOptions options, size_t condition_elements);

// The embeddings of `num_samples` samples from `num_prompts` prompts (1: the
// same prompt for every sample, or one per sample); prompt k is
// ids[k][0, counts[k]). out: num_samples * output_elements() floats. An
// embedding holding NaN or Inf is kNumericError.
Status EncodePrompts(CondEncoder* encoder, const int64_t* const* ids, const size_t* counts, int num_prompts,
                     int num_samples, float* out);

}  // namespace edge
