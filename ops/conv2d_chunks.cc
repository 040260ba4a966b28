#include "ops/conv2d_chunks.h"

#include <algorithm>


namespace edge {

size_t Conv2dChunkPixels(size_t pixel_bytes, size_t align, size_t pixels, size_t threads) {
  const size_t kChunkBytes = size_t(1) << 21;
  size_t chunk = kChunkBytes / std::max<size_t>(pixel_bytes, 1) / align * align;
  if (threads > 1) chunk = std::min(chunk, (pixels + 16 * threads - 1) / (16 * threads));
  chunk = std::max((chunk + align - 1) / align * align, align);
  return std::min(chunk, (pixels + align - 1) / align * align);
}

size_t Conv2dSlots(size_t threads) { return threads > 1 ? threads : 1; }

Conv2dUnit Conv2dUnitAt(size_t u, size_t groups, size_t chunk, size_t chunks, size_t pixels) {
  const size_t image_group = u / chunks, first = u % chunks * chunk;
  return {image_group / groups, image_group % groups, first, std::min(chunk, pixels - first)};
}

}  // namespace edge
