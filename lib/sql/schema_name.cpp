#include "sql/schema_name.h"

#include <openssl/sha.h>

#include <cstdio>
#include <cstring>

namespace duroxide::pg {
namespace {

std::string printable(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out + "\"";
}

ProviderError invalid(std::string_view name, std::string_view reason) {
  return ProviderError{"schema", "Invalid argument: schema: " + std::string(reason) + ": " + printable(name),
                       false, "QD008"};
}

bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }

}  // namespace

Result<void> validate_schema_name(std::string_view name) {
  if (name.empty()) return fail(invalid(name, "must not be empty"));
  if (name.size() > 48) return fail(invalid(name, "longer than 48 bytes"));
  if (!is_letter(name[0])) return fail(invalid(name, "must start with a letter or underscore"));
  for (char c : name)
    if (!is_letter(c) && !(c >= '0' && c <= '9'))
      return fail(invalid(name, "only ASCII letters, digits and underscores are allowed"));
  if (name.size() >= 3 && (name[0] | 0x20) == 'p' && (name[1] | 0x20) == 'g' && name[2] == '_')
    return fail(invalid(name, "the pg_ prefix is reserved by PostgreSQL"));
  return {};
}

std::string quote_identifier(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  return out + "\"";
}

int64_t advisory_key(std::string_view purpose, std::string_view schema) {
  std::string material = "duroxide-pg:";
  material.append(purpose).append(":").append(schema);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(material.data()), material.size(), digest);
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | digest[i];
  int64_t out;
  std::memcpy(&out, &v, sizeof out);
  return out;
}

}  // namespace duroxide::pg
