// Tests of the .npy reader/writer and the PNG encoder / image helpers.
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <png.h>

#include "runtime/io/npy.h"
#include "runtime/io/png.h"

namespace edge {
namespace {

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir && dir[0] ? dir : "/tmp") + "/edge_io_test_" +
         std::to_string(static_cast<long>(getpid())) + "_" + name;
}

std::vector<uint8_t> Bytes(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

// An .npy file with the given header dict text (padded the numpy way) and data.
std::vector<uint8_t> MakeNpy(const std::string& dict, const std::vector<uint8_t>& data,
                             int major = 1) {
  std::string header = dict;
  const size_t prefix = major == 1 ? 10 : 12;
  while ((prefix + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::vector<uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<uint8_t>(major), 0};
  const size_t n = header.size();
  out.push_back(static_cast<uint8_t>(n));
  out.push_back(static_cast<uint8_t>(n >> 8));
  if (major != 1) {
    out.push_back(static_cast<uint8_t>(n >> 16));
    out.push_back(static_cast<uint8_t>(n >> 24));
  }
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

// Saved by numpy 1.x: np.save(f, np.arange(6, dtype='<f4').reshape(2, 3) * 0.5).
const uint8_t kNumpyF32[] = {
    0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 0x01, 0x00, 0x76, 0x00, 0x7b, 0x27, 0x64, 0x65, 0x73,
    0x63, 0x72, 0x27, 0x3a, 0x20, 0x27, 0x3c, 0x66, 0x34, 0x27, 0x2c, 0x20, 0x27, 0x66, 0x6f,
    0x72, 0x74, 0x72, 0x61, 0x6e, 0x5f, 0x6f, 0x72, 0x64, 0x65, 0x72, 0x27, 0x3a, 0x20, 0x46,
    0x61, 0x6c, 0x73, 0x65, 0x2c, 0x20, 0x27, 0x73, 0x68, 0x61, 0x70, 0x65, 0x27, 0x3a, 0x20,
    0x28, 0x32, 0x2c, 0x20, 0x33, 0x29, 0x2c, 0x20, 0x7d, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x3f, 0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0xc0, 0x3f, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00,
    0x20, 0x40};

TEST(Npy, ParsesNumpyOutput) {
  auto r = ParseNpy(kNumpyF32, sizeof(kNumpyF32));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->dtype, fb::DType::F32);
  EXPECT_EQ(r->shape, (std::vector<int64_t>{2, 3}));
  ASSERT_EQ(r->num_elements(), 6);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(r->f32()[i], 0.5f * i);
}

TEST(Npy, EncodeMatchesNumpyBytes) {
  // Our writer lays the header out exactly as numpy does.
  std::vector<float> v = {0.f, 0.5f, 1.f, 1.5f, 2.f, 2.5f};
  std::vector<uint8_t> out;
  ASSERT_TRUE(EncodeNpy(fb::DType::F32, {2, 3}, v.data(), &out).ok());
  EXPECT_EQ(out, std::vector<uint8_t>(kNumpyF32, kNumpyF32 + sizeof(kNumpyF32)));
}

TEST(Npy, RoundTripsEveryDtypeAndShape) {
  const fb::DType dtypes[] = {fb::DType::F32, fb::DType::I32, fb::DType::I64, fb::DType::U8};
  const size_t sizes[] = {4, 4, 8, 1};
  const std::vector<std::vector<int64_t>> shapes = {{}, {1}, {7}, {2, 3, 5}, {0, 4}, {1, 1, 1, 1, 3}};
  for (int d = 0; d < 4; ++d) {
    for (const auto& shape : shapes) {
      int64_t n = 1;
      for (int64_t x : shape) n *= x;
      std::vector<uint8_t> data(static_cast<size_t>(n) * sizes[d]);
      for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 37 + d);
      std::vector<uint8_t> file;
      ASSERT_TRUE(EncodeNpy(dtypes[d], shape, data.data(), &file).ok());
      // Data starts 64-byte aligned, as numpy writes it.
      EXPECT_EQ((file.size() - data.size()) % 64, 0u);
      auto r = ParseNpy(file.data(), file.size());
      ASSERT_TRUE(r.ok()) << r.status().message();
      EXPECT_EQ(r->dtype, dtypes[d]);
      EXPECT_EQ(r->shape, shape);
      EXPECT_EQ(r->data, data);
    }
  }
}

TEST(Npy, ReadsNumpyStyleHeadersOfAllVersions) {
  std::vector<uint8_t> i64 = {1, 0, 0, 0, 0, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                              0xff, 3, 0, 0, 0, 0, 0, 0, 0};
  for (int major : {1, 2, 3}) {
    auto f = MakeNpy("{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", i64, major);
    auto r = ParseNpy(f.data(), f.size());
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ(r->dtype, fb::DType::I64);
    int64_t v[3];
    std::memcpy(v, r->data.data(), 24);
    EXPECT_EQ(v[0], 1);
    EXPECT_EQ(v[1], -2);
    EXPECT_EQ(v[2], 3);
  }
  // Scalar uint8 with '|u1', key order shuffled, double quotes, no trailing comma.
  auto f = MakeNpy("{\"shape\": (), \"descr\": \"|u1\", \"fortran_order\": False}", {7});
  auto r = ParseNpy(f.data(), f.size());
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->dtype, fb::DType::U8);
  EXPECT_TRUE(r->shape.empty());
  EXPECT_EQ(r->data, std::vector<uint8_t>{7});
}

