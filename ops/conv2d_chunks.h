// How the im2col + GEMM convolutions (ops/f32_conv2d.h, ops/qs8_conv2d.h)
// split their work: the output pixels of each (image, group) are cut into
// chunks, a chunk's im2col lands in one thread's slot of the scratch, and the
// slots claim the (image, group, chunk) units one at a time
// (ops/slot_units.h), so a thread the machine runs late (a busy core) takes
// fewer of them.
#pragma once

#include <cstddef>

namespace edge {

// Output pixels per chunk when one pixel costs `pixel_bytes` of scratch: at
// most about 2 MB a chunk, so the GEMM reads its columns back from cache
// rather than memory and the scratch stays small however large the image;
// with several threads about 16 chunks per thread. A multiple of `align`
// (the GEMM's panel or row tile), at least one `align`, at most `pixels`
// rounded up to it.
size_t Conv2dChunkPixels(size_t pixel_bytes, size_t align, size_t pixels, size_t threads);

// Scratch slots for `threads` threads (one per thread, at least one).
size_t Conv2dSlots(size_t threads);

// Unit u of a convolution's (image, group, chunk) units: its image, group,
// first output pixel and pixel count (the last chunk may be short).
struct Conv2dUnit {
  size_t image, group, first, pixels;
};
Conv2dUnit Conv2dUnitAt(size_t u, size_t groups, size_t chunk, size_t chunks, size_t pixels);

}  // namespace edge
