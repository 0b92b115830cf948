// Writer and Reader: little-endian, bounds-checked encoding of wire structs.
//
// Reader never reads past its span: every getter returns false once the input is exhausted
// and the Reader stays failed, so a decoder can read all fields and check ok() once.
// Single-owner values; not thread-safe.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace cohort::wire {

using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;

class Writer {
 public:
  explicit Writer(Bytes* out) : out_(out) {}
  void U8(uint8_t v) { out_->push_back(v); }
  void U16(uint16_t v) { Le(v, 2); }
  void U32(uint32_t v) { Le(v, 4); }
  void U64(uint64_t v) { Le(v, 8); }
  void Raw(ByteView b) { out_->insert(out_->end(), b.begin(), b.end()); }
  // Length-prefixed (u32) byte string.
  void Blob(ByteView b) {
    U32(static_cast<uint32_t>(b.size()));
    Raw(b);
  }
  // Text, as a Blob of its bytes.
  void Text(std::string_view s) {
    Blob(ByteView(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
  }
  // A u32 count, then put(*this, item) for each item.
  template <typename T, typename PutOne>
  void List(const std::vector<T>& items, PutOne put) {
    U32(static_cast<uint32_t>(items.size()));
    for (const T& item : items) put(*this, item);
  }

 private:
  void Le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_->push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  Bytes* out_;
};

class Reader {
 public:
  explicit Reader(ByteView in) : in_(in) {}
  bool U8(uint8_t* v) { return Le(v, 1); }
  bool U16(uint16_t* v) { return Le(v, 2); }
  bool U32(uint32_t* v) { return Le(v, 4); }
  bool U64(uint64_t* v) { return Le(v, 8); }
  bool Raw(size_t n, ByteView* v) {
    if (!ok_ || remaining() < n) return ok_ = false;
    *v = in_.subspan(pos_, n);
    pos_ += n;
    return true;
  }
  // REQUIRES: max bounds the length accepted, so a hostile length cannot ask for more.
  bool Blob(size_t max, ByteView* v) {
    uint32_t n = 0;
    if (!U32(&n) || n > max) return ok_ = false;
    return Raw(n, v);
  }
  bool Text(size_t max, std::string* s) {
    ByteView v;
    if (!Blob(max, &v)) return false;
    s->assign(v.begin(), v.end());
    return true;
  }
  // A u32 count of at most `max`, then get(*this, &item) for each. Every item takes a byte at
  // least, so a hostile count allocates nothing the input cannot fill.
  template <typename T, typename GetOne>
  bool List(size_t max, std::vector<T>* items, GetOne get) {
    uint32_t n = 0;
    if (!U32(&n) || n > max || n > remaining()) return ok_ = false;
    items->resize(n);
    for (T& item : *items) {
      if (!get(*this, &item)) return ok_ = false;
    }
    return true;
  }
  ByteView Rest() {
    ByteView r = ok_ ? in_.subspan(pos_) : ByteView{};
    pos_ = in_.size();
    return r;
  }
  size_t remaining() const { return in_.size() - pos_; }
  bool ok() const { return ok_; }
  // True when every byte was consumed without error: trailing garbage is malformed.
  bool done() const { return ok_ && pos_ == in_.size(); }

 private:
  template <typename T>
  bool Le(T* v, size_t n) {
    if (!ok_ || remaining() < n) return ok_ = false;
    uint64_t x = 0;
    for (size_t i = 0; i < n; ++i) x |= static_cast<uint64_t>(in_[pos_ + i]) << (8 * i);
    *v = static_cast<T>(x);
    pos_ += n;
    return true;
  }
  ByteView in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace cohort::wire
