// The decode stage of a latent model: runs the model's decoder graph (the
// graph a link feeds with the sampled latent, see Model::decoder_link()) on
// one sample's latent and returns pixels.
//
// Graphs have fixed shapes. A decoder whose input [1, C, h, w] is smaller
// than the latent [C, H, W] decodes it in overlapping tiles: tile origins
// step by (h - overlap) rows and (w - overlap) columns, the last tile of each
// axis ends at the latent's edge, and where tiles overlap their outputs are
// blended with weights that ramp linearly across the overlap (the tile size
// is the decoder's input size, fixed at conversion; the overlap is a run-time
// knob). Memory is then bounded by the tile's plan, whatever the latent's
// size. Decoders with image-wide statistics (GroupNorm) see per-tile
// statistics, so tiled output differs slightly from a whole-latent decode:
// bench/results/decode_tiling.md measures by how much.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "runtime/array.h"
#include "runtime/model.h"
#include "runtime/session.h"
#include "runtime/status.h"

namespace edge {

struct DecodeStats {
  int tiles = 0;        // decoder runs per sample
  int tiles_h = 0, tiles_w = 0;
  double total_ms = 0;  // all Decode() calls
  double cpu_ms = 0;    // their process CPU time (every thread of the pool)
};

class Decoder {
 public:
  // `session` runs graph link.to_graph of `model`; latent_shape is one
  // sample's latent ([C, H, W], or any shape equal to the decoder input's
  // per-sample shape). overlap < 0: the model's stored default.
  static Result<std::unique_ptr<Decoder>> Create(const Model& model, Session* session, const GraphLinkInfo& link,
                                                 const Array<int64_t>& latent_shape, int overlap);

  // One sample's pixels: the decoder output's per-sample shape, with the
  // spatial axes scaled to the whole latent when tiled.
  const Array<int64_t>& output_shape() const { return out_shape_; }
  size_t output_elements() const { return out_elems_; }
  int overlap() const { return overlap_; }
  const DecodeStats& stats() const { return stats_; }

  // Decodes one latent (latent_shape elements) into output_elements()
  // floats. Allocates nothing.
  Status Decode(const float* latent, float* out);

 private:
  Decoder() = default;
  Status DecodeTiled(const float* latent, float* out);

  Session* session_ = nullptr;
  int in_ = -1, out_ = -1;
  bool tiled_ = false;
  int overlap_ = 0;
  int64_t C_ = 0, H_ = 0, W_ = 0, th_ = 0, tw_ = 0;  // latent and tile extents
  int64_t Co_ = 0, fh_ = 1, fw_ = 1;                 // output channels, scale factors
  Array<int64_t> tile_y_, tile_x_;                   // tile origins (latent rows/cols)
  Array<int64_t> out_shape_;
  size_t out_elems_ = 0;
  DecodeStats stats_;
};

}  // namespace edge