struct BadNpy {
  const char* what;
  std::vector<uint8_t> file;
  const char* message;
};

TEST(Npy, RejectsMalformedFiles) {
  const std::vector<uint8_t> four(4 * 6, 0);
  std::vector<BadNpy> cases = {
      {"fortran", MakeNpy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", four),
       "fortran_order"},
      {"big-endian", MakeNpy("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", four),
       "big-endian"},
      {"float64", MakeNpy("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", four),
       "not supported"},
      {"truncated data",
       MakeNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), }", four),
       "truncated data"},
      {"trailing", MakeNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", four),
       "trailing bytes"},
      {"absurd dim",
       MakeNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776,), }", four),
       "shape entry"},
      {"overflowing shape",
       MakeNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (2147483648, 2147483648), }",
               four),
       "shape is too large"},
      {"negative dim", MakeNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", four),
       "shape entry"},
      {"missing key", MakeNpy("{'descr': '<f4', 'shape': (6,), }", four), "lacks"},
      {"unknown key",
       MakeNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'x': 1}", four),
       "unknown key"},
      {"not a dict", MakeNpy("['descr']", four), "not a dict"},
      {"unterminated string", MakeNpy("{'descr': '<f4", four), "descr is not a string"},
      {"unterminated dict", MakeNpy("{'descr': '<f4', ", four), "malformed header dict"},
      {"bad magic", Bytes(std::string("\x93NUMPZ\x01\x00\x00\x00", 10)), "bad magic"},
      {"too short", Bytes("\x93NUM"), "too short"},
      {"version 9", Bytes(std::string("\x93NUMPY\x09\x00\x00\x00", 10)), "version 9.0"},
      {"header past end", Bytes(std::string("\x93NUMPY\x01\x00\xff\x00{", 11)), "truncated header"},
      {"huge header", Bytes(std::string("\x93NUMPY\x02\x00\xff\xff\xff\x7f{", 13)), "absurdly long"},
  };
  for (const BadNpy& c : cases) {
    auto r = ParseNpy(c.file.data(), c.file.size());
    ASSERT_FALSE(r.ok()) << c.what;
    EXPECT_NE(std::strstr(r.status().message(), c.message), nullptr)
        << c.what << ": " << r.status().message();
  }
  // Every prefix of a valid file fails cleanly.
  std::vector<uint8_t> good(kNumpyF32, kNumpyF32 + sizeof(kNumpyF32));
  for (size_t n = 0; n < good.size(); ++n) {
    std::vector<uint8_t> prefix(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_FALSE(ParseNpy(prefix.data(), prefix.size()).ok()) << n;
  }
}

TEST(Npy, FileRoundTripAndErrors) {
  const std::string path = TempPath("a.npy");
  std::vector<int32_t> v = {1, -2, 3, 2147483647};
  ASSERT_TRUE(WriteNpy(path, fb::DType::I32, {2, 2}, v.data()).ok());
  auto r = ReadNpy(path);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->dtype, fb::DType::I32);
  EXPECT_EQ(std::memcmp(r->data.data(), v.data(), 16), 0);
  unlink(path.c_str());

  auto missing = ReadNpy(TempPath("missing.npy"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kIoError);
  EXPECT_FALSE(ReadNpy("/").ok());
  EXPECT_EQ(WriteNpy(TempPath("no/such/dir.npy"), fb::DType::F32, {1}, v.data()).code(),
            StatusCode::kIoError);
  std::vector<uint8_t> out;
  EXPECT_EQ(EncodeNpy(fb::DType::NVFP4, {2}, v.data(), &out).code(), StatusCode::kUnsupported);
  EXPECT_FALSE(EncodeNpy(fb::DType::F32, {-1}, v.data(), &out).ok());
}

// ---- checksums -------------------------------------------------------------

