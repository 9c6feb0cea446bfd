// Parsing identity replies into AccessToken: plain code over simdjson, no I/O.
//
// One parser covers every source because they differ only in field names and encodings:
//   token       access_token (IMDS, App Service, Arc, v2 endpoint), accessToken (az), token (azd)
//   expiry      expires_on: epoch seconds as a number or a numeric string (IMDS, App Service, az)
//               expires_in: seconds from now, number or numeric string (v2 endpoint, IMDS)
//               expiresOn:  RFC 3339 time (azd; also az, whose older local-time form is refused)
//   refresh_in  seconds from now, when the issuer wants to be asked again early
// Errors never quote the reply (it may hold the token); they name the missing or bad field.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "duroxide/pg/entra.h"

namespace duroxide::pg::auth {

Result<AccessToken> parse_token_reply(std::string_view body, std::int64_t now_ms);

// A short, single-line description of an error reply for messages: the JSON error fields
// ("error", "error_description", "message", "error.code"/"error.message") when present, else the
// body's first line. Truncated; never contains an access token because error replies hold none.
std::string describe_error_reply(std::string_view body);

// "2024-05-01T12:00:00Z", "2024-05-01T12:00:00.123+02:00" -> epoch ms; nullopt when malformed.
std::optional<std::int64_t> parse_rfc3339_ms(std::string_view text);

// The first non-empty line of `text`, trimmed and cut to `max` bytes (for quoting tool output).
std::string first_line(std::string_view text, std::size_t max = 200);

}  // namespace duroxide::pg::auth
