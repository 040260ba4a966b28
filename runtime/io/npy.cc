// .npy reader/writer. The header is a Python dict literal; we parse only the
// subset numpy writes ({'descr': .., 'fortran_order': .., 'shape': (..), })
// with a small tokenizer, and bound every number before using it.
#include "runtime/io/file_util.h"
#include "runtime/io/npy.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>

#include "runtime/model.h"

namespace edge {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;
constexpr size_t kMaxHeaderLen = 1 << 20;
constexpr int kMaxNpyRank = 32;

Status Bad(const char* what) {
  return Status::Error(StatusCode::kInvalidArgument, "npy: %s", what);
}

size_t ItemSize(fb::DType dtype) {
  switch (dtype) {
    case fb::DType::F32:
    case fb::DType::I32: return 4;
    case fb::DType::I64: return 8;
    case fb::DType::U8: return 1;
    default: return 0;
  }
}

const char* Descr(fb::DType dtype) {
  switch (dtype) {
    case fb::DType::F32: return "<f4";
    case fb::DType::I32: return "<i4";
    case fb::DType::I64: return "<i8";
    case fb::DType::U8: return "|u1";
    default: return nullptr;
  }
}

// Product of dims with every step bounded by kMaxTensorElements.
bool CountElements(const std::vector<int64_t>& shape, uint64_t* count) {
  uint64_t n = 1;
  bool zero = false;
  for (int64_t d : shape) {
    if (d < 0 || d > kMaxTensorElements) return false;
    zero |= d == 0;
  }
  if (zero) {
    *count = 0;
    return true;
  }
  for (int64_t d : shape) {
    if (__builtin_mul_overflow(n, static_cast<uint64_t>(d), &n) ||
        n > static_cast<uint64_t>(kMaxTensorElements)) {
      return false;
    }
  }
  *count = n;
  return true;
}

// Cursor over the header text.
struct Lexer {
  const char* p;
  const char* end;

  void SkipSpace() {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) ++p;
  }
  bool Eat(char c) {
    SkipSpace();
    if (p < end && *p == c) {
      ++p;
      return true;
    }
    return false;
  }
  bool Peek(char c) {
    SkipSpace();
    return p < end && *p == c;
  }
  // A '...' or "..." literal without escapes (numpy never writes any).
  bool String(std::string* out) {
    SkipSpace();
    if (p >= end || (*p != '\'' && *p != '"')) return false;
    const char quote = *p++;
    const char* start = p;
    while (p < end && *p != quote) {
      if (*p == '\\') return false;
      ++p;
    }
    if (p >= end) return false;
    out->assign(start, p);
    ++p;
    return true;
  }
  bool Word(const char* w) {
    SkipSpace();
    const size_t n = std::strlen(w);
    if (static_cast<size_t>(end - p) < n || std::memcmp(p, w, n) != 0) return false;
    p += n;
    return true;
  }
  bool Integer(int64_t* v) {
    SkipSpace();
    if (p >= end || *p < '0' || *p > '9') return false;
    uint64_t x = 0;
    while (p < end && *p >= '0' && *p <= '9') {
      x = x * 10 + static_cast<uint64_t>(*p - '0');
      if (x > static_cast<uint64_t>(kMaxTensorElements)) return false;
      ++p;
    }
    // numpy may write Python 2 longs as "3L".
    if (p < end && *p == 'L') ++p;
    *v = static_cast<int64_t>(x);
    return true;
  }
};

Status ParseShape(Lexer* lx, std::vector<int64_t>* shape) {
  if (!lx->Eat('(')) return Bad("shape is not a tuple");
  shape->clear();
  while (!lx->Eat(')')) {
    int64_t d;
    if (!lx->Integer(&d)) return Bad("shape entry is not a small non-negative integer");
    if (static_cast<int>(shape->size()) >= kMaxNpyRank) return Bad("shape has too many dims");
    shape->push_back(d);
    if (!lx->Eat(',') && !lx->Peek(')')) return Bad("malformed shape tuple");
  }
  return Status::Ok();
}

