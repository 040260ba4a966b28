// Array<T>: a heap array whose allocation may fail without exceptions.
//
// The runtime core builds with -fno-exceptions, where a std::vector that
// cannot grow ends the process (std::bad_alloc with no handler: abort). The
// tables built while loading and preparing a model live in Arrays instead,
// so that running out of memory there is a kOutOfMemory Status like any
// other refusal (tests/fault/alloc_failure_test.cc checks every allocation).
// Reading one is like reading a const std::vector: size(), [], range-for.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <utility>

namespace edge {

template <typename T>
class Array {
 public:
  Array() = default;
  ~Array() { delete[] data_; }
  Array(Array&& o) noexcept : data_(o.data_), size_(o.size_) {
    o.data_ = nullptr;
    o.size_ = 0;
  }
  Array& operator=(Array&& o) noexcept {
    if (this != &o) {
      delete[] data_;
      data_ = o.data_;
      size_ = o.size_;
      o.data_ = nullptr;
      o.size_ = 0;
    }
    return *this;
  }
  Array(const Array&) = delete;
  Array& operator=(const Array&) = delete;

  // Replaces the contents with n value-initialized elements. Returns false
  // (contents unchanged) when the memory cannot be had.
  bool Reset(size_t n) {
    T* p = nullptr;
    if (n > 0) {
      if (n > SIZE_MAX / 2 / sizeof(T)) return false;
      p = new (std::nothrow) T[n]();
      if (p == nullptr) return false;
    }
    delete[] data_;
    data_ = p;
    size_ = n;
    return true;
  }
  // n elements, each a copy of `value`.
  bool Reset(size_t n, const T& value) {
    if (!Reset(n)) return false;
    for (size_t i = 0; i < n; ++i) data_[i] = value;
    return true;
  }
  // A copy of [first, last).
  template <typename It>
  bool Assign(It first, It last) {
    size_t n = 0;
    for (It it = first; it != last; ++it) ++n;
    if (!Reset(n)) return false;
    size_t i = 0;
    for (It it = first; it != last; ++it) data_[i++] = *it;
    return true;
  }

  // Keeps the first n elements (n <= size()) without reallocating: a table
  // filled up to a count only known while filling is sized for the most it
  // can hold, then cut to what it got.
  void Truncate(size_t n) {
    if (n < size_) size_ = n;
  }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  T* data() { return data_; }
  const T* data() const { return data_; }
  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }
  T* begin() { return data_; }
  T* end() { return data_ + size_; }
  const T* begin() const { return data_; }
  const T* end() const { return data_ + size_; }
  const T& front() const { return data_[0]; }
  const T& back() const { return data_[size_ - 1]; }

 private:
  T* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace edge
