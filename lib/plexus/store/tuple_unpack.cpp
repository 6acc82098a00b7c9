// Decoding FoundationDB tuple-layer bytes (untrusted input): every read is
// bounds-checked, nesting is capped at tuple_depth_max, strings must be valid
// UTF-8, and a failure is malformed_tuple with "offset N: what was wrong".
// Non-minimal integer encodings (1d with a short length, leading zero bytes)
// are accepted as FoundationDB's bindings accept them; pack() writes the
// minimal form again.
#include <cstdio>
#include <cstring>
#include <limits>

#include "plexus/store/errors.hpp"
#include "plexus/store/tuple.hpp"
#include "plexus/store/tuple_detail.hpp"

namespace plexus::store {
namespace {

namespace code = detail::code;

class Unpacker {
 public:
  explicit Unpacker(std::string_view in) : p_(reinterpret_cast<const std::uint8_t*>(in.data())), n_(in.size()) {}

  /// Reads elements up to the end of the input (top level) or up to the 00
  /// that ends a nested tuple opened at offset `start`.
  bool tuple(Tuple& out, std::size_t depth, bool nested, std::size_t start) {
    while (pos_ < n_) {
      if (nested && p_[pos_] == code::null) {
        if (pos_ + 1 < n_ && p_[pos_ + 1] == code::escape) {
          out.emplace_back(nullptr);
          pos_ += 2;
          continue;
        }
        ++pos_;
        return true;
      }
      if (!element(out, depth)) return false;
    }
    if (nested) return fail(start, "nested tuple not terminated");
    return true;
  }

  [[nodiscard]] Error error() const {
    return make_error(errc::malformed_tuple, "offset " + std::to_string(error_at_) + ": " + what_);
  }

 private:
  bool fail(std::size_t at, std::string what) {
    error_at_ = at;
    what_ = std::move(what);
    return false;
  }

  // Checks that `count` bytes follow the type code of the element at `at`.
  bool need(std::size_t at, std::size_t count, const char* what) {
    return n_ - pos_ >= count || truncated(at, count, what);
  }

  [[gnu::noinline]] bool truncated(std::size_t at, std::size_t count, const char* what) {
    return fail(at, std::string(what) + " truncated: needs " + std::to_string(count) + " bytes, " +
                        std::to_string(n_ - pos_) + " left");
  }

  std::uint64_t read_be(std::size_t count) noexcept {
    std::uint64_t v = 0;
    for (std::size_t k = 0; k < count; ++k) v = (v << 8) | p_[pos_ + k];
    pos_ += count;
    return v;
  }

  bool element(Tuple& out, std::size_t depth) {
    const std::size_t at = pos_;
    const std::uint8_t type = p_[pos_++];
    switch (type) {
      case code::null: out.emplace_back(nullptr); return true;
      case code::bytes:
      case code::string: return text(out, type == code::string, at);
      case code::nested: {
        if (depth + 1 > tuple_depth_max) {
          return fail(at, "nested deeper than " + std::to_string(tuple_depth_max) + " levels");
        }
        auto& inner = std::get<Tuple>(out.emplace_back(Tuple{}).value);
        inner.reserve(4);
        return tuple(inner, depth + 1, true, at);
      }
      case code::neg_big:
      case code::pos_big: return big_int(out, type == code::neg_big, at);
      case code::float32: {
        if (!need(at, 4, "float")) return false;
        out.emplace_back(Float{detail::float_from_order_key(static_cast<std::uint32_t>(read_be(4)))});
        return true;
      }
      case code::float64: {
        if (!need(at, 8, "double")) return false;
        out.emplace_back(detail::double_from_order_key(read_be(8)));
        return true;
      }
      case code::false_: out.emplace_back(false); return true;
      case code::true_: out.emplace_back(true); return true;
      case code::uuid: {
        if (!need(at, 16, "UUID")) return false;
        Uuid u;
        std::memcpy(u.bytes.data(), p_ + pos_, 16);
        pos_ += 16;
        out.emplace_back(u);
        return true;
      }
      case code::versionstamp: {
        if (!need(at, 12, "versionstamp")) return false;
        Versionstamp v;
        std::memcpy(v.transaction_version.data(), p_ + pos_, 10);
        pos_ += 10;
        v.user_version = static_cast<std::uint16_t>(read_be(2));
        out.emplace_back(v);
        return true;
      }
      default: break;
    }
    if (type > code::neg_big && type < code::pos_big) return small_int(out, type, at);
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02x", type);
    return fail(at, std::string("unknown type code ") + hex);
  }

