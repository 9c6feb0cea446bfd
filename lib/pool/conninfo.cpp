#include "pool/conninfo.h"

#include <libpq-fe.h>

#include <memory>

namespace duroxide::pg {

Result<ConnInfo> ConnInfo::parse(std::string_view conninfo) {
  std::string text(conninfo);
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(text.c_str(), &err);
  if (!opts) {
    // libpq's message can quote fragments of the input; report only that parsing failed and a
    // scrubbed reason.
    std::string reason = err ? err : "out of memory";
    if (err) PQfreemem(err);
    while (!reason.empty() && (reason.back() == '\n' || reason.back() == ' ')) reason.pop_back();
    // Strip anything quoted: the quoted parts are pieces of the user's string.
    std::string safe;
    bool quoted = false;
    for (char c : reason) {
      if (c == '"') {
        quoted = !quoted;
        safe += quoted ? "\"..." : "\"";
        continue;
      }
      if (!quoted) safe += c;
    }
    return fail(permanent_error("connect", "invalid connection string: " + safe));
  }
  ConnInfo out;
  for (PQconninfoOption* o = opts; o->keyword; ++o) {
    if (o->val) out.kv_.emplace_back(o->keyword, o->val);
  }
  PQconninfoFree(opts);
  return out;
}

void ConnInfo::set(std::string_view key, std::string_view value) {
  for (auto& [k, v] : kv_) {
    if (k == key) {
      v = value;
      return;
    }
  }
  kv_.emplace_back(std::string(key), std::string(value));
}

void ConnInfo::add_setting(std::string_view name, std::string_view value) {
  std::string opt = "-c ";
  opt.append(name).append("=");
  for (char c : value) {  // backslash-escape spaces and backslashes, as the options syntax wants
    if (c == ' ' || c == '\\') opt.push_back('\\');
    opt.push_back(c);
  }
  const std::string* cur = get("options");
  set("options", cur && !cur->empty() ? *cur + " " + opt : opt);
}

const std::string* ConnInfo::get(std::string_view key) const {
  for (const auto& [k, v] : kv_)
    if (k == key) return &v;
  return nullptr;
}

ConnInfo::Arrays ConnInfo::arrays() const {
  Arrays a;
  a.keys.reserve(kv_.size() + 1);
  a.values.reserve(kv_.size() + 1);
  for (const auto& [k, v] : kv_) {
    a.keys.push_back(k.c_str());
    a.values.push_back(v.c_str());
  }
  a.keys.push_back(nullptr);
  a.values.push_back(nullptr);
  return a;
}

std::string ConnInfo::describe() const {
  auto val = [&](std::string_view k, std::string_view dflt) -> std::string {
    const std::string* v = get(k);
    return v && !v->empty() ? *v : std::string(dflt);
  };
  std::string out = val("host", val("hostaddr", "localhost"));
  out += ":" + val("port", "5432") + "/" + val("dbname", val("user", "?"));
  if (const std::string* u = get("user")) out += " as " + *u;
  return out;
}

std::string ConnInfo::scrub(std::string text, std::string_view extra_secret) const {
  auto blank = [&](std::string_view secret) {
    if (secret.size() < 3) return;  // too short to scrub without mangling ordinary words
    for (size_t pos = text.find(secret); pos != std::string::npos; pos = text.find(secret, pos)) {
      text.replace(pos, secret.size(), "***");
      pos += 3;
    }
  };
  if (const std::string* pw = get("password")) blank(*pw);
  blank(extra_secret);
  return text;
}

}  // namespace duroxide::pg
