// Text-format encodings of PostgreSQL array and bytea values for bind parameters, and decoding of
// bytea results. Arrays travel as literals ({"a","b",NULL}); this keeps every parameter a single
// text value so one statement carries a whole batch.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace duroxide::pg {

// Builds one array literal element by element.
class ArrayLiteral {
 public:
  ArrayLiteral() : text_("{") {}
  ArrayLiteral& add(std::string_view s);  // quoted, with " and \ escaped
  ArrayLiteral& add(std::int64_t v);
  ArrayLiteral& add_null();
  ArrayLiteral& add_bytea(std::string_view bytes);  // "\\x<hex>" element of a bytea[]
  template <class T>
  ArrayLiteral& add(const std::optional<T>& v) {
    return v ? add(*v) : add_null();
  }
  // The finished literal; the builder must not be used afterwards.
  std::string finish();
  bool empty() const { return count_ == 0; }

 private:
  void sep();
  std::string text_;
  std::size_t count_ = 0;
};

// "\x<hex>" — the text input form of bytea.
std::string bytea_hex(std::string_view bytes);
// Decodes a text-format bytea result ("\x..." hex output); nullopt for anything malformed.
std::optional<std::string> bytea_decode(std::string_view text);

// Whether the string can be stored in a PostgreSQL text column (no U+0000).
inline bool storable_text(std::string_view s) { return s.find('\0') == std::string_view::npos; }

}  // namespace duroxide::pg
