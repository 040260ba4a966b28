// The GEMM microkernel, written once over the vector vocabulary of
// ops/f32_vec.h and instantiated by each ISA file (see ops/f32_gemm.h for the
// packed layouts). MR rows x NV vectors of accumulators stay in registers for
// the whole K loop; bias seeds them and the activation (ops/vec_math.h, the
// same functions as the Gelu / SiLU ops) runs before the store.
// PANEL is the width of the packed panels it reads: NR (one panel a call, the
// native layout) or 16 (PackedF32N16: two panels a call where NR is 32, a
// slice of one where NR is 4); the K loop steps PANEL floats either way.
#pragma once

#include <cstddef>

#include "ops/f32_vec.h"

namespace edge {
namespace {

template <class O, int MR, int NV, int ACT>
static inline void gemm_store_block(typename O::V (&acc)[MR][NV], float* const (&cp)[MR],
                                    size_t nc) {
  constexpr int NR = NV * O::kW;
  // Rows are stored last to first: duplicated tail rows alias the last valid
  // row and hold identical values, so the order does not matter for them.
#pragma GCC unroll 16
  for (int i = MR - 1; i >= 0; --i) {
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) {
      typename O::V r = acc[i][v];
      r = vecmath::Activate<O>(r, ACT);
      if (nc == static_cast<size_t>(NR)) {
        O::store(cp[i] + v * O::kW, r);
      } else {
        O::store_n(cp[i] + v * O::kW, r, static_cast<int>(nc) - v * O::kW);
      }
    }
  }
}

// The same store with the activation rolled: the block goes through a small
// stack tile and the activation is inlined once instead of MR x NV times
// (for size-bound builds: the AArch64 core binary). Same results.
template <class O, int MR, int NV, int ACT>
static inline void gemm_store_block_rolled(typename O::V (&acc)[MR][NV], float* const (&cp)[MR],
                                           size_t nc) {
  alignas(64) float tile[MR][NV * O::kW];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) O::store(tile[i] + v * O::kW, acc[i][v]);
  }
  for (int i = MR - 1; i >= 0; --i) {  // last to first, as gemm_store_block
    for (int v = 0; v < NV && v * O::kW < static_cast<int>(nc); ++v) {
      typename O::V r = O::load(tile[i] + v * O::kW);
      r = vecmath::Activate<O>(r, ACT);
      O::store_n(cp[i] + v * O::kW, r, static_cast<int>(nc) - v * O::kW);
    }
  }
}

template <class O, int MR, int NV, int PANEL = NV * O::kW, bool ROLLED_ACT = false>
static inline void gemm_ukernel(size_t mr, size_t nc, size_t k, const float* a, size_t a_stride,
                                const float* w, const float* bias, float* c, size_t c_stride,
                                int act) {
  using V = typename O::V;
  constexpr int NR = NV * O::kW;
  static_assert(NR % PANEL == 0 || PANEL % NR == 0, "panels split or tile the NR columns");
  // Offset of each panel the block spans (one unless NR > PANEL). A panel
  // past nc may lie past the packed buffer (N is padded to PANEL only, not to
  // NR): it re-reads the first panel instead, whose values are never stored.
  constexpr int kPanels = NR > PANEL ? NR / PANEL : 1;
  size_t panel_off[kPanels];
#pragma GCC unroll 8
  for (int j = 0; j < kPanels; ++j) {
    panel_off[j] = static_cast<size_t>(j) * PANEL < nc ? static_cast<size_t>(j) * PANEL * k : 0;
  }
  const float* ap[MR];
  float* cp[MR];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    // Rows past mr alias the last valid row (XNNPACK's trick): no branches
    // in the K loop, and their stores rewrite the same values.
    const size_t r = static_cast<size_t>(i) < mr ? static_cast<size_t>(i) : mr - 1;
    ap[i] = a + r * a_stride;
    cp[i] = c + r * c_stride;
  }
  V acc[MR][NV];
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) {
    const V b = bias != nullptr ? O::load_n(bias + v * O::kW, static_cast<int>(nc) - v * O::kW)
                                : O::zero();
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) acc[i][v] = b;
  }
  for (size_t kk = 0; kk < k; ++kk) {
    V b[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) {
      b[v] = O::load(w + panel_off[v * O::kW / PANEL] + (v * O::kW) % PANEL);
    }
    w += PANEL;
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const V ai = O::set1(ap[i][kk]);
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[i][v] = O::fmadd(ai, b[v], acc[i][v]);
    }
  }
  if (ROLLED_ACT) {
    switch (act) {
      case 1: gemm_store_block_rolled<O, MR, NV, 1>(acc, cp, nc); return;
      case 2: gemm_store_block_rolled<O, MR, NV, 2>(acc, cp, nc); return;
      case 3: gemm_store_block_rolled<O, MR, NV, 3>(acc, cp, nc); return;
      default: break;
    }
  }
  switch (act) {
    case 1: gemm_store_block<O, MR, NV, 1>(acc, cp, nc); break;
    case 2: gemm_store_block<O, MR, NV, 2>(acc, cp, nc); break;
    case 3: gemm_store_block<O, MR, NV, 3>(acc, cp, nc); break;
    default: gemm_store_block<O, MR, NV, 0>(acc, cp, nc); break;
  }
}

}  // namespace
}  // namespace edge
