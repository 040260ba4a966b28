// Minimal PNG writer for edge-run / edge-bench sample images.
//
// 8-bit grayscale or RGB, no interlace, filter 0 on every row, and a zlib
// stream made of 'stored' (uncompressed) deflate blocks: files are larger than
// a real compressor would make, but the encoder is a few dozen lines with no
// library behind it, which is what a runtime for small boards wants.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/status.h"

namespace edge {

// Checksums used by PNG chunks and zlib streams (exposed for tests).
uint32_t Crc32(const uint8_t* data, size_t size, uint32_t crc = 0);
uint32_t Adler32(const uint8_t* data, size_t size, uint32_t adler = 1);

// `pixels` is row-major [height][width][channels], channels 1 (gray) or 3 (RGB).
Status EncodePng(const uint8_t* pixels, int width, int height, int channels,
                 std::vector<uint8_t>* out);
Status WritePng(const std::string& path, const uint8_t* pixels, int width, int height,
                int channels);

// Converts one image from planar float [channels][height][width] to
// interleaved uint8 [height][width][channels], mapping [lo, hi] to [0, 255]
// (clamped, NaN -> 0). Model outputs in [-1, 1] use lo = -1, hi = 1.
void PlanarFloatToU8(const float* chw, int channels, int height, int width, float lo, float hi,
                     uint8_t* hwc);

// Tiles `count` images of [height][width][channels] (contiguous) into a grid
// of `cols` columns (0: about square), separated by `pad` pixels of `fill`.
Status TileImages(const uint8_t* images, int count, int height, int width, int channels,
                  int cols, int pad, uint8_t fill, std::vector<uint8_t>* out, int* out_width,
                  int* out_height);

}  // namespace edge
