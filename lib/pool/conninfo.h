// Connection parameters: parsed once from a URL or a keyword/value string, then turned into the
// keyword/value arrays of PQconnectStartParams for each new connection. Keeps the password out of
// everything that can be printed.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "duroxide/error.h"

namespace duroxide::pg {

class ConnInfo {
 public:
  // Accepts "postgresql://user:pw@host:port/db?opt=v" or "host=... port=... dbname=...".
  // The error message never repeats the input (it may hold a password).
  static Result<ConnInfo> parse(std::string_view conninfo);

  // Sets or replaces one keyword (e.g. "password", "application_name").
  void set(std::string_view key, std::string_view value);
  // Appends "-c name=value" to the startup `options`, so session settings cost no round trip.
  void add_setting(std::string_view name, std::string_view value);
  const std::string* get(std::string_view key) const;

  // NULL-terminated arrays for PQconnectStartParams, valid while this object is unchanged.
  struct Arrays {
    std::vector<const char*> keys;
    std::vector<const char*> values;
  };
  Arrays arrays() const;

  // "host:port/dbname as user" — safe for logs and error messages.
  std::string describe() const;

  // Replaces every occurrence of the configured password (and `extra_secret`, e.g. a token) in
  // `text` with "***"; a last line of defence for messages that came from elsewhere.
  std::string scrub(std::string text, std::string_view extra_secret = {}) const;

 private:
  std::vector<std::pair<std::string, std::string>> kv_;
};

}  // namespace duroxide::pg