Status ParseHeader(const char* text, size_t len, fb::DType* dtype, std::vector<int64_t>* shape) {
  Lexer lx{text, text + len};
  if (!lx.Eat('{')) return Bad("header is not a dict");
  bool have_descr = false, have_order = false, have_shape = false;
  std::string descr;
  while (!lx.Eat('}')) {
    std::string key;
    if (!lx.String(&key) || !lx.Eat(':')) return Bad("malformed header dict");
    if (key == "descr") {
      if (!lx.String(&descr)) return Bad("descr is not a string");
      have_descr = true;
    } else if (key == "fortran_order") {
      if (lx.Word("True")) {
        return Status::Error(StatusCode::kUnsupported,
                             "npy: fortran_order arrays are not supported (save C order)");
      }
      if (!lx.Word("False")) return Bad("fortran_order is not True/False");
      have_order = true;
    } else if (key == "shape") {
      EDGE_RETURN_IF_ERROR(ParseShape(&lx, shape));
      have_shape = true;
    } else {
      return Bad("unknown key in header");
    }
    if (!lx.Eat(',') && !lx.Peek('}')) return Bad("malformed header dict");
  }
  lx.SkipSpace();
  if (lx.p != lx.end) return Bad("junk after header dict");
  if (!have_descr || !have_order || !have_shape) {
    return Bad("header lacks descr, fortran_order or shape");
  }
  if (descr.size() == 3 && descr[0] == '>' && descr[2] != '1') {
    return Status::Error(StatusCode::kUnsupported, "npy: big-endian data ('%s') is not supported",
                         descr.c_str());
  }
  // Byte order: '<' little, '=' native (little on every target we build),
  // '|' not applicable; single bytes accept any mark.
  const std::string body =
      (!descr.empty() && (descr[0] == '<' || descr[0] == '=' || descr[0] == '|' ||
                          descr[0] == '>'))
          ? descr.substr(1)
          : descr;
  const char mark = descr.empty() ? 0 : descr[0];
  if (body == "u1") {
    *dtype = fb::DType::U8;
  } else if (mark == '|' || mark == '>') {
    return Status::Error(StatusCode::kUnsupported, "npy: dtype '%s' is not supported",
                         descr.c_str());
  } else if (body == "f4") {
    *dtype = fb::DType::F32;
  } else if (body == "i4") {
    *dtype = fb::DType::I32;
  } else if (body == "i8") {
    *dtype = fb::DType::I64;
  } else {
    return Status::Error(StatusCode::kUnsupported,
                         "npy: dtype '%s' is not supported (use float32, int32, int64 or uint8)",
                         descr.c_str());
  }
  return Status::Ok();
}

}  // namespace

int64_t NpyArray::num_elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

Result<NpyArray> ParseNpy(const uint8_t* bytes, size_t size) {
  if (!bytes || size < kMagicLen + 4 || std::memcmp(bytes, kMagic, kMagicLen) != 0) {
    return Bad("not a .npy file (bad magic or too short)");
  }
  const int major = bytes[6];
  size_t header_len, header_start;
  if (major == 1) {
    header_len = size_t(bytes[8]) | size_t(bytes[9]) << 8;
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (size < 12) return Bad("truncated header");
    header_len = size_t(bytes[8]) | size_t(bytes[9]) << 8 | size_t(bytes[10]) << 16 |
                 size_t(bytes[11]) << 24;
    header_start = 12;
  } else {
    return Status::Error(StatusCode::kUnsupported, "npy: format version %d.%d not supported",
                         major, bytes[7]);
  }
  if (header_len > kMaxHeaderLen) return Bad("header is absurdly long");
  if (header_len > size - header_start) return Bad("truncated header");
  NpyArray array;
  EDGE_RETURN_IF_ERROR(ParseHeader(reinterpret_cast<const char*>(bytes + header_start),
                                   header_len, &array.dtype, &array.shape));
  uint64_t count = 0;
  if (!CountElements(array.shape, &count)) return Bad("shape is too large");
  const uint64_t want = count * ItemSize(array.dtype);  // <= 2^31 * 8: no overflow
  const size_t data_start = header_start + header_len;
  const uint64_t have = size - data_start;
  if (have < want) {
    return Status::Error(StatusCode::kInvalidArgument,
                         "npy: truncated data (%llu bytes, shape needs %llu)",
                         static_cast<unsigned long long>(have),
                         static_cast<unsigned long long>(want));
  }
  if (have > want) {
    return Status::Error(StatusCode::kInvalidArgument,
                         "npy: %llu trailing bytes after the data",
                         static_cast<unsigned long long>(have - want));
  }
  if (want > array.data.max_size()) return Bad("data too large");
  array.data.assign(bytes + data_start, bytes + data_start + static_cast<size_t>(want));
  return array;
}