// Bitwise CRC-32 (no table), independent of the encoder's table version.
uint32_t SlowCrc(const uint8_t* p, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
  }
  return ~c;
}

TEST(Checksums, KnownValues) {
  const std::string check = "123456789";
  EXPECT_EQ(Crc32(reinterpret_cast<const uint8_t*>(check.data()), check.size()), 0xCBF43926u);
  EXPECT_EQ(Crc32(reinterpret_cast<const uint8_t*>("IEND"), 4), 0xAE426082u);
  EXPECT_EQ(Crc32(nullptr, 0), 0u);
  const std::string wiki = "Wikipedia";
  EXPECT_EQ(Adler32(reinterpret_cast<const uint8_t*>(wiki.data()), wiki.size()), 0x11E60398u);
  EXPECT_EQ(Adler32(nullptr, 0), 1u);
}

TEST(Checksums, LongInputsMatchSlowVersions) {
  std::vector<uint8_t> data(200000);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(255 - (i * 7 % 256));
  uint32_t a = 1, b = 0;
  for (uint8_t x : data) {
    a = (a + x) % 65521;
    b = (b + a) % 65521;
  }
  EXPECT_EQ(Adler32(data.data(), data.size()), (b << 16) | a);
  EXPECT_EQ(Crc32(data.data(), data.size()), SlowCrc(data.data(), data.size()));
  // Incremental use gives the same result.
  const uint32_t c1 = Crc32(data.data(), 1000);
  EXPECT_EQ(Crc32(data.data() + 1000, data.size() - 1000, c1), SlowCrc(data.data(), data.size()));
  const uint32_t a1 = Adler32(data.data(), 77777);
  EXPECT_EQ(Adler32(data.data() + 77777, data.size() - 77777, a1), (b << 16) | a);
}

// ---- PNG -------------------------------------------------------------------

// Decodes a PNG with libpng, an implementation independent of the writer:
// it checks the chunk CRCs, the zlib stream and its Adler-32, and the row
// filters. The image keeps its stored format (gray or RGB, 8 bits); false on
// any defect.
bool DecodePng(const std::vector<uint8_t>& png, int* w, int* h, int* channels, std::vector<uint8_t>* pixels) {
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&image, png.data(), png.size())) return false;
  if (image.format != PNG_FORMAT_GRAY && image.format != PNG_FORMAT_RGB) {
    png_image_free(&image);
    return false;
  }
  pixels->resize(PNG_IMAGE_SIZE(image));
  if (!png_image_finish_read(&image, nullptr, pixels->data(), 0, nullptr)) return false;
  *w = static_cast<int>(image.width);
  *h = static_cast<int>(image.height);
  *channels = static_cast<int>(PNG_IMAGE_PIXEL_CHANNELS(image.format));
  return true;
}

TEST(Png, EncodesGrayAndRgbIncludingMultiBlockStreams) {
  struct Case {
    int w, h, c;
  };
  // 300x300 RGB is ~270 KB of scanlines: several stored blocks.
  for (Case cs : {Case{1, 1, 1}, Case{3, 2, 1}, Case{5, 3, 3}, Case{300, 300, 3}, Case{257, 255, 1}}) {
    std::vector<uint8_t> img(static_cast<size_t>(cs.w) * cs.h * cs.c);
    for (size_t i = 0; i < img.size(); ++i) img[i] = static_cast<uint8_t>(i * 31 + i / 7);
    std::vector<uint8_t> png;
    ASSERT_TRUE(EncodePng(img.data(), cs.w, cs.h, cs.c, &png).ok());
    int w = 0, h = 0, c = 0;
    std::vector<uint8_t> back;
    ASSERT_TRUE(DecodePng(png, &w, &h, &c, &back)) << cs.w << "x" << cs.h;
    EXPECT_EQ(w, cs.w);
    EXPECT_EQ(h, cs.h);
    EXPECT_EQ(c, cs.c);
    EXPECT_EQ(back, img);
  }
}

TEST(Png, DecoderRejectsDamagedFiles) {
  // The decoder above must see a broken file, or the round trip proves nothing.
  std::vector<uint8_t> img(5 * 3 * 3, 7), png;
  ASSERT_TRUE(EncodePng(img.data(), 5, 3, 3, &png).ok());
  int w = 0, h = 0, c = 0;
  std::vector<uint8_t> back;
  ASSERT_TRUE(DecodePng(png, &w, &h, &c, &back));
  std::vector<uint8_t> bad = png;
  bad[bad.size() - 20] ^= 0x10;  // inside the IDAT chunk: its CRC no longer matches
  EXPECT_FALSE(DecodePng(bad, &w, &h, &c, &back));
  bad = png;
  bad.resize(png.size() - 16);  // cut inside the image data
  EXPECT_FALSE(DecodePng(bad, &w, &h, &c, &back));
}

