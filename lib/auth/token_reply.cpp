#include "auth/token_reply.h"

#include <simdjson.h>

#include <charconv>

namespace duroxide::pg::auth {
namespace {

ProviderError reply_error(std::string what) { return retryable_error("entra_token", std::move(what)); }

// Seconds as a JSON number or a numeric string, within [0, 10^12] (year 33658 as an epoch; far
// beyond any lifetime as a duration) so that converting to milliseconds can never overflow.
std::optional<std::int64_t> seconds_of(simdjson::dom::element e) {
  constexpr std::int64_t kMax = 1'000'000'000'000;
  std::optional<std::int64_t> v;
  switch (e.type()) {
    case simdjson::dom::element_type::INT64: v = e.get_int64().value_unsafe(); break;
    case simdjson::dom::element_type::UINT64: {
      const std::uint64_t u = e.get_uint64().value_unsafe();
      if (u <= static_cast<std::uint64_t>(kMax)) v = static_cast<std::int64_t>(u);
      break;
    }
    case simdjson::dom::element_type::DOUBLE: {
      const double d = e.get_double().value_unsafe();
      if (d >= 0 && d <= static_cast<double>(kMax)) v = static_cast<std::int64_t>(d);
      break;
    }
    case simdjson::dom::element_type::STRING: {
      std::string_view s = e.get_string().value_unsafe();
      std::int64_t parsed = 0;
      auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), parsed);
      if (ec == std::errc() && p == s.data() + s.size() && !s.empty()) v = parsed;
      break;
    }
    default: break;
  }
  if (!v || *v < 0 || *v > kMax) return std::nullopt;
  return v;
}

std::optional<simdjson::dom::element> field(simdjson::dom::object o, std::string_view key) {
  simdjson::dom::element e;
  if (o.at_key(key).get(e) != simdjson::SUCCESS || e.is_null()) return std::nullopt;
  return e;
}

std::optional<std::string_view> string_field(simdjson::dom::object o, std::string_view key) {
  auto e = field(o, key);
  if (!e || !e->is_string()) return std::nullopt;
  return e->get_string().value_unsafe();
}

// Days from 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

}  // namespace

std::optional<std::int64_t> parse_rfc3339_ms(std::string_view t) {
  auto num = [&](std::size_t pos, std::size_t len) -> std::optional<int> {
    if (pos + len > t.size()) return std::nullopt;
    int v = 0;
    for (std::size_t i = pos; i < pos + len; ++i) {
      if (t[i] < '0' || t[i] > '9') return std::nullopt;
      v = v * 10 + (t[i] - '0');
    }
    return v;
  };
  auto Y = num(0, 4), M = num(5, 2), D = num(8, 2), h = num(11, 2), m = num(14, 2), s = num(17, 2);
  if (!Y || !M || !D || !h || !m || !s || t[4] != '-' || t[7] != '-' || (t[10] != 'T' && t[10] != 't' && t[10] != ' ') ||
      t[13] != ':' || t[16] != ':')
    return std::nullopt;
  if (*M < 1 || *M > 12 || *D < 1 || *D > 31 || *h > 23 || *m > 59 || *s > 60) return std::nullopt;
  std::size_t pos = 19;
  std::int64_t frac_ms = 0;
  if (pos < t.size() && t[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < t.size() && t[pos] >= '0' && t[pos] <= '9') {
      if (digits < 3) frac_ms = frac_ms * 10 + (t[pos] - '0');
      ++digits, ++pos;
    }
    if (digits == 0) return std::nullopt;
    for (int i = digits; i < 3; ++i) frac_ms *= 10;
  }
  std::int64_t offset_s = 0;
  if (pos < t.size() && (t[pos] == 'Z' || t[pos] == 'z')) {
    ++pos;
  } else if (pos < t.size() && (t[pos] == '+' || t[pos] == '-')) {
    auto oh = num(pos + 1, 2), om = num(pos + 4, 2);
    if (!oh || !om || t[pos + 3] != ':') return std::nullopt;
    offset_s = (*oh * 3600 + *om * 60) * (t[pos] == '+' ? 1 : -1);
    pos += 6;
  } else {
    return std::nullopt;  // no zone: a local time (older az output) is ambiguous
  }
  if (pos != t.size()) return std::nullopt;
  const std::int64_t secs = days_from_civil(*Y, static_cast<unsigned>(*M), static_cast<unsigned>(*D)) * 86400 +
                            *h * 3600 + *m * 60 + *s - offset_s;
  return secs * 1000 + frac_ms;
}