  // Codes 0c..1c: the byte count is the distance from 14; negatives are one's complement.
  bool small_int(Tuple& out, std::uint8_t type, std::size_t at) {
    const bool negative = type < code::int_zero;
    const std::size_t count = negative ? code::int_zero - type : type - code::int_zero;
    if (!need(at, count, "integer")) return false;
    std::uint64_t magnitude = read_be(count);
    if (negative) magnitude = count == 8 ? ~magnitude : (~magnitude & ((std::uint64_t{1} << (8 * count)) - 1));
    constexpr auto int64_max = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    if (!negative && magnitude <= int64_max) {
      out.emplace_back(static_cast<std::int64_t>(magnitude));
    } else if (negative && magnitude <= int64_max + 1) {
      out.emplace_back(static_cast<std::int64_t>(0 - magnitude));
    } else {
      std::string be(8, '\0');
      for (int k = 0; k < 8; ++k) be[static_cast<std::size_t>(k)] = static_cast<char>(magnitude >> (8 * (7 - k)));
      out.emplace_back(BigInt{negative, std::move(be)});
    }
    return true;
  }

  // 1d: length, magnitude. 0b: length ^ ff, one's complement of the magnitude.
  bool big_int(Tuple& out, bool negative, std::size_t at) {
    if (!need(at, 1, "big integer")) return false;
    const std::size_t length = negative ? p_[pos_] ^ 0xffu : p_[pos_];
    ++pos_;
    if (!need(at, length, "big integer")) return false;
    BigInt b{negative, std::string(reinterpret_cast<const char*>(p_ + pos_), length)};
    if (negative) {
      for (auto& c : b.magnitude) c = static_cast<char>(~c);
    }
    pos_ += length;
    out.emplace_back(std::move(b));  // Element(BigInt) strips zeros and narrows to int64 when it fits
    return true;
  }

  // Bytes and strings. Most hold no 00, so the first 00 ends them and the
  // element is built in place in one go; otherwise escaped() undoes the escapes.
  bool text(Tuple& out, bool utf8, std::size_t at) {
    const std::size_t end = pos_ + detail::find_zero(p_ + pos_, n_ - pos_);
    if (end == n_ || (end + 1 < n_ && p_[end + 1] == code::escape)) {
      auto& element = out.emplace_back();
      std::string& s = utf8 ? element.value.emplace<std::string>() : element.value.emplace<Bytes>().value;
      return escaped(s, utf8, at);
    }
    const std::string_view content(reinterpret_cast<const char*>(p_ + pos_), end - pos_);
    if (utf8) {
      if (const auto valid = detail::utf8_valid_prefix(content); valid != content.size()) {
        return fail(pos_ + valid, "string is not valid UTF-8");
      }
      // Empty first, then one copy: moving a filled short string costs a
      // memcpy per move, and emplacing into a default element a variant reset.
      std::get_if<std::string>(&out.emplace_back(std::string()).value)->assign(content);
    } else {
      std::get_if<Bytes>(&out.emplace_back(Bytes{}).value)->value.assign(content);
    }
    pos_ = end + 1;
    return true;
  }

  // 00 ff is an escaped 00, a lone 00 ends the element.
  bool escaped(std::string& s, bool utf8, std::size_t at) {
    std::size_t pos = pos_;
    while (true) {
      const std::size_t end = pos + detail::find_zero(p_ + pos, n_ - pos);
      if (end == n_) return fail(at, utf8 ? "string not terminated" : "bytes not terminated");
      const std::string_view segment(reinterpret_cast<const char*>(p_ + pos), end - pos);
      // A multi-byte character never spans a 00, so segments are checked one by one.
      if (utf8) {
        if (const auto valid = detail::utf8_valid_prefix(segment); valid != segment.size()) {
          return fail(pos + valid, "string is not valid UTF-8");
        }
      }
      s.append(segment);
      if (end + 1 < n_ && p_[end + 1] == code::escape) {
        s.push_back('\0');
        pos = end + 2;
        continue;
      }
      pos_ = end + 1;
      return true;
    }
  }

  const std::uint8_t* p_;
  std::size_t n_;
  std::size_t pos_ = 0;
  std::size_t error_at_ = 0;
  std::string what_;
};

}  // namespace

Result<Tuple> unpack(std::string_view packed) {
  Tuple out;
  if (!packed.empty()) out.reserve(std::min<std::size_t>(packed.size(), 8));
  Unpacker unpacker(packed);
  if (!unpacker.tuple(out, 0, false, 0)) return unpacker.error();
  return out;
}

}  // namespace plexus::store
