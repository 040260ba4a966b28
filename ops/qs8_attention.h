// INT8 attention: softmax(q . k^T * scale) . v with both products on integer
// dot products, after SageAttention's recipe adapted to CPUs:
//
//   1. Smooth K per head: k -= mean over tokens (per channel). Every logit of
//      a query row shifts by the same q . mean(k), so the softmax is unchanged
//      while the K range (and its quantization step) shrinks.
//   2. Quantize Q and smoothed K per token to INT8 (symmetric, scale =
//      max|x| / 127, round half away from zero); S = (q8 . k8) * s_q * s_k *
//      scale in int32, then the online softmax in FP32. Per-token K scales
//      (not per tile) let sparse plans gather any keys into a tile.
//   3. P = exp(S - m) in [0, 1] (computed as 2^x, log2 e folded into the
//      logit scale) is quantized to 15 bits (p16 = round(P * 32767)) and V
//      per channel to INT8; O += p16 . v8 in int32 per softmax step (two
//      64-key tiles, or a gathered span of up to 128 keys),
//      rescaled into an FP32 accumulator, and the row sum uses the same p16,
//      so the output is an exact convex combination of the quantized weights
//      (O and the row sum both stay in p16 units; the 1/32767 cancels).
//
// INT8 values travel in int16 pairs: x86 multiplies them with vpmaddwd, which
// on AVX2 does 16 multiply-adds per instruction (FP32 FMA does 8), without
// the saturation that vpmaddubsw has for signed x signed products. P gets 15
// bits at no extra cost that way. Quantization happens once per head in a
// portable prologue, so every ISA computes the same integers; only the FP32
// softmax differs in rounding between ISAs.
//
// Non-finite inputs: a query row with NaN/Inf gives a NaN output row; a head
// whose K or V holds NaN/Inf gives NaN for all its rows (FP32 attention
// propagates NaN similarly but not by a stated rule).
#pragma once

#include <cstddef>
#include <cstdint>

#include <pthreadpool.h>

#include "ops/f32_attention.h"