TEST(Png, RejectsBadArgumentsAndWritesFiles) {
  std::vector<uint8_t> img(12, 9), png;
  EXPECT_FALSE(EncodePng(img.data(), 0, 2, 1, &png).ok());
  EXPECT_FALSE(EncodePng(img.data(), 2, -1, 1, &png).ok());
  EXPECT_FALSE(EncodePng(img.data(), 2, 2, 2, &png).ok());
  EXPECT_FALSE(EncodePng(img.data(), 2, 2, 4, &png).ok());
  EXPECT_FALSE(EncodePng(nullptr, 2, 2, 3, &png).ok());
  EXPECT_FALSE(EncodePng(img.data(), 1 << 30, 1 << 30, 3, &png).ok());
  const std::string path = TempPath("x.png");
  ASSERT_TRUE(WritePng(path, img.data(), 2, 2, 3).ok());
  FILE* f = std::fopen(path.c_str(), "rb");
  ASSERT_NE(f, nullptr);
  std::vector<uint8_t> disk(4096);
  disk.resize(std::fread(disk.data(), 1, disk.size(), f));
  std::fclose(f);
  unlink(path.c_str());
  ASSERT_TRUE(EncodePng(img.data(), 2, 2, 3, &png).ok());
  EXPECT_EQ(disk, png);
  EXPECT_EQ(WritePng(TempPath("no/dir/x.png"), img.data(), 2, 2, 3).code(), StatusCode::kIoError);
}

TEST(Images, PlanarFloatToU8MapsRangeAndClamps) {
  // 2 channels, 1x4: channel 0 then channel 1.
  const float nan = std::nanf("");
  const float chw[8] = {-1.f, 0.f, 1.f, 2.f, nan, -5.f, 0.5f, -0.5f};
  uint8_t hwc[8];
  PlanarFloatToU8(chw, 2, 1, 4, -1.f, 1.f, hwc);
  const uint8_t want[8] = {0, 0, 128, 0, 255, 191, 255, 64};
  for (int i = 0; i < 8; ++i) EXPECT_EQ(hwc[i], want[i]) << i;
}

TEST(Images, TileImagesIntoGrid) {
  // Five 2x3 gray images, each filled with its index + 1.
  const int n = 5, h = 2, w = 3;
  std::vector<uint8_t> imgs(n * h * w);
  for (int i = 0; i < n; ++i) {
    for (int p = 0; p < h * w; ++p) imgs[i * h * w + p] = static_cast<uint8_t>(10 * (i + 1) + p);
  }
  std::vector<uint8_t> grid;
  int gw = 0, gh = 0;
  ASSERT_TRUE(TileImages(imgs.data(), n, h, w, 1, 0, 1, 255, &grid, &gw, &gh).ok());
  // cols = ceil(sqrt(5)) = 3, rows = 2, one pixel of padding between.
  EXPECT_EQ(gw, 3 * w + 2);
  EXPECT_EQ(gh, 2 * h + 1);
  ASSERT_EQ(grid.size(), static_cast<size_t>(gw * gh));
  for (int i = 0; i < n; ++i) {
    const int x0 = (i % 3) * (w + 1), y0 = (i / 3) * (h + 1);
    for (int y = 0; y < h; ++y) {
      for (int x = 0; x < w; ++x) {
        EXPECT_EQ(grid[(y0 + y) * gw + x0 + x], 10 * (i + 1) + y * w + x);
      }
    }
  }
  EXPECT_EQ(grid[3], 255);                    // padding column
  EXPECT_EQ(grid[2 * gw], 255);               // padding row
  EXPECT_EQ(grid[(h + 1) * gw + 2 * (w + 1)], 255);  // empty sixth cell
  // RGB, explicit column count, no padding.
  std::vector<uint8_t> rgb(2 * 1 * 1 * 3);
  for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<uint8_t>(i);
  ASSERT_TRUE(TileImages(rgb.data(), 2, 1, 1, 3, 1, 0, 0, &grid, &gw, &gh).ok());
  EXPECT_EQ(gw, 1);
  EXPECT_EQ(gh, 2);
  EXPECT_EQ(grid, rgb);
  EXPECT_FALSE(TileImages(rgb.data(), 0, 1, 1, 3, 1, 0, 0, &grid, &gw, &gh).ok());
  EXPECT_FALSE(TileImages(rgb.data(), 2, 1, 1, 3, -1, 0, 0, &grid, &gw, &gh).ok());
}

}  // namespace
}  // namespace edge
