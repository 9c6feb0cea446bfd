#include "duroxide/error.h"

namespace duroxide {

bool sqlstate_is_retryable(std::string_view s, bool token_auth) noexcept {
  if (s.size() != 5) return true;  // no usable SQLSTATE: treat as a transport failure
  const std::string_view cls = s.substr(0, 2);
  if (s == "40001" || s == "40P01" || s == "55P03" || s == "57014" || s == "0A000") return true;
  if (s == "57P01" || s == "57P02" || s == "57P03") return true;
  if (cls == "08" || cls == "53") return true;
  if (s == "28000" || s == "28P01") return token_auth;
  if (cls == "23" || cls == "22" || cls == "42" || cls == "QD") return false;
  if (s == "40002" || s == "P0001") return false;
  return true;  // conservative default of §9.1
}

}  // namespace duroxide