namespace edge {

// Attention arithmetic, chosen per model (AttentionOptions.precision) or per
// session (SessionOptions.attention_precision); values match the schema's
// AttentionPrecision. No BF16 variant: the x86 machines this is tuned on have
// no BF16 dot product, where BF16 would only be a storage format.
enum class AttentionPrecision : int { kFp32 = 0, kInt8 = 1 };
const char* AttentionPrecisionName(AttentionPrecision p);

constexpr size_t kQs8AttnKeyTile = 64;
// Largest head_dim the INT8 path packs (callers check; FP32 has no limit).
constexpr size_t kQs8AttnMaxHeadDim = 1024;

// One head (batch b, head h) quantized and packed by a kernel's pack(). Each
// kernel fixes a channel group G (2: int16 pairs; 4: int8 quads for sdot) and
// a key group VG (2 or 1); cp = dh rounded up to 16, dhg = ceil(dh / G):
//   q   [nq][dhg * G]     KE     per-row INT8 values (int16 or int8 storage)
//   qs  [nq]              float  per-row scale (NaN: the row had NaN/Inf)
//   k   [T][dhg][64][G]   KE     smoothed K per 64-key tile: channel groups x keys
//   ks  [T * 64]          float  per-key scale (0 past nk)
//   v   [T][64/VG][cp][VG] int16 V per tile: key groups x channels
//   vs  [cp]              float  per-channel scale (0 past dh)
//   km  [dh]              float  K mean over tokens (the smoothing shift)
// The scalar kernel (and the reference) use G = VG = 2 with int16 storage.
struct Qs8AttentionHead {
  void* q = nullptr;
  float* qs = nullptr;
  void* k = nullptr;
  float* ks = nullptr;
  int16_t* v = nullptr;
  float* vs = nullptr;
  // K's mean over tokens (dh floats): exact logits use K minus it, so the
  // centroids of a sparse plan's skipped groups must subtract it too.
  float* km = nullptr;
  bool bad = false;  // K or V held NaN/Inf
  // K and V packed key by key (K [key][channel groups], V [key][cp])
  // instead of per 64-key tile: cluster plans gather every key they compute,
  // and a key's channels in one or two cache lines make that gather cheap
  // (per tile they lie 256 bytes apart, one line each).
  bool key_major = false;
};

struct Qs8AttentionKernel {
  const char* name;  // e.g. "qs8_attention_4x64__avx2"
  // Quantizes and packs head (b, h) into `mem` (qs8_attention_head_bytes,
  // 64-byte aligned). Same integers on every ISA.
  Qs8AttentionHead (*pack)(const F32AttentionParams& p, size_t b, size_t h, void* mem);
  // Queries [q0, q0 + qn) of a packed head; qn <= query_block. Writes the
  // output rows of (b, h) through p's out strides.
  void (*tile)(const F32AttentionParams& p, const Qs8AttentionHead& head, size_t b, size_t h,
               size_t q0, size_t qn, float* scratch);
  size_t (*scratch_floats)(size_t head_dim);  // per thread
  size_t query_block;
};

// The kernels of this build; ops/kernel_config.h picks one per CPU and lists
// the ones a CPU can run (qs8_attention_kernels).
extern const Qs8AttentionKernel kQs8AttentionScalar;
#if defined(__x86_64__)
extern const Qs8AttentionKernel kQs8AttentionAvx2;
extern const Qs8AttentionKernel kQs8AttentionAvx512;      // AVX-512BW
extern const Qs8AttentionKernel kQs8AttentionAvx512Vnni;  // AVX-512 VNNI
#endif
#if defined(__aarch64__)
extern const Qs8AttentionKernel kQs8AttentionNeondot;
#endif

// Scratch for qs8_attention with this many threads (packed heads + tile
// scratch), 64-byte aligned chunks.
size_t qs8_attention_scratch_bytes(const Qs8AttentionKernel& kernel, const F32AttentionParams& p,
                                   size_t num_threads);
// INT8 attention, dense or along a sparse plan already in p (64-key tiles
// with p.q_block == kernel.query_block, or clusters; see f32_attention.h):
// exact keys on the integer products, skipped groups through their FP32
// centroids in the same online softmax. `scratch` is 64-byte aligned and
// qs8_attention_scratch_bytes() long for the pool's thread count.
void qs8_attention(const Qs8AttentionKernel& kernel, const F32AttentionParams& p, void* scratch,
                   pthreadpool_t pool);

// The same quantized algorithm on one thread in double precision, straight
// from the definition above: quantization by the same portable code, exact
// keys in the tiles' order and 64 at a time with a running max (P is
// quantized against the running max, as the tiles do), then the skipped
// groups' centroids; exp and sums in double. Tests compare the tiles with it.
void qs8_attention_ref(const F32AttentionParams& p);

// Bytes of one packed head.
size_t qs8_attention_head_bytes(const F32AttentionParams& p);

// ISA tiles (see Qs8AttentionKernel::tile).
void qs8_attention_4x64__scalar(const F32AttentionParams& p, const Qs8AttentionHead& head,
                                size_t b, size_t h, size_t q0, size_t qn, float* scratch);
void qs8_attention_4x64__avx2(const F32AttentionParams& p, const Qs8AttentionHead& head,
                              size_t b, size_t h, size_t q0, size_t qn, float* scratch);
Qs8AttentionHead qs8_attention_pack_head__scalar(const F32AttentionParams& p, size_t b, size_t h,
                                                 void* mem);
Qs8AttentionHead qs8_attention_pack_head__avx2(const F32AttentionParams& p, size_t b, size_t h,
                                               void* mem);
Qs8AttentionHead qs8_attention_pack_head__neondot(const F32AttentionParams& p, size_t b, size_t h,
                                                  void* mem);
void qs8_attention_4x64__neondot(const F32AttentionParams& p, const Qs8AttentionHead& head,
                                 size_t b, size_t h, size_t q0, size_t qn, float* scratch);
size_t qs8_attention_scratch_floats__neondot(size_t head_dim);
size_t qs8_attention_scratch_floats__scalar(size_t head_dim);
size_t qs8_attention_scratch_floats__avx2(size_t head_dim);
void qs8_attention_4x64__avx512bw(const F32AttentionParams& p, const Qs8AttentionHead& head,
                                  size_t b, size_t h, size_t q0, size_t qn, float* scratch);
void qs8_attention_4x64__avx512vnni(const F32AttentionParams& p, const Qs8AttentionHead& head,
                                    size_t b, size_t h, size_t q0, size_t qn, float* scratch);
Qs8AttentionHead qs8_attention_pack_head__avx512(const F32AttentionParams& p, size_t b, size_t h,
                                                 void* mem);
size_t qs8_attention_scratch_floats__avx512(size_t head_dim);

}  // namespace edge