Result<AccessToken> parse_token_reply(std::string_view body, std::int64_t now_ms) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(simdjson::padded_string(body)).get(doc) != simdjson::SUCCESS)
    return fail(reply_error("the token reply is not valid JSON"));
  simdjson::dom::object o;
  if (doc.get(o) != simdjson::SUCCESS) return fail(reply_error("the token reply is not a JSON object"));
  std::optional<std::string_view> token = string_field(o, "access_token");
  if (!token) token = string_field(o, "accessToken");
  if (!token) token = string_field(o, "token");
  if (!token || token->empty()) return fail(reply_error("the token reply has no access_token"));

  std::optional<std::int64_t> expires_ms;
  if (auto e = field(o, "expires_on")) {
    auto s = seconds_of(*e);
    if (!s) return fail(reply_error("the token reply's expires_on is not epoch seconds"));
    expires_ms = *s * 1000;
  } else if (auto e2 = field(o, "expires_in")) {
    auto s = seconds_of(*e2);
    if (!s) return fail(reply_error("the token reply's expires_in is not a number of seconds"));
    expires_ms = now_ms + *s * 1000;
  } else if (auto e3 = string_field(o, "expiresOn")) {
    expires_ms = parse_rfc3339_ms(*e3);
    if (!expires_ms) return fail(reply_error("the token reply's expiresOn is not an RFC 3339 time with a zone"));
  }
  if (!expires_ms) return fail(reply_error("the token reply has no expiry (expires_on, expires_in or expiresOn)"));

  AccessToken out{std::string(*token), *expires_ms, std::nullopt};
  if (auto r = field(o, "refresh_in")) {
    if (auto s = seconds_of(*r); s && *s > 0) out.refresh_at_ms = now_ms + *s * 1000;
  }
  return out;
}

std::string first_line(std::string_view text, std::size_t max) {
  while (!text.empty()) {
    std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t' || line.front() == '\r')) line.remove_prefix(1);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) line.remove_suffix(1);
    if (!line.empty()) {
      std::string out(line.substr(0, max));
      for (char& c : out)
        if (static_cast<unsigned char>(c) < 0x20) c = ' ';
      if (line.size() > max) out += "...";
      return out;
    }
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return {};
}

std::string describe_error_reply(std::string_view body) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::dom::object o;
  if (parser.parse(simdjson::padded_string(body)).get(doc) == simdjson::SUCCESS && doc.get(o) == simdjson::SUCCESS) {
    std::string out;
    auto add = [&](std::string_view s) {
      if (s.empty()) return;
      if (!out.empty()) out += ": ";
      out += s;
    };
    if (auto e = field(o, "error")) {
      simdjson::dom::object inner;
      if (e->is_string()) add(e->get_string().value_unsafe());
      else if (e->get(inner) == simdjson::SUCCESS) {
        if (auto c = string_field(inner, "code")) add(*c);
        if (auto m = string_field(inner, "message")) add(*m);
      }
    }
    if (auto d = string_field(o, "error_description")) add(*d);
    else if (auto m = string_field(o, "message")) add(*m);
    if (!out.empty()) return first_line(out, 300);
  }
  std::string line = first_line(body, 200);
  return line.empty() ? "(empty body)" : line;
}

}  // namespace duroxide::pg::auth
