// Query descriptions and results exchanged between the pool and its users.
#pragma once

#include <libpq-fe.h>

#include <charconv>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "duroxide/error.h"

namespace duroxide::pg {

// Bind parameters of one query, stored contiguously so that sending needs no per-value allocation.
// Text parameters are the default; binary parameters carry their own format flag.
class Params {
 public:
  Params& add(std::string_view text) { return push(text, 0); }
  Params& add(const char* text) { return push(text, 0); }
  Params& add(const std::string& text) { return push(text, 0); }
  Params& add_binary(std::string_view bytes) { return push(bytes, 1); }
  Params& add_int(int64_t v) {
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    (void)ec;
    return push(std::string_view(buf, static_cast<size_t>(end - buf)), 0);
  }
  Params& add_bool(bool v) { return push(v ? "t" : "f", 0); }
  Params& add_null() {
    offsets_.push_back(kNull);
    lengths_.push_back(0);
    formats_.push_back(0);
    return *this;
  }

  int size() const { return static_cast<int>(offsets_.size()); }

  // Fills the pointer array libpq wants; valid until this object changes.
  const char* const* values(std::vector<const char*>& scratch) const {
    scratch.resize(offsets_.size());
    for (size_t i = 0; i < offsets_.size(); ++i)
      scratch[i] = offsets_[i] == kNull ? nullptr : data_.data() + offsets_[i];
    return scratch.data();
  }
  const int* lengths() const { return lengths_.data(); }
  const int* formats() const { return formats_.data(); }

 private:
  static constexpr size_t kNull = ~size_t{0};
  Params& push(std::string_view v, int format) {
    offsets_.push_back(data_.size());
    data_.append(v);
    data_.push_back('\0');  // text parameters must be NUL-terminated for libpq
    lengths_.push_back(static_cast<int>(v.size()));
    formats_.push_back(format);
    return *this;
  }
  std::string data_;
  std::vector<size_t> offsets_;
  std::vector<int> lengths_;
  std::vector<int> formats_;
};

// Identifies a named statement registered with a Pool; the pool prepares it lazily on each
// connection the first time it is used there.
struct StatementId {
  uint32_t index = UINT32_MAX;
  bool valid() const { return index != UINT32_MAX; }
};

// Owns one PGresult. Values are exposed as views into libpq's buffer: no copy is made, and the
// views live as long as this object.
class QueryResult {
 public:
  QueryResult() = default;
  explicit QueryResult(PGresult* r) : res_(r) {}

  int rows() const { return res_ ? PQntuples(res_.get()) : 0; }
  int columns() const { return res_ ? PQnfields(res_.get()) : 0; }
  bool is_null(int row, int col) const { return PQgetisnull(res_.get(), row, col) != 0; }
  std::string_view get(int row, int col) const {
    return {PQgetvalue(res_.get(), row, col),
            static_cast<size_t>(PQgetlength(res_.get(), row, col))};
  }
  // Parses a column as a signed 64-bit integer (text format); 0 for NULL or garbage.
  int64_t get_int64(int row, int col) const {
    std::string_view s = get(row, col);
    int64_t v = 0;
    std::from_chars(s.data(), s.data() + s.size(), v);
    return v;
  }
  // Rows affected by INSERT/UPDATE/DELETE; 0 for other commands.
  uint64_t affected() const {
    const char* s = res_ ? PQcmdTuples(res_.get()) : "";
    uint64_t v = 0;
    std::from_chars(s, s + std::char_traits<char>::length(s), v);
    return v;
  }
  PGresult* raw() const { return res_.get(); }

 private:
  struct Clear {
    void operator()(PGresult* r) const { PQclear(r); }
  };
  std::unique_ptr<PGresult, Clear> res_;
};

using QueryCallback = std::move_only_function<void(Result<QueryResult>)>;

// One query as the pool carries it from submission to completion.
struct QueryRequest {
  StatementId statement;  // valid: run the named statement; invalid: run `sql` unnamed
  std::string sql;
  Params params;
  bool binary_result = false;
  QueryCallback callback;
};

}  // namespace duroxide::pg
