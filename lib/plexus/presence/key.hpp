// Key: the string type of presence keys. Up to 30 bytes live inline (most
// keys: user ids, UUIDs without dashes, ...), so a stored presence and a
// listed copy need no heap block for the key; longer keys take one.
#pragma once

#include <compare>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace plexus::presence {

class Key {
 public:
  static constexpr std::size_t inline_max = 30;

  Key() noexcept { clear_inline(); }
  Key(std::string_view s) { assign(s); }  // NOLINT: implicit by design
  Key(const std::string& s) : Key(std::string_view(s)) {}  // NOLINT
  Key(const char* s) : Key(std::string_view(s)) {}  // NOLINT
  Key(const Key& other) { assign(other.view()); }
  Key(Key&& other) noexcept {
    std::memcpy(static_cast<void*>(this), static_cast<const void*>(&other), sizeof(Key));
    other.clear_inline();
  }
  Key& operator=(const Key& other) {
    if (this != &other) assign(other.view());
    return *this;
  }
  Key& operator=(Key&& other) noexcept {
    if (this != &other) {
      release();
      std::memcpy(static_cast<void*>(this), static_cast<const void*>(&other), sizeof(Key));
      other.clear_inline();
    }
    return *this;
  }
  ~Key() { release(); }

  void assign(std::string_view s) {
    release();
    if (s.size() <= inline_max) {
      std::memcpy(data_.inline_bytes, s.data(), s.size());
      tag_ = static_cast<std::uint8_t>(s.size());
    } else {
      char* p = new char[s.size()];
      std::memcpy(p, s.data(), s.size());
      data_.heap = Heap{p, s.size()};
      tag_ = heap_tag;
    }
  }
  void clear() { release(); clear_inline(); }

  [[nodiscard]] std::string_view view() const noexcept {
    return tag_ == heap_tag ? std::string_view(data_.heap.ptr, data_.heap.size)
                            : std::string_view(data_.inline_bytes, tag_);
  }
  operator std::string_view() const noexcept { return view(); }  // NOLINT
  [[nodiscard]] std::string str() const { return std::string(view()); }
  [[nodiscard]] std::size_t size() const noexcept { return view().size(); }
  [[nodiscard]] bool empty() const noexcept { return size() == 0; }

  friend bool operator==(const Key& a, const Key& b) noexcept { return a.view() == b.view(); }
  friend bool operator==(const Key& a, std::string_view b) noexcept { return a.view() == b; }
  friend bool operator==(const Key& a, const char* b) noexcept { return a.view() == std::string_view(b); }
  friend bool operator==(const Key& a, const std::string& b) noexcept { return a.view() == std::string_view(b); }
  friend auto operator<=>(const Key& a, const Key& b) noexcept { return a.view() <=> b.view(); }

 private:
  static constexpr std::uint8_t heap_tag = 0xff;
  struct Heap {
    char* ptr;
    std::size_t size;
  };
  void release() noexcept {
    if (tag_ == heap_tag) delete[] data_.heap.ptr;
  }
  void clear_inline() noexcept { tag_ = 0; }

  union Data {
    char inline_bytes[inline_max + 1];
    Heap heap;
  } data_;
  std::uint8_t tag_ = 0;
};

}  // namespace plexus::presence
