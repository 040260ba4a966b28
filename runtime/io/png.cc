// PNG encoding with stored deflate blocks (RFC 1950/1951, PNG spec 1.2).
#include "runtime/io/file_util.h"
#include "runtime/io/png.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>

namespace edge {
namespace {

// Largest payload of one stored deflate block.
constexpr size_t kStoredBlockMax = 65535;
// Keeps every size computation far from overflow (also on 32-bit targets).
constexpr int64_t kMaxImageBytes = int64_t(1) << 30;

struct CrcTable {
  uint32_t t[256];
  CrcTable() {
    for (uint32_t n = 0; n < 256; ++n) {
      uint32_t c = n;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[n] = c;
    }
  }
};

void PutU32BE(std::vector<uint8_t>* out, uint32_t v) {
  out->push_back(static_cast<uint8_t>(v >> 24));
  out->push_back(static_cast<uint8_t>(v >> 16));
  out->push_back(static_cast<uint8_t>(v >> 8));
  out->push_back(static_cast<uint8_t>(v));
}

void PutChunk(std::vector<uint8_t>* out, const char type[4], const uint8_t* data, size_t size) {
  PutU32BE(out, static_cast<uint32_t>(size));
  const size_t start = out->size();
  out->insert(out->end(), type, type + 4);
  if (size) out->insert(out->end(), data, data + size);
  PutU32BE(out, Crc32(out->data() + start, size + 4));
}

}  // namespace

uint32_t Crc32(const uint8_t* data, size_t size, uint32_t crc) {
  static const CrcTable table;
  crc = ~crc;
  for (size_t i = 0; i < size; ++i) crc = table.t[(crc ^ data[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

uint32_t Adler32(const uint8_t* data, size_t size, uint32_t adler) {
  constexpr uint32_t kMod = 65521;
  uint32_t a = adler & 0xffff, b = adler >> 16;
  while (size > 0) {
    // 5552 is the most bytes that cannot overflow b before the modulo.
    const size_t n = size < 5552 ? size : 5552;
    for (size_t i = 0; i < n; ++i) {
      a += data[i];
      b += a;
    }
    a %= kMod;
    b %= kMod;
    data += n;
    size -= n;
  }
  return b << 16 | a;
}

Status EncodePng(const uint8_t* pixels, int width, int height, int channels,
                 std::vector<uint8_t>* out) {
  if (width <= 0 || height <= 0 || (channels != 1 && channels != 3)) {
    return Status::Error(StatusCode::kInvalidArgument,
                         "png: bad image %dx%d with %d channels (1 or 3)", width, height,
                         channels);
  }
  const int64_t row = int64_t(width) * channels + 1;  // filter byte + pixels
  if (row * height > kMaxImageBytes) {
    return Status::Error(StatusCode::kInvalidArgument, "png: image %dx%d too large", width,
                         height);
  }
  if (!pixels) return Status::Error(StatusCode::kInvalidArgument, "png: null pixels");

  // Raw scanlines, each prefixed by filter type 0 (None).
  const size_t raw_size = static_cast<size_t>(row * height);
  std::vector<uint8_t> raw(raw_size);
  const size_t stride = static_cast<size_t>(width) * channels;
  for (int y = 0; y < height; ++y) {
    uint8_t* dst = raw.data() + static_cast<size_t>(y) * (stride + 1);
    dst[0] = 0;
    std::memcpy(dst + 1, pixels + static_cast<size_t>(y) * stride, stride);
  }

  // zlib stream: CMF/FLG (deflate, 32K window, no dictionary, fastest),
  // stored blocks, Adler-32 of the raw data.
  std::vector<uint8_t> z;
  const size_t blocks = (raw_size + kStoredBlockMax - 1) / kStoredBlockMax;
  z.reserve(2 + raw_size + blocks * 5 + 4);
  z.push_back(0x78);
  z.push_back(0x01);  // (0x78 << 8 | 0x01) % 31 == 0
  for (size_t pos = 0; pos < raw_size; pos += kStoredBlockMax) {
    const size_t n = raw_size - pos < kStoredBlockMax ? raw_size - pos : kStoredBlockMax;
    const bool last = pos + n == raw_size;
    z.push_back(last ? 1 : 0);  // BFINAL, BTYPE=00; the rest of the byte is padding
    z.push_back(static_cast<uint8_t>(n));
    z.push_back(static_cast<uint8_t>(n >> 8));
    z.push_back(static_cast<uint8_t>(~n));
    z.push_back(static_cast<uint8_t>(~n >> 8));
    z.insert(z.end(), raw.begin() + static_cast<std::ptrdiff_t>(pos),
             raw.begin() + static_cast<std::ptrdiff_t>(pos + n));
  }
  PutU32BE(&z, Adler32(raw.data(), raw_size));

  static const uint8_t kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  out->clear();
  out->reserve(8 + 25 + z.size() + 12 + 12);
  out->insert(out->end(), kSignature, kSignature + 8);
  uint8_t ihdr[13];
  const uint32_t w = static_cast<uint32_t>(width), h = static_cast<uint32_t>(height);
  for (int i = 0; i < 4; ++i) {
    ihdr[i] = static_cast<uint8_t>(w >> (24 - 8 * i));
    ihdr[4 + i] = static_cast<uint8_t>(h >> (24 - 8 * i));
  }
  ihdr[8] = 8;                       // bit depth
  ihdr[9] = channels == 1 ? 0 : 2;   // color type: gray / truecolor
  ihdr[10] = 0;                      // compression: deflate
  ihdr[11] = 0;                      // filter method 0
  ihdr[12] = 0;                      // no interlace
  PutChunk(out, "IHDR", ihdr, sizeof(ihdr));
  PutChunk(out, "IDAT", z.data(), z.size());
  PutChunk(out, "IEND", nullptr, 0);
  return Status::Ok();
}

Status WritePng(const std::string& path, const uint8_t* pixels, int width, int height,
                int channels) {
  std::vector<uint8_t> bytes;
  EDGE_RETURN_IF_ERROR(EncodePng(pixels, width, height, channels, &bytes));
  return WriteWholeFile(path, bytes);
}

void PlanarFloatToU8(const float* chw, int channels, int height, int width, float lo, float hi,
                     uint8_t* hwc) {
  const size_t plane = static_cast<size_t>(height) * width;
  const float scale = hi > lo ? 255.f / (hi - lo) : 0.f;
  for (int c = 0; c < channels; ++c) {
    for (size_t i = 0; i < plane; ++i) {
      float v = (chw[c * plane + i] - lo) * scale;
      // NaN fails both comparisons and ends up 0.
      v = v > 0.f ? (v < 255.f ? v : 255.f) : 0.f;
      hwc[i * channels + c] = static_cast<uint8_t>(std::lround(v));
    }
  }
}

Status TileImages(const uint8_t* images, int count, int height, int width, int channels,
                  int cols, int pad, uint8_t fill, std::vector<uint8_t>* out, int* out_width,
                  int* out_height) {
  if (count <= 0 || height <= 0 || width <= 0 || channels <= 0 || channels > 4 || cols < 0 ||
      pad < 0 || !images || !out) {
    return Status::Error(StatusCode::kInvalidArgument,
                         "tile: bad arguments (count %d, %dx%dx%d, cols %d, pad %d)", count,
                         height, width, channels, cols, pad);
  }
  if (cols == 0) {
    cols = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(count))));
  }
  if (cols > count) cols = count;
  const int rows = (count + cols - 1) / cols;
  const int64_t gw = int64_t(cols) * width + int64_t(cols - 1) * pad;
  const int64_t gh = int64_t(rows) * height + int64_t(rows - 1) * pad;
  if (gw > (1 << 24) || gh > (1 << 24) || gw * gh * channels > kMaxImageBytes) {
    return Status::Error(StatusCode::kInvalidArgument, "tile: grid %lldx%lld too large",
                         static_cast<long long>(gw), static_cast<long long>(gh));
  }
  out->assign(static_cast<size_t>(gw * gh * channels), fill);
  const size_t img_row = static_cast<size_t>(width) * channels;
  const size_t img_size = img_row * height;
  const size_t grid_row = static_cast<size_t>(gw) * channels;
  for (int i = 0; i < count; ++i) {
    const size_t x0 = static_cast<size_t>(i % cols) * (width + pad);
    const size_t y0 = static_cast<size_t>(i / cols) * (height + pad);
    for (int y = 0; y < height; ++y) {
      std::memcpy(out->data() + (y0 + y) * grid_row + x0 * channels,
                  images + i * img_size + y * img_row, img_row);
    }
  }
  *out_width = static_cast<int>(gw);
  *out_height = static_cast<int>(gh);
  return Status::Ok();
}

}  // namespace edge
