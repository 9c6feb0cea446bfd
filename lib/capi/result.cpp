#include "capi/result.h"

#include <cstdlib>
#include <cstring>

#include "capi/json_in.h"
#include "wire/json_writer.h"

namespace duroxide::capi {

std::string escape_message(std::string_view m) {
  std::string out;
  out.reserve(m.size());
  size_t i = 0;
  while (i < m.size()) {
    unsigned char c = static_cast<unsigned char>(m[i]);
    if (c == 0) {
      out += "\\u0000";
      ++i;
      continue;
    }
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    if (i + n <= m.size() && n > 1 && valid_utf8(m.substr(i, n))) {
      out.append(m.substr(i, n));
      i += n;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  if (out.empty()) out = "unknown error";
  return out;
}

std::string_view clean_sqlstate(std::string_view s) {
  if (s.size() != 5) return "";
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z'))) return "";
  return s;
}

char* dup_string(std::string_view s) {
  char* p = static_cast<char*>(std::malloc(s.size() + 1));
  if (p == nullptr) return nullptr;
  std::memcpy(p, s.data(), s.size());
  p[s.size()] = '\0';
  return p;
}

void out_string(std::string& out, std::string_view s) { wire_detail::append_json_string(out, s); }

namespace {
duroxide_result ok_result(std::string_view json) {
  duroxide_result r;
  r.ok = 1;
  r.retryable = 0;
  r.operation = "";
  r.message = "";
  r.sqlstate = "";
  r.json = json.data();  // callers pass NUL-terminated storage
  r.json_len = json.size();
  return r;
}
}  // namespace

void invoke_ok(duroxide_callback cb, void* user_data, std::string_view json) {
  duroxide_result r = ok_result(json);
  cb(&r, user_data);
}

void invoke_error(duroxide_callback cb, void* user_data, const char* operation, ProviderError e) {
  std::string message = escape_message(e.message);
  std::string sqlstate(clean_sqlstate(e.sqlstate));
  duroxide_result r;
  r.ok = 0;
  r.retryable = e.retryable ? 1 : 0;
  r.operation = operation;
  r.message = message.c_str();
  r.sqlstate = sqlstate.c_str();
  r.json = "";
  r.json_len = 0;
  cb(&r, user_data);
}

void invoke_open_ok(duroxide_open_callback cb, duroxide_provider* h, void* user_data, std::string_view json) {
  duroxide_result r = ok_result(json);
  cb(&r, h, user_data);
}

void invoke_open_error(duroxide_open_callback cb, void* user_data, const ProviderError& e) {
  std::string message = escape_message(e.message);
  std::string sqlstate(clean_sqlstate(e.sqlstate));
  duroxide_result r;
  r.ok = 0;
  r.retryable = e.retryable ? 1 : 0;
  r.operation = "open";
  r.message = message.c_str();
  r.sqlstate = sqlstate.c_str();
  r.json = "";
  r.json_len = 0;
  cb(&r, nullptr, user_data);
}

}  // namespace duroxide::capi
