// Rotary position embedding on F32 activations, and the cos/sin tables.
//
// Tables are [N, dh] as PyTorch exports them, applied per token to every head
// and batch. Two pairings:
//   rotate-half: out = x*cos + rotate_half(x)*sin, rotate_half(x) = [-x2, x1]
//                with x1 = x[:dh/2], x2 = x[dh/2:];
//   interleaved: pairs (2i, 2i+1): out[2i]   = x[2i]*cos[2i]     - x[2i+1]*sin[2i]
//                                  out[2i+1] = x[2i+1]*cos[2i+1] + x[2i]*sin[2i+1].
// Layouts: BSHD [B, N, H*dh] and BHSD [B, H, N, dh]. dh must be even.
#pragma once

#include <cstddef>

#include <pthreadpool.h>

#include "ops/f32_attention.h"  // AttentionLayout

namespace edge {

struct F32RopeParams {
  size_t batch = 1, tokens = 0, heads = 1, head_dim = 0;
  AttentionLayout layout = AttentionLayout::kBSHD;
  bool interleaved = false;
};

// out may alias x.
void f32_rope(const F32RopeParams& p, const float* x, const float* cos, const float* sin,
              float* out, pthreadpool_t pool);
void f32_rope_ref(const F32RopeParams& p, const float* x, const float* cos, const float* sin,
                  float* out);

// Tables from per-token angles: angles[n, dh/2] -> cos/sin [n, dh] in the
// given pairing (rotate-half repeats the half, interleaved repeats each).
void f32_rope_tables_from_angles(size_t n, size_t head_dim, const double* angles,
                                 bool interleaved, float* cos, float* sin);
// 1D positions 0..n-1: angle[n][i] = n * theta^(-2i/dh).
void f32_rope_tables_1d(size_t n, size_t head_dim, double theta, bool interleaved, float* cos,
                        float* sin);
// 3D axial positions for frames x height x width tokens (t-major, then h, then
// w). The head dim is split into d_t + d_h + d_w (each even); the angle slots
// of each part follow that axis with theta^(-2i/d_axis). Returns false if the
// split is invalid.
bool f32_rope_tables_3d(size_t frames, size_t height, size_t width, size_t head_dim, size_t d_t,
                        size_t d_h, size_t d_w, double theta, bool interleaved, float* cos,
                        float* sin);
// A default split (as in Wan): d_h = d_w = 2*(dh/6), d_t = dh - d_h - d_w.
void f32_rope_split_3d(size_t head_dim, size_t* d_t, size_t* d_h, size_t* d_w);

}  // namespace edge
