#include "runtime/decoder.h"

#include <time.h>

#include <chrono>
#include <cstring>

namespace edge {
namespace {

// CPU time of this process (all threads), ms: what a decode costs whatever
// else shares the machine.
double ProcessCpuMs() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

// Tile origins along one axis of `extent` with tiles of `tile`, stepping by
// tile - overlap; the last tile ends at the edge.
bool TileOrigins(int64_t extent, int64_t tile, int overlap, Array<int64_t>* origins) {
  const int64_t step = tile - overlap;
  int64_t n = 1;
  if (extent > tile) n = 1 + (extent - tile + step - 1) / step;
  if (!origins->Reset(static_cast<size_t>(n))) return false;
  for (int64_t i = 0; i < n; ++i) (*origins)[static_cast<size_t>(i)] = i + 1 == n ? extent - tile : i * step;
  return true;
}

// Blending weight of row r (output pixels) of tile i along one axis: a
// linear ramp over the rows it shares with the previous and the next tile.
// Two neighbours ramp over the same rows in opposite directions, so the
// weights of every output row sum to 1 (and their products over the two
// axes too): the blend needs no normalization.
float RampWeight(const Array<int64_t>& origins, size_t i, int64_t tile, int64_t scale, int64_t r) {
  float w = 1.f;
  const int64_t o = origins[i];
  if (i > 0) {
    const int64_t shared = (origins[i - 1] + tile - o) * scale;
    if (shared > 0 && r < shared) w *= (static_cast<float>(r) + 0.5f) / static_cast<float>(shared);
  }
  if (i + 1 < origins.size()) {
    const int64_t shared = (o + tile - origins[i + 1]) * scale;
    const int64_t from_end = tile * scale - r;
    if (shared > 0 && from_end <= shared) w *= (static_cast<float>(from_end) - 0.5f) / static_cast<float>(shared);
  }
  return w;
}

}  // namespace

Result<std::unique_ptr<Decoder>> Decoder::Create(const Model& model, Session* session, const GraphLinkInfo& link,
                                                 const Array<int64_t>& latent_shape, int overlap) {
  EDGE_CHECK_OR_RETURN(session != nullptr, StatusCode::kInvalidArgument, "decoder: null session");
  const Model& g = session->model();
  EDGE_CHECK_OR_RETURN(model.graph(link.to_graph) == &g, StatusCode::kInvalidArgument,
                       "decoder: the session does not run graph %d", link.to_graph);
  std::unique_ptr<Decoder> d(new (std::nothrow) Decoder());
  EDGE_CHECK_OR_RETURN(d != nullptr, StatusCode::kOutOfMemory, "decoder: out of memory");
  d->session_ = session;
  d->in_ = link.to_tensor;
  EDGE_CHECK_OR_RETURN(g.inputs().size() == 1 && g.outputs().size() == 1, StatusCode::kUnsupported,
                       "decoder graph '%s' must have one input and one output (has %zu and %zu)", g.graph_name(),
                       g.inputs().size(), g.outputs().size());
  d->out_ = g.outputs()[0];
  const TensorInfo& in = g.tensor(d->in_);
  const TensorInfo& out = g.tensor(d->out_);
  EDGE_CHECK_OR_RETURN(in.dtype == fb::DType::F32 && out.dtype == fb::DType::F32 && in.rank >= 2 &&
                           in.dims[0] == 1 && out.rank == in.rank && out.dims[0] == 1,
                       StatusCode::kUnsupported,
                       "decoder graph '%s': input and output must be F32 of one rank with batch 1", g.graph_name());
  const int lr = static_cast<int>(latent_shape.size());
  EDGE_CHECK_OR_RETURN(lr == in.rank - 1, StatusCode::kInvalidModel,
                       "decoder: the latent has rank %d, the decoder input '%s' rank %d", lr, in.name, in.rank);
  bool same = true;
  for (int i = 0; i < lr; ++i) same &= latent_shape[static_cast<size_t>(i)] == in.dims[i + 1];
  if (overlap < 0) overlap = model.pipeline() != nullptr ? model.pipeline()->decode_tile_overlap() : 0;
  d->overlap_ = overlap;
  if (same) {
    EDGE_CHECK_OR_RETURN(d->out_shape_.Assign(out.dims + 1, out.dims + out.rank), StatusCode::kOutOfMemory,
                         "decoder: out of memory");
    d->out_elems_ = static_cast<size_t>(out.num_elements);
    d->stats_.tiles = d->stats_.tiles_h = d->stats_.tiles_w = 1;
    return d;
  }
  // Tiled: [C, H, W] latent, [1, C, h, w] -> [1, Co, h*fh, w*fw] decoder.
  EDGE_CHECK_OR_RETURN(lr == 3, StatusCode::kUnsupported,
                       "decoder: tiled decoding needs a [C, H, W] latent (rank %d given)", lr);
  d->C_ = latent_shape[0];
  d->H_ = latent_shape[1];
  d->W_ = latent_shape[2];
  d->th_ = in.dims[2];
  d->tw_ = in.dims[3];
  EDGE_CHECK_OR_RETURN(in.dims[1] == d->C_ && d->th_ >= 1 && d->tw_ >= 1 && d->th_ <= d->H_ && d->tw_ <= d->W_,
                       StatusCode::kInvalidModel, "decoder: tile input '%s' does not fit the latent", in.name);
  EDGE_CHECK_OR_RETURN(out.dims[2] % d->th_ == 0 && out.dims[3] % d->tw_ == 0 && out.dims[2] > 0 && out.dims[3] > 0,
                       StatusCode::kUnsupported,
                       "decoder: output '%s' is not an integer upscaling of the tile (%lld x %lld from %lld x %lld)",
                       out.name, static_cast<long long>(out.dims[2]), static_cast<long long>(out.dims[3]),
                       static_cast<long long>(d->th_), static_cast<long long>(d->tw_));
  const int64_t min_tile = d->th_ < d->tw_ ? d->th_ : d->tw_;
  EDGE_CHECK_OR_RETURN(overlap < min_tile, StatusCode::kInvalidArgument,
                       "decoder: tile overlap %d must be smaller than the tile (%lld latent pixels)", overlap,
                       static_cast<long long>(min_tile));
  d->tiled_ = true;
  d->Co_ = out.dims[1];
  d->fh_ = out.dims[2] / d->th_;
  d->fw_ = out.dims[3] / d->tw_;
  EDGE_CHECK_OR_RETURN(TileOrigins(d->H_, d->th_, overlap, &d->tile_y_) &&
                           TileOrigins(d->W_, d->tw_, overlap, &d->tile_x_),
                       StatusCode::kOutOfMemory, "decoder: out of memory");
  const int64_t OH = d->H_ * d->fh_, OW = d->W_ * d->fw_;
  const int64_t shape[3] = {d->Co_, OH, OW};
  EDGE_CHECK_OR_RETURN(d->out_shape_.Assign(shape, shape + 3), StatusCode::kOutOfMemory, "decoder: out of memory");
  d->out_elems_ = static_cast<size_t>(d->Co_ * OH * OW);
  d->stats_.tiles_h = static_cast<int>(d->tile_y_.size());
  d->stats_.tiles_w = static_cast<int>(d->tile_x_.size());
  d->stats_.tiles = d->stats_.tiles_h * d->stats_.tiles_w;
  return d;
}

Status Decoder::Decode(const float* latent, float* out) {
  EDGE_CHECK_OR_RETURN(latent != nullptr && out != nullptr, StatusCode::kInvalidArgument, "decode: null buffer");
  const auto t0 = std::chrono::steady_clock::now();
  const double cpu0 = ProcessCpuMs();
  if (tiled_) {
    EDGE_RETURN_IF_ERROR(DecodeTiled(latent, out));
  } else {
    const TensorInfo& in = session_->model().tensor(in_);
    EDGE_RETURN_IF_ERROR(session_->SetInput(in_, latent, in.bytes));
    Status st = session_->Invoke();
    if (!st.ok()) return st.Prepend("decode: ");
    std::memcpy(out, session_->data(out_), out_elems_ * sizeof(float));
  }
  stats_.total_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  stats_.cpu_ms += ProcessCpuMs() - cpu0;
  return Status::Ok();
}

Status Decoder::DecodeTiled(const float* latent, float* out) {
  const int64_t OH = H_ * fh_, OW = W_ * fw_, ph = th_ * fh_, pw = tw_ * fw_;
  std::memset(out, 0, out_elems_ * sizeof(float));
  float* tin = static_cast<float*>(session_->data(in_));
  const float* tout = static_cast<const float*>(session_->data(out_));
  for (size_t ty = 0; ty < tile_y_.size(); ++ty) {
    for (size_t tx = 0; tx < tile_x_.size(); ++tx) {
      const int64_t y0 = tile_y_[ty], x0 = tile_x_[tx];
      for (int64_t c = 0; c < C_; ++c) {
        for (int64_t r = 0; r < th_; ++r) {
          std::memcpy(tin + (c * th_ + r) * tw_, latent + (c * H_ + y0 + r) * W_ + x0, size_t(tw_) * sizeof(float));
        }
      }
      Status st = session_->Invoke();
      if (!st.ok()) return st.Prepend("decode: tile (%zu, %zu): ", ty, tx);
      for (int64_t r = 0; r < ph; ++r) {
        const float wy = RampWeight(tile_y_, ty, th_, fh_, r);
        for (int64_t c = 0; c < Co_; ++c) {
          const float* src = tout + (c * ph + r) * pw;
          float* dst = out + (c * OH + y0 * fh_ + r) * OW + x0 * fw_;
          for (int64_t k = 0; k < pw; ++k) dst[k] += wy * RampWeight(tile_x_, tx, tw_, fw_, k) * src[k];
        }
      }
    }
  }
  return Status::Ok();
}

}  // namespace edge
