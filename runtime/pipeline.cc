#include "runtime/pipeline.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "runtime/noise.h"

namespace edge {
namespace {

int64_t RowElements(const TensorInfo& t) {
  int64_t n = 1;
  for (int i = 1; i < t.rank; ++i) n *= t.dims[i];
  return n;
}

}  // namespace

Result<std::unique_ptr<Pipeline>> Pipeline::Create(Session* session) {
  EDGE_CHECK_OR_RETURN(session != nullptr, StatusCode::kInvalidArgument, "pipeline: null session");
  const Model& m = session->model();
  const fb::Pipeline* meta = m.pipeline();
  EDGE_CHECK_OR_RETURN(meta != nullptr, StatusCode::kInvalidModel,
                       "pipeline: the model has no pipeline metadata (use --once to run the graph)");
  std::unique_ptr<Pipeline> p(new (std::nothrow) Pipeline());
  EDGE_CHECK_OR_RETURN(p != nullptr, StatusCode::kOutOfMemory, "pipeline: out of memory");
  p->session_ = session;
  p->meta_ = meta;
  p->latent_in_ = meta->latent_input();
  p->timestep_in_ = meta->timestep_input();
  p->cond_in_ = meta->condition_input();
  p->out_ = meta->output();
  EDGE_CHECK_OR_RETURN(p->latent_in_ >= 0 && p->timestep_in_ >= 0 && p->out_ >= 0,
                       StatusCode::kInvalidModel,
                       "pipeline: latent input, timestep input and output must be set");
  const TensorInfo& lat = m.tensor(p->latent_in_);
  const TensorInfo& ts = m.tensor(p->timestep_in_);
  const TensorInfo& out = m.tensor(p->out_);
  EDGE_CHECK_OR_RETURN(lat.dtype == fb::DType::F32 && lat.rank >= 2, StatusCode::kInvalidModel,
                       "pipeline: latent input '%s' must be F32 with a batch axis", lat.name);
  p->batch_ = static_cast<int>(lat.dims[0]);
  EDGE_CHECK_OR_RETURN(p->batch_ >= 1, StatusCode::kInvalidModel, "pipeline: batch must be >= 1");
  EDGE_CHECK_OR_RETURN(ts.dtype == fb::DType::F32 && ts.num_elements == p->batch_,
                       StatusCode::kInvalidModel, "pipeline: timestep input '%s' must be F32 [%d]",
                       ts.name, p->batch_);
  EDGE_CHECK_OR_RETURN(out.dtype == fb::DType::F32 && out.rank >= 1 && out.dims[0] == p->batch_,
                       StatusCode::kInvalidModel, "pipeline: output '%s' must be F32 with batch %d",
                       out.name, p->batch_);

  const bool shape_ok = meta->latent_shape() != nullptr
                            ? p->latent_shape_.Assign(meta->latent_shape()->begin(), meta->latent_shape()->end())
                            : p->latent_shape_.Assign(lat.dims + 1, lat.dims + lat.rank);
  EDGE_CHECK_OR_RETURN(shape_ok, StatusCode::kOutOfMemory, "pipeline: out of memory");
  size_t elems = 1;
  for (int64_t d : p->latent_shape_) elems *= static_cast<size_t>(d);
  p->latent_elems_ = elems;
  EDGE_CHECK_OR_RETURN(static_cast<int64_t>(elems) == RowElements(lat), StatusCode::kInvalidModel,
                       "pipeline: latent shape has %zu elements per sample but input '%s' has %lld",
                       elems, lat.name, static_cast<long long>(RowElements(lat)));
  p->out_elems_per_row_ = static_cast<size_t>(RowElements(out));
  // A learned-sigma model outputs 2C channels; the prediction is the first C
  // (channel-first layout), i.e. the first latent_elems_ values of each row.
  EDGE_CHECK_OR_RETURN(p->out_elems_per_row_ >= elems, StatusCode::kInvalidModel,
                       "pipeline: output '%s' has fewer elements per sample than the latent", out.name);

  if (p->cond_in_ >= 0) {
    const TensorInfo& c = m.tensor(p->cond_in_);
    const bool ids = (c.dtype == fb::DType::I64 || c.dtype == fb::DType::I32) && c.num_elements == p->batch_;
    const bool embedding = c.dtype == fb::DType::F32 && c.rank >= 2 && c.dims[0] == p->batch_;
    EDGE_CHECK_OR_RETURN(ids || embedding, StatusCode::kUnsupported,
                         "pipeline: condition input '%s' must be class ids (I32/I64 [%d]) or embeddings (F32 [%d, ...])",
                         c.name, p->batch_, p->batch_);
    if (embedding) {
      p->cond_elems_ = static_cast<size_t>(c.num_elements / p->batch_);
      if (meta->null_condition_tensor() >= 0) {
        p->null_embedding_ = reinterpret_cast<const float*>(m.tensor(meta->null_condition_tensor()).data);
      }
    }
  }
  const size_t b = static_cast<size_t>(p->batch_);
  EDGE_CHECK_OR_RETURN(p->x_.Reset(b * elems) && p->cond_pred_.Reset(b * elems) &&
                           p->uncond_pred_.Reset(b * elems) && p->row_buf_.Reset(b * elems) &&
                           p->cond_ids_.Reset(b),
                       StatusCode::kOutOfMemory, "pipeline: out of memory for %zu latent values", b * elems);
  return p;
}

int Pipeline::samples_per_run(bool guided, bool reuse) const {
  if (guided && !reuse && batch_ % 2 == 0) return batch_ / 2;
  return batch_;
}

Status Pipeline::RunGraph(DeltaCache* cache, int branch, int step, int steps) {
  stats_.graph_runs += 1;
  RunContext run;
  run.step = step;
  run.steps = steps;
  run.branch = branch;
  run.generation = generation_;
  session_->SetRunContext(run);
  Status st = cache->Run(branch, step, steps);
  // A later plain Invoke() is not part of this generation.
  session_->SetRunContext(RunContext());
  if (st.code() == StatusCode::kNumericError) st.Prepend("generate: step %d: ", step);  // check_finite
  return st;
}

// Writes `rows` latent rows (from x_rows, which has x_stride_rows rows; rows
// beyond it repeat the last) plus timestep and condition ids into the inputs.
Status Pipeline::FillInputs(const float* x_rows, int rows, int x_stride_rows, const int64_t* conds,
                            float model_t) {
  const Model& m = session_->model();
  float* lat = static_cast<float*>(session_->data(latent_in_));
  for (int r = 0; r < rows; ++r) {
    const int src = r < x_stride_rows ? r : x_stride_rows - 1;
    std::memcpy(lat + size_t(r) * latent_elems_, x_rows + size_t(src) * latent_elems_,
                latent_elems_ * sizeof(float));
  }
  float* t = static_cast<float*>(session_->data(timestep_in_));
  for (int r = 0; r < rows; ++r) t[r] = model_t;
  if (cond_in_ >= 0 && cond_elems_ > 0) {
    // Embeddings: the row's sample, or the null embedding.
    float* c = static_cast<float*>(session_->data(cond_in_));
    for (int r = 0; r < rows; ++r) {
      const float* src = conds[r] < 0 ? null_embedding_ : cond_src_ + size_t(conds[r]) * cond_elems_;
      std::memcpy(c + size_t(r) * cond_elems_, src, cond_elems_ * sizeof(float));
    }
  } else if (cond_in_ >= 0) {
    void* c = session_->data(cond_in_);
    const bool i64 = m.tensor(cond_in_).dtype == fb::DType::I64;
    for (int r = 0; r < rows; ++r) {
      if (i64) {
        static_cast<int64_t*>(c)[r] = conds[r];
      } else {
        static_cast<int32_t*>(c)[r] = static_cast<int32_t>(conds[r]);
      }
    }
  }
  return Status::Ok();
}

Status Pipeline::Generate(const GenerateOptions& o, float* out) {
  EDGE_CHECK_OR_RETURN(out != nullptr, StatusCode::kInvalidArgument, "generate: null output");
  EDGE_CHECK_OR_RETURN(o.num_samples >= 1 && o.num_samples <= 100000, StatusCode::kInvalidArgument,
                       "generate: num_samples must be in [1, 100000], got %d", o.num_samples);
  const int steps = o.steps > 0 ? o.steps : meta_->default_steps();
  const float guidance = o.guidance >= 0.f ? o.guidance : meta_->guidance_scale();
  EDGE_CHECK_OR_RETURN(std::isfinite(guidance), StatusCode::kInvalidArgument,
                       "generate: guidance must be finite");
  const bool guided = cond_in_ >= 0 && guidance != 1.f;
  EDGE_CHECK_OR_RETURN(o.classes.empty() || static_cast<int>(o.classes.size()) == o.num_samples,
                       StatusCode::kInvalidArgument, "generate: %zu classes for %d samples",
                       o.classes.size(), o.num_samples);
  const int num_classes = meta_->num_classes();
  for (int64_t c : o.classes) {
    EDGE_CHECK_OR_RETURN(num_classes <= 0 || (c >= 0 && c < num_classes),
                         StatusCode::kInvalidArgument, "generate: class %lld outside [0, %d)",
                         static_cast<long long>(c), num_classes);
  }
  const bool embedding = cond_elems_ > 0;
  if (embedding) {
    EDGE_CHECK_OR_RETURN(o.condition != nullptr, StatusCode::kInvalidArgument,
                         "generate: the model is conditioned on embeddings of %zu values per sample "
                         "(edge-run --cond FILE.npy)",
                         cond_elems_);
    EDGE_CHECK_OR_RETURN(o.classes.empty(), StatusCode::kInvalidArgument,
                         "generate: the model takes condition embeddings, not class ids");
    for (size_t j = 0; j < size_t(o.num_samples) * cond_elems_; ++j) {
      EDGE_CHECK_OR_RETURN(std::isfinite(o.condition[j]), StatusCode::kInvalidArgument,
                           "generate: condition embedding of sample %zu is not finite at element %zu", j / cond_elems_,
                           j % cond_elems_);
    }
  }
  if (guided) {
    EDGE_CHECK_OR_RETURN(embedding ? null_embedding_ != nullptr : meta_->null_condition() >= 0,
                         StatusCode::kInvalidModel, "generate: guidance needs the model's %s",
                         embedding ? "null embedding (edge-convert --null-cond)" : "null condition id");
  }
  cond_src_ = o.condition;
  const int64_t null_id = embedding ? -1 : meta_->null_condition();
  EDGE_ASSIGN_OR_RETURN(Sampler sampler, Sampler::Create(SamplerConfigFromModel(meta_), steps));

  // Guidance reuse: interval -1 takes the model's stored default.
  GuidanceReuseOptions gr = o.guidance_reuse;
  EDGE_CHECK_OR_RETURN(gr.interval >= -1, StatusCode::kInvalidArgument,
                       "guidance reuse: interval must be -1 (the model's default) or in [0, 10000], got %d",
                       gr.interval);
  if (gr.interval < 0) {
    gr.interval = meta_->guidance_reuse_interval();
    gr.warmup_steps = meta_->guidance_reuse_warmup();
    gr.order = meta_->guidance_reuse_order();
  }
  EDGE_RETURN_IF_ERROR(ValidateGuidanceReuse(gr));
  bool reuse = guided && GuidanceReuseEnabled(gr);
  if (reuse && batch_ % 2 == 0) {
    // A batch that pairs cond and uncond rows runs n samples in
    // ceil(n / (B/2)) calls per step; apart, ceil(n / B) chunks need two calls
    // on computed steps and one on reused steps. Reuse only where that is
    // fewer calls (a half-empty batch would make it slower).
    int reused = 0;
    for (int i = 0; i < steps; ++i) reused += GuidanceComputeStep(gr, i, steps) ? 0 : 1;
    const int64_t half = batch_ / 2;
    const int64_t paired_calls = (o.num_samples + half - 1) / half * steps;
    const int64_t apart_calls = (o.num_samples + batch_ - 1) / batch_ * (2 * int64_t(steps) - reused);
    reuse = apart_calls < paired_calls;
  }
  const int per_run = samples_per_run(guided, reuse);
  const bool paired = guided && !reuse && batch_ % 2 == 0;
  EDGE_RETURN_IF_ERROR(reuse_.Init(gr, reuse ? per_run : 0, latent_elems_));
  EDGE_ASSIGN_OR_RETURN(std::unique_ptr<DeltaCache> cache,
                        DeltaCache::Create(session_, o.cache, guided && !paired ? 2 : 1, steps));
  const int num_chunks = (o.num_samples + per_run - 1) / per_run;
  const size_t L = latent_elems_;
  const float* pred_src = static_cast<const float*>(session_->data(out_));
  stats_ = GenerateStats();
  EDGE_CHECK_OR_RETURN(stats_.guidance_steps.Reset(steps, guided ? 'c' : '-'), StatusCode::kOutOfMemory,
                       "generate: out of memory for %d steps", steps);
  stats_.guidance_reuse = reuse ? gr : GuidanceReuseOptions();
  const auto t_start = std::chrono::steady_clock::now();

  for (int chunk = 0; chunk < num_chunks; ++chunk) {
    const int s0 = chunk * per_run;
    const int n = std::min(per_run, o.num_samples - s0);
    chunk_first_ = s0;
    chunk_count_ = n;
    generation_ += 1;
    cache->Reset();
    reuse_.Reset();
    for (int k = 0; k < n; ++k) {
      float* xk = x_.data() + size_t(k) * L;
      if (o.noise != nullptr) {
        std::memcpy(xk, o.noise + size_t(s0 + k) * L, L * sizeof(float));
      } else {
        GaussianNoise(o.seed, static_cast<uint64_t>(s0 + k), xk, L);
      }
      for (size_t j = 0; j < L; ++j) {
        EDGE_CHECK_OR_RETURN(std::isfinite(xk[j]), StatusCode::kNumericError,
                             "generate: initial noise of sample %d is not finite", s0 + k);
      }
    }
    for (int i = 0; i < steps; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      const float mt = sampler.model_timestep(i);
      // Conditional pass (and, paired, the unconditional half of the batch).
      for (int r = 0; r < batch_; ++r) {
        const int k = paired ? (r % per_run) : r;
        int64_t cls = 0;
        const int sample = s0 + std::min(k, n - 1);
        if (embedding) cls = sample;
        else if (!o.classes.empty()) cls = o.classes[sample];
        else if (num_classes > 0) cls = sample % num_classes;
        cond_ids_[r] = (paired && r >= per_run) ? null_id : cls;
      }
      if (paired) {
        // rows [0, n) and [per_run, per_run + n) both hold the current latents
        for (int r = 0; r < batch_; ++r) {
          const int k = std::min(r % per_run, n - 1);
          std::memcpy(row_buf_.data() + size_t(r) * L, x_.data() + size_t(k) * L, L * sizeof(float));
        }
        EDGE_RETURN_IF_ERROR(FillInputs(row_buf_.data(), batch_, batch_, cond_ids_.data(), mt));
      } else {
        EDGE_RETURN_IF_ERROR(FillInputs(x_.data(), batch_, n, cond_ids_.data(), mt));
      }
      EDGE_RETURN_IF_ERROR(RunGraph(cache.get(), 0, i, steps));
      for (int k = 0; k < n; ++k) {
        std::memcpy(cond_pred_.data() + size_t(k) * L, pred_src + size_t(k) * out_elems_per_row_,
                    L * sizeof(float));
        if (paired) {
          std::memcpy(uncond_pred_.data() + size_t(k) * L,
                      pred_src + size_t(per_run + k) * out_elems_per_row_, L * sizeof(float));
        }
      }
      if (guided && !paired && GuidanceComputeStep(gr, i, steps)) {
        for (int r = 0; r < batch_; ++r) cond_ids_[r] = null_id;
        EDGE_RETURN_IF_ERROR(FillInputs(x_.data(), batch_, n, cond_ids_.data(), mt));
        EDGE_RETURN_IF_ERROR(RunGraph(cache.get(), 1, i, steps));
        stats_.uncond_runs += 1;
        for (int k = 0; k < n; ++k) {
          std::memcpy(uncond_pred_.data() + size_t(k) * L, pred_src + size_t(k) * out_elems_per_row_,
                      L * sizeof(float));
          if (reuse) {
            reuse_.Record(k, i, cond_pred_.data() + size_t(k) * L, uncond_pred_.data() + size_t(k) * L);
          }
        }
        if (reuse) reuse_.Commit(i);
      } else if (guided && !paired) {
        // The unconditional call is left out: estimate it from the guidance
        // direction of the last computed steps.
        stats_.uncond_reused += 1;
        stats_.guidance_steps[i] = 'r';
        for (int k = 0; k < n; ++k) {
          reuse_.Estimate(k, i, cond_pred_.data() + size_t(k) * L, uncond_pred_.data() + size_t(k) * L);
        }
      }
      for (int k = 0; k < n; ++k) {
        float* pk = cond_pred_.data() + size_t(k) * L;
        if (guided) {
          const float* uk = uncond_pred_.data() + size_t(k) * L;
          for (size_t j = 0; j < L; ++j) pk[j] = uk[j] + guidance * (pk[j] - uk[j]);
        }
        for (size_t j = 0; j < L; ++j) {
          if (!std::isfinite(pk[j])) {
            char what[96];
            std::snprintf(what, sizeof(what), "generate: the prediction at step %d (sample %d)", i, s0 + k);
            // With check_finite, name the op (the graph runs again, op by op).
            if (session_->options().check_finite) return session_->LocateNonFinite(what);
            return Status::Error(StatusCode::kNumericError, "%s is not finite", what);
          }
        }
        float* xk = x_.data() + size_t(k) * L;
        sampler.Step(i, xk, pk, L);
        if (session_->options().check_finite) {
          // A finite prediction can still overflow the sampler's update.
          for (size_t j = 0; j < L; ++j) {
            EDGE_CHECK_OR_RETURN(std::isfinite(xk[j]), StatusCode::kNumericError,
                                 "generate: the latent after step %d (sample %d) is not finite at element %zu "
                                 "(the sampler's update overflowed)",
                                 i, s0 + k, j);
          }
        }
      }
      const auto t1 = std::chrono::steady_clock::now();
      if (o.on_step != nullptr) {
        o.on_step(o.user, chunk, num_chunks, i, steps,
                  std::chrono::duration<double, std::milli>(t1 - t0).count());
      }
    }
    std::memcpy(out + size_t(s0) * L, x_.data(), size_t(n) * L * sizeof(float));
  }
  stats_.blocks_computed = cache->stats().blocks_computed;
  stats_.blocks_skipped = cache->stats().blocks_skipped;
  stats_.cache_bytes = cache->delta_bytes();
  stats_.cache = cache->TakeStats();
  stats_.total_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_start).count();
  return Status::Ok();
}

}  // namespace edge
