#include "runtime/tools/json_writer.h"

#include <cmath>

namespace edge {
namespace cli {

void JsonWriter::Separate() {
  if (after_key_) {
    after_key_ = false;
  } else if (comma_) {
    std::fputc(',', f_);
  }
  comma_ = true;
}

JsonWriter& JsonWriter::Open(char c) {
  Separate();
  std::fputc(c, f_);
  outer_commas_ = (outer_commas_ << 1) | (comma_ ? 1u : 0u);
  comma_ = false;
  return *this;
}

JsonWriter& JsonWriter::Close(char c) {
  std::fputc(c, f_);
  comma_ = (outer_commas_ & 1u) != 0;
  outer_commas_ >>= 1;
  return *this;
}

void JsonWriter::Escaped(const char* s, size_t n) {
  std::fputc('"', f_);
  for (size_t i = 0; i < n && s[i] != '\0'; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') std::fprintf(f_, "\\%c", c);
    else if (c < 0x20) std::fprintf(f_, "\\u%04x", c);
    else std::fputc(c, f_);
  }
  std::fputc('"', f_);
}

JsonWriter& JsonWriter::Key(const char* key) {
  Separate();
  Escaped(key, SIZE_MAX);
  std::fputc(':', f_);
  after_key_ = true;
  return *this;
}

JsonWriter& JsonWriter::StringN(const char* s, size_t n) {
  Separate();
  Escaped(s, n);
  return *this;
}

JsonWriter& JsonWriter::Int(long long v) {
  Separate();
  std::fprintf(f_, "%lld", v);
  return *this;
}

JsonWriter& JsonWriter::Uint(unsigned long long v) {
  Separate();
  std::fprintf(f_, "%llu", v);
  return *this;
}

JsonWriter& JsonWriter::Bool(bool v) {
  Separate();
  std::fputs(v ? "true" : "false", f_);
  return *this;
}

JsonWriter& JsonWriter::Number(double v, const char* format) {
  Separate();
  if (std::isfinite(v)) std::fprintf(f_, format, v);
  else std::fputs("null", f_);
  return *this;
}

}  // namespace cli
}  // namespace edge
