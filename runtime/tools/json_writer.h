// A small streaming JSON writer for edge-run's --json summary: it places the
// commas and colons and escapes every string, so the output stays valid JSON
// whatever a model or op name holds. Writes as it goes (no document tree);
// no exceptions, no allocation.
#pragma once

#include <cstdint>
#include <cstdio>

namespace edge {
namespace cli {

class JsonWriter {
 public:
  explicit JsonWriter(FILE* f) : f_(f) {}

  JsonWriter& BeginObject() { return Open('{'); }
  JsonWriter& EndObject() { return Close('}'); }
  JsonWriter& BeginArray() { return Open('['); }
  JsonWriter& EndArray() { return Close(']'); }
  // The key of the next value inside an object.
  JsonWriter& Key(const char* key);

  JsonWriter& String(const char* s) { return StringN(s, SIZE_MAX); }
  // At most n bytes of s (stops early at a NUL).
  JsonWriter& StringN(const char* s, size_t n);
  JsonWriter& Int(long long v);
  JsonWriter& Uint(unsigned long long v);
  JsonWriter& Bool(bool v);
  // A number printed with a printf format for one double ("%.3f", "%g");
  // NaN and Inf, which JSON cannot hold, as null.
  JsonWriter& Number(double v, const char* format);

 private:
  JsonWriter& Open(char c);
  JsonWriter& Close(char c);
  void Separate();
  void Escaped(const char* s, size_t n);

  FILE* f_;
  uint64_t outer_commas_ = 0;  // one bit per open level: did it hold a value yet
  bool comma_ = false;         // the current level holds a value: the next needs ','
  bool after_key_ = false;     // a key was written: its value needs no ','
};

}  // namespace cli
}  // namespace edge