Result<NpyArray> ReadNpy(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Status::Error(StatusCode::kIoError, "cannot open '%s': %s", path.c_str(),
                         std::strerror(errno));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::Error(StatusCode::kIoError, "'%s' is not a readable regular file",
                         path.c_str());
  }
  // A valid file is at most header + 2^31 elements of 8 bytes.
  const unsigned long long limit = (1ull << 34) + kMaxHeaderLen + 64;
  if (static_cast<unsigned long long>(st.st_size) > limit) {
    ::close(fd);
    return Status::Error(StatusCode::kInvalidArgument, "'%s' is too large for a .npy input",
                         path.c_str());
  }
  std::vector<uint8_t> bytes(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::read(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return Status::Error(StatusCode::kIoError, "read '%s' failed", path.c_str());
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  Result<NpyArray> r = ParseNpy(bytes.data(), bytes.size());
  if (!r.ok()) {
    Status s = r.status();
    return s.Prepend("%s: ", path.c_str());
  }
  return r;
}

Status EncodeNpy(fb::DType dtype, const std::vector<int64_t>& shape, const void* data,
                 std::vector<uint8_t>* out) {
  const char* descr = Descr(dtype);
  if (!descr) {
    return Status::Error(StatusCode::kUnsupported, "npy: cannot write dtype %s",
                         DTypeName(dtype));
  }
  if (static_cast<int>(shape.size()) > kMaxNpyRank) return Bad("shape has too many dims");
  uint64_t count = 0;
  if (!CountElements(shape, &count)) return Bad("shape is negative or too large");
  const size_t bytes = static_cast<size_t>(count * ItemSize(dtype));
  if (bytes > 0 && !data) return Status::Error(StatusCode::kInvalidArgument, "npy: null data");

  std::string header = "{'descr': '";
  header += descr;
  header += "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < shape.size(); ++i) {
    header += std::to_string(shape[i]);
    if (shape.size() == 1 || i + 1 < shape.size()) header += ",";
    if (i + 1 < shape.size()) header += " ";
  }
  header += "), }";
  // Pad with spaces and end with '\n' so the data starts 64-byte aligned.
  size_t prefix = kMagicLen + 2 + 2;
  if (header.size() + 1 + prefix > 65535) prefix = kMagicLen + 2 + 4;
  const size_t total = prefix + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  const size_t hlen = header.size();

  out->clear();
  out->reserve(prefix + hlen + bytes);
  out->insert(out->end(), kMagic, kMagic + kMagicLen);
  out->push_back(prefix == 10 ? 1 : 2);
  out->push_back(0);
  out->push_back(static_cast<uint8_t>(hlen));
  out->push_back(static_cast<uint8_t>(hlen >> 8));
  if (prefix == 12) {
    out->push_back(static_cast<uint8_t>(hlen >> 16));
    out->push_back(static_cast<uint8_t>(hlen >> 24));
  }
  out->insert(out->end(), header.begin(), header.end());
  const uint8_t* p = static_cast<const uint8_t*>(data);
  if (bytes) out->insert(out->end(), p, p + bytes);
  return Status::Ok();
}

Status WriteNpy(const std::string& path, fb::DType dtype, const std::vector<int64_t>& shape,
                const void* data) {
  std::vector<uint8_t> bytes;
  EDGE_RETURN_IF_ERROR(EncodeNpy(dtype, shape, data, &bytes));
  return WriteWholeFile(path, bytes);
}

}  // namespace edge
