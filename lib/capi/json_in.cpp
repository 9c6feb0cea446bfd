#include "capi/json_in.h"

#include <cstring>

#include "duroxide/wire.h"

namespace duroxide::capi {

ProviderError invalid(std::string_view op, std::string_view path, std::string_view reason) {
  std::string m = "Invalid argument: ";
  m.append(path).append(": ").append(reason);
  return ProviderError{std::string(op), std::move(m), false, "QD008"};
}

std::string dot(std::string_view path, std::string_view key) {
  std::string s(path);
  s.append(".").append(key);
  return s;
}

std::string idx(std::string_view path, size_t i) {
  std::string s(path);
  s.append("[").append(std::to_string(i)).append("]");
  return s;
}

bool valid_utf8(std::string_view s) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    size_t n;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) { n = 1; cp = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { n = 2; cp = c & 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { n = 3; cp = c & 0x07; }
    else return false;
    if (static_cast<size_t>(end - p) <= n) return false;
    for (size_t i = 1; i <= n; ++i) {
      if ((p[i] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (n == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return false;
    if (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) return false;
    p += n + 1;
  }
  return true;
}

namespace {

constexpr int kMaxDepth = 512;

struct Parser {
  std::string_view text;
  size_t pos = 0;
  std::string error;

  bool fail(std::string_view why) {
    if (error.empty()) error = "invalid JSON at byte " + std::to_string(pos) + ": " + std::string(why);
    return false;
  }
  void ws() {
    while (pos < text.size()) {
      char c = text[pos];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') ++pos;
      else break;
    }
  }
  bool literal(std::string_view lit) {
    if (text.substr(pos, lit.size()) != lit) return fail("unexpected token");
    pos += lit.size();
    return true;
  }
  static void put_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) out.push_back(static_cast<char>(cp));
    else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }
  bool hex4(uint32_t& v) {
    if (pos + 4 > text.size()) return fail("truncated \\u escape");
    v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = text[pos++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= static_cast<uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f') v |= static_cast<uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= static_cast<uint32_t>(c - 'A' + 10);
      else return fail("invalid \\u escape");
    }
    return true;
  }
  bool string(std::string& out) {
    ++pos;  // opening quote
    size_t run = pos;
    for (;;) {
      if (pos >= text.size()) return fail("unterminated string");
      unsigned char c = static_cast<unsigned char>(text[pos]);
      if (c == '"') {
        std::string_view chunk = text.substr(run, pos - run);
        if (!valid_utf8(chunk)) return fail("invalid UTF-8 in a string");
        out.append(chunk);
        ++pos;
        return true;
      }
      if (c < 0x20) return fail("raw control character in a string");
      if (c != '\\') {
        ++pos;
        continue;
      }
      std::string_view chunk = text.substr(run, pos - run);
      if (!valid_utf8(chunk)) return fail("invalid UTF-8 in a string");
      out.append(chunk);
      ++pos;
      if (pos >= text.size()) return fail("unterminated string");
      char e = text[pos++];
      switch (e) {
        case '"': out.push_back('"'); break;
        case '\\': out.push_back('\\'); break;
        case '/': out.push_back('/'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'u': {
          uint32_t cp = 0;
          if (!hex4(cp)) return false;
          if (cp >= 0xDC00 && cp <= 0xDFFF) return fail("lone surrogate escape");
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            uint32_t lo = 0;
            if (pos + 2 > text.size() || text[pos] != '\\' || text[pos + 1] != 'u')
              return fail("lone surrogate escape");
            pos += 2;
            if (!hex4(lo)) return false;
            if (lo < 0xDC00 || lo > 0xDFFF) return fail("lone surrogate escape");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          put_utf8(out, cp);
          break;
        }
        default:
          return fail("invalid escape");
      }
      run = pos;
    }
  }
  bool number(JVal& v) {
    size_t start = pos;
    bool neg = false, frac = false;
    if (text[pos] == '-') {
      neg = true;
      ++pos;
    }
    if (pos >= text.size() || text[pos] < '0' || text[pos] > '9') return fail("invalid number");
    if (text[pos] == '0') {
      ++pos;
      if (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') return fail("leading zero in a number");
    } else {
      while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
    }
    size_t int_end = pos;
    if (pos < text.size() && text[pos] == '.') {
      frac = true;
      ++pos;
      if (pos >= text.size() || text[pos] < '0' || text[pos] > '9') return fail("invalid number");
      while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
    }
    if (pos < text.size() && (text[pos] == 'e' || text[pos] == 'E')) {
      frac = true;
      ++pos;
      if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) ++pos;
      if (pos >= text.size() || text[pos] < '0' || text[pos] > '9') return fail("invalid number");
      while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
    }
    v.kind = JVal::Kind::kNumber;
    if (!neg && !frac) {
      uint64_t x = 0;
      bool overflow = false;
      for (size_t i = start; i < int_end; ++i) {
        uint64_t d = static_cast<uint64_t>(text[i] - '0');
        if (x > (UINT64_MAX - d) / 10) {
          overflow = true;
          break;
        }
        x = x * 10 + d;
      }
      v.is_uint = !overflow;
      v.uint = x;
    }
    return true;
  }
  bool value(JVal& v, int depth) {
    if (depth > kMaxDepth) return fail("nesting too deep");
    ws();
    if (pos >= text.size()) return fail("unexpected end of input");
    size_t start = pos;
    char c = text[pos];
    bool ok;
    switch (c) {
      case 'n': v.kind = JVal::Kind::kNull; ok = literal("null"); break;
      case 't': v.kind = JVal::Kind::kBool; v.boolean = true; ok = literal("true"); break;
      case 'f': v.kind = JVal::Kind::kBool; ok = literal("false"); break;
      case '"': v.kind = JVal::Kind::kString; ok = string(v.str); break;
      case '[': {
        v.kind = JVal::Kind::kArray;
        ++pos;
        ws();
        if (pos < text.size() && text[pos] == ']') {
          ++pos;
          ok = true;
          break;
        }
        ok = true;
        for (;;) {
          v.items.emplace_back();
          if (!value(v.items.back(), depth + 1)) return false;
          ws();
          if (pos >= text.size()) return fail("unterminated array");
          if (text[pos] == ',') { ++pos; continue; }
          if (text[pos] == ']') { ++pos; break; }
          return fail("expected ',' or ']'");
        }
        break;
      }
      case '{': {
        v.kind = JVal::Kind::kObject;
        ++pos;
        ws();
        if (pos < text.size() && text[pos] == '}') {
          ++pos;
          ok = true;
          break;
        }
        ok = true;
        for (;;) {
          ws();
          if (pos >= text.size() || text[pos] != '"') return fail("expected a string key");
          std::string key;
          if (!string(key)) return false;
          for (const auto& m : v.members)
            if (m.first == key) return fail("duplicate key");
          ws();
          if (pos >= text.size() || text[pos] != ':') return fail("expected ':'");
          ++pos;
          v.members.emplace_back(std::move(key), JVal{});
          if (!value(v.members.back().second, depth + 1)) return false;
          ws();
          if (pos >= text.size()) return fail("unterminated object");
          if (text[pos] == ',') { ++pos; continue; }
          if (text[pos] == '}') { ++pos; break; }
          return fail("expected ',' or '}'");
        }
        break;
      }
      default:
        if (c == '-' || (c >= '0' && c <= '9')) ok = number(v);
        else ok = fail("unexpected character");
    }
    if (!ok) return false;
    v.raw = text.substr(start, pos - start);
    return true;
  }
};

}  // namespace

Result<JVal> parse_json(std::string_view text, std::string_view op, std::string_view path) {
  Parser p{text};
  JVal v;
  if (text.size() >= 3 && static_cast<unsigned char>(text[0]) == 0xEF &&
      static_cast<unsigned char>(text[1]) == 0xBB && static_cast<unsigned char>(text[2]) == 0xBF)
    return fail(invalid(op, path, "invalid JSON: a byte order mark is not allowed"));
  if (!p.value(v, 0)) return fail(invalid(op, path, p.error));
  p.ws();
  if (p.pos != text.size()) {
    p.fail("trailing characters after the value");
    return fail(invalid(op, path, p.error));
  }
  return v;
}

// ---- Reader ------------------------------------------------------------------------------------

bool Reader::fail(std::string_view path, std::string_view reason) {
  if (!error_) error_ = invalid(op_, path, reason);
  return false;
}

bool Reader::fail(ProviderError e) {
  if (!error_) error_ = std::move(e);
  return false;
}

std::string Reader::str(std::string_view param, const char* s) {
  if (failed()) return {};
  if (s == nullptr) {
    fail(param, "must not be NULL");
    return {};
  }
  std::string_view v(s);
  if (!valid_utf8(v)) {
    fail(param, "invalid UTF-8");
    return {};
  }
  return std::string(v);
}

std::optional<Millis> Reader::opt_duration(std::string_view param, int64_t ms) {
  if (ms == -1) return std::nullopt;
  if (ms < -1) {
    fail(param, "expected -1 (absent) or a non-negative duration");
    return std::nullopt;
  }
  return Millis(ms);
}

std::optional<JVal> Reader::json(std::string_view param, const char* text, bool required) {
  if (failed()) return std::nullopt;
  if (text == nullptr) {
    if (required) fail(param, "must not be NULL");
    return std::nullopt;
  }
  Result<JVal> v = parse_json(text, op_, param);
  if (!v) {
    fail(v.error());
    return std::nullopt;
  }
  if (v->kind == JVal::Kind::kNull) {
    if (required) fail(param, "must not be null");
    return std::nullopt;
  }
  return std::move(*v);
}

bool Reader::check_keys(const JVal& obj, std::string_view path,
                        std::initializer_list<std::string_view> keys) {
  for (const auto& m : obj.members) {
    bool known = false;
    for (auto k : keys) known = known || m.first == k;
    if (!known) {
      if (!valid_utf8(m.first) || m.first.find('\0') != std::string::npos)
        return fail(path, "unknown key");
      return fail(path, "unknown key \"" + m.first + "\"");
    }
  }
  return true;
}

bool Reader::expect(const JVal& v, JVal::Kind kind, std::string_view path, std::string_view what) {
  if (v.kind == kind) return true;
  return fail(path, "expected " + std::string(what));
}

const JVal* Reader::member(const JVal& obj, std::string_view key) const {
  const JVal* m = obj.find(key);
  if (m == nullptr || m->kind == JVal::Kind::kNull) return nullptr;
  return m;
}

std::optional<uint64_t> Reader::uint(const JVal& v, std::string_view path, uint64_t min, uint64_t max) {
  if (v.kind != JVal::Kind::kNumber || !v.is_uint) {
    if (v.kind == JVal::Kind::kNumber && v.raw.find_first_of("-.eE") == std::string_view::npos)
      fail(path, "integer out of range");
    else
      fail(path, "expected an unsigned integer");
    return std::nullopt;
  }
  if (v.uint < min || v.uint > max) {
    fail(path, "integer out of range (" + std::to_string(min) + "-" + std::to_string(max) + ")");
    return std::nullopt;
  }
  return v.uint;
}

std::optional<std::string> Reader::string(const JVal& v, std::string_view path, bool identifier) {
  if (v.kind != JVal::Kind::kString) {
    fail(path, "expected a string");
    return std::nullopt;
  }
  if (identifier && v.str.find('\0') != std::string::npos) {
    fail(path, "identifier contains U+0000");
    return std::nullopt;
  }
  return v.str;
}

namespace {
thread_local WireDecoder t_decoder;

std::string wire_reason(const ProviderError& e) { return e.message; }
}  // namespace

std::vector<Event> Reader::events(std::string_view param, const char* text) {
  std::vector<Event> out;
  auto v = json(param, text, false);
  if (!v) return out;
  if (!expect(*v, JVal::Kind::kArray, param, "an array of events")) return out;
  out.reserve(v->items.size());
  for (size_t i = 0; i < v->items.size(); ++i) {
    Result<Event> e = t_decoder.decode_event(v->items[i].raw);
    if (!e) {
      fail(idx(param, i), wire_reason(e.error()));
      return {};
    }
    out.push_back(std::move(*e));
  }
  return out;
}

std::vector<WorkItem> Reader::work_items(std::string_view param, const char* text) {
  std::vector<WorkItem> out;
  auto v = json(param, text, false);
  if (!v) return out;
  if (!expect(*v, JVal::Kind::kArray, param, "an array of work items")) return out;
  out.reserve(v->items.size());
  for (size_t i = 0; i < v->items.size(); ++i) {
    Result<WorkItem> w = t_decoder.decode_work_item(v->items[i].raw);
    if (!w) {
      fail(idx(param, i), wire_reason(w.error()));
      return {};
    }
    out.push_back(std::move(*w));
  }
  return out;
}

std::optional<WorkItem> Reader::work_item(std::string_view param, const char* text, bool required) {
  auto v = json(param, text, required);
  if (!v) return std::nullopt;
  Result<WorkItem> w = t_decoder.decode_work_item(v->raw);
  if (!w) {
    fail(param, wire_reason(w.error()));
    return std::nullopt;
  }
  return std::move(*w);
}

namespace {

// SemVer 2.0.0 (c-api.md §5.7): numeric parts exact u64 without leading zeros; pre-release and
// build parts are accepted (dot-separated [0-9A-Za-z-] identifiers) and discarded.
bool parse_num(std::string_view s, uint64_t& out) {
  if (s.empty() || (s.size() > 1 && s[0] == '0')) return false;
  uint64_t x = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (x > (UINT64_MAX - d) / 10) return false;
    x = x * 10 + d;
  }
  out = x;
  return true;
}

bool idents_ok(std::string_view s) {
  if (s.empty()) return false;
  size_t start = 0;
  for (;;) {
    size_t dotp = s.find('.', start);
    std::string_view part = s.substr(start, dotp == std::string_view::npos ? std::string_view::npos : dotp - start);
    if (part.empty()) return false;
    for (char c : part)
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-')) return false;
    if (dotp == std::string_view::npos) return true;
    start = dotp + 1;
  }
}

std::optional<SemVer> parse_semver(std::string_view s) {
  size_t plus = s.find('+');
  if (plus != std::string_view::npos) {
    if (!idents_ok(s.substr(plus + 1))) return std::nullopt;
    s = s.substr(0, plus);
  }
  size_t dash = s.find('-');
  if (dash != std::string_view::npos) {
    if (!idents_ok(s.substr(dash + 1))) return std::nullopt;
    s = s.substr(0, dash);
  }
  size_t d1 = s.find('.');
  if (d1 == std::string_view::npos) return std::nullopt;
  size_t d2 = s.find('.', d1 + 1);
  if (d2 == std::string_view::npos) return std::nullopt;
  SemVer v;
  if (!parse_num(s.substr(0, d1), v.major) || !parse_num(s.substr(d1 + 1, d2 - d1 - 1), v.minor) ||
      !parse_num(s.substr(d2 + 1), v.patch))
    return std::nullopt;
  return v;
}

}  // namespace

ExecutionMetadata Reader::metadata(std::string_view param, const char* text) {
  ExecutionMetadata md;
  auto v = json(param, text, false);
  if (!v) return md;
  if (!expect(*v, JVal::Kind::kObject, param, "an object")) return md;
  if (!check_keys(*v, param, {"status", "output", "orchestration_name", "orchestration_version",
                              "parent_instance_id", "pinned_duroxide_version"}))
    return md;
  auto opt = [&](std::string_view key, std::optional<std::string>& out) {
    if (const JVal* m = member(*v, key)) out = string(*m, dot(param, key), false);
  };
  opt("status", md.status);
  opt("output", md.output);
  opt("orchestration_name", md.orchestration_name);
  opt("orchestration_version", md.orchestration_version);
  opt("parent_instance_id", md.parent_instance_id);
  if (const JVal* m = member(*v, "pinned_duroxide_version")) {
    std::string path = dot(param, "pinned_duroxide_version");
    if (auto s = string(*m, path, false)) {
      auto sv = parse_semver(*s);
      if (!sv) fail(path, "expected a semantic version");
      else if (sv->major > INT64_MAX || sv->minor > INT64_MAX || sv->patch > INT64_MAX)
        fail(path, "version component out of range");
      else md.pinned_duroxide_version = *sv;
    }
  }
  return md;
}

std::vector<ScheduledActivityIdentifier> Reader::activity_ids(std::string_view param, const char* text) {
  std::vector<ScheduledActivityIdentifier> out;
  auto v = json(param, text, false);
  if (!v) return out;
  if (!expect(*v, JVal::Kind::kArray, param, "an array")) return out;
  for (size_t i = 0; i < v->items.size() && !failed(); ++i) {
    const JVal& e = v->items[i];
    std::string path = idx(param, i);
    if (!expect(e, JVal::Kind::kObject, path, "an object")) break;
    if (!check_keys(e, path, {"instance", "execution_id", "activity_id"})) break;
    const JVal* inst = member(e, "instance");
    const JVal* ex = member(e, "execution_id");
    const JVal* act = member(e, "activity_id");
    if (!inst) { fail(dot(path, "instance"), "missing required member"); break; }
    if (!ex) { fail(dot(path, "execution_id"), "missing required member"); break; }
    if (!act) { fail(dot(path, "activity_id"), "missing required member"); break; }
    ScheduledActivityIdentifier id;
    if (auto s = string(*inst, dot(path, "instance"), true)) id.instance = std::move(*s);
    if (auto n = uint(*ex, dot(path, "execution_id"), 0, UINT64_MAX)) id.execution_id = *n;
    if (auto n = uint(*act, dot(path, "activity_id"), 0, UINT64_MAX)) id.activity_id = *n;
    out.push_back(std::move(id));
  }
  return out;
}

std::optional<DispatcherCapabilityFilter> Reader::capability_filter(std::string_view param, const char* text) {
  auto v = json(param, text, false);
  if (!v) return std::nullopt;
  if (!expect(*v, JVal::Kind::kObject, param, "an object")) return std::nullopt;
  if (!check_keys(*v, param, {"supported_duroxide_versions"})) return std::nullopt;
  std::string path = dot(param, "supported_duroxide_versions");
  const JVal* arr = member(*v, "supported_duroxide_versions");
  if (!arr) {
    fail(path, "missing required member");
    return std::nullopt;
  }
  if (!expect(*arr, JVal::Kind::kArray, path, "an array")) return std::nullopt;
  DispatcherCapabilityFilter f;
  for (size_t i = 0; i < arr->items.size(); ++i) {
    const JVal& r = arr->items[i];
    std::string rp = idx(path, i);
    if (!expect(r, JVal::Kind::kObject, rp, "an object")) return std::nullopt;
    if (!check_keys(r, rp, {"min", "max"})) return std::nullopt;
    SemverRange range;
    for (auto [key, out] : {std::pair<const char*, SemVer*>{"min", &range.min}, {"max", &range.max}}) {
      std::string kp = dot(rp, key);
      const JVal* m = member(r, key);
      if (!m) {
        fail(kp, "missing required member");
        return std::nullopt;
      }
      auto s = string(*m, kp, false);
      if (!s) return std::nullopt;
      auto sv = parse_semver(*s);
      if (!sv) {
        fail(kp, "expected a semantic version");
        return std::nullopt;
      }
      *out = *sv;
    }
    f.supported_duroxide_versions.push_back(range);
  }
  return f;
}

std::optional<SessionFetchConfig> Reader::session(std::string_view param, const char* text) {
  auto v = json(param, text, false);
  if (!v) return std::nullopt;
  if (!expect(*v, JVal::Kind::kObject, param, "an object")) return std::nullopt;
  if (!check_keys(*v, param, {"owner_id", "lock_timeout_ms"})) return std::nullopt;
  const JVal* owner = member(*v, "owner_id");
  const JVal* lock = member(*v, "lock_timeout_ms");
  if (!owner) {
    fail(dot(param, "owner_id"), "missing required member");
    return std::nullopt;
  }
  if (!lock) {
    fail(dot(param, "lock_timeout_ms"), "missing required member");
    return std::nullopt;
  }
  SessionFetchConfig c;
  auto o = string(*owner, dot(param, "owner_id"), true);
  auto l = uint(*lock, dot(param, "lock_timeout_ms"), 0, UINT64_MAX);
  if (!o || !l) return std::nullopt;
  c.owner_id = std::move(*o);
  c.lock_timeout = Millis(*l > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(*l));
  return c;
}

TagFilter Reader::tag_filter(std::string_view param, const char* text) {
  auto v = json(param, text, false);
  if (!v) return TagFilter::DefaultOnly{};
  if (!expect(*v, JVal::Kind::kObject, param, "an object")) return TagFilter::DefaultOnly{};
  if (!check_keys(*v, param, {"mode", "tags"})) return TagFilter::DefaultOnly{};
  const JVal* mode = member(*v, "mode");
  const JVal* tags = member(*v, "tags");
  if (!mode) {
    fail(dot(param, "mode"), "missing required member");
    return TagFilter::DefaultOnly{};
  }
  auto m = string(*mode, dot(param, "mode"), false);
  if (!m) return TagFilter::DefaultOnly{};
  const bool takes_tags = *m == "tags" || *m == "default_and";
  if (*m != "tags" && *m != "default_and" && *m != "default_only" && *m != "any" && *m != "none") {
    fail(dot(param, "mode"), "unknown mode");
    return TagFilter::DefaultOnly{};
  }
  std::set<std::string> set;
  std::string tp = dot(param, "tags");
  if (takes_tags) {
    if (!tags) {
      fail(tp, "missing required member");
      return TagFilter::DefaultOnly{};
    }
    if (!expect(*tags, JVal::Kind::kArray, tp, "an array of strings")) return TagFilter::DefaultOnly{};
    for (size_t i = 0; i < tags->items.size(); ++i) {
      auto t = string(tags->items[i], idx(tp, i), true);
      if (!t) return TagFilter::DefaultOnly{};
      set.insert(std::move(*t));
    }
  } else if (tags) {
    fail(tp, "not allowed for this mode");
    return TagFilter::DefaultOnly{};
  }
  if (*m == "tags") return TagFilter::Tags{std::move(set)};
  if (*m == "default_and") return TagFilter::DefaultAnd{std::move(set)};
  if (*m == "any") return TagFilter::Any{};
  if (*m == "none") return TagFilter::None{};
  return TagFilter::DefaultOnly{};
}

std::vector<std::string> Reader::identifiers(std::string_view param, const char* text) {
  std::vector<std::string> out;
  auto v = json(param, text, false);
  if (!v) return out;
  if (!expect(*v, JVal::Kind::kArray, param, "an array of strings")) return out;
  out.reserve(v->items.size());
  for (size_t i = 0; i < v->items.size(); ++i) {
    auto s = string(v->items[i], idx(param, i), true);
    if (!s) return {};
    out.push_back(std::move(*s));
  }
  return out;
}

InstanceFilter Reader::instance_filter(std::string_view param, const char* text) {
  InstanceFilter f;
  auto v = json(param, text, false);
  if (!v) return f;
  if (!expect(*v, JVal::Kind::kObject, param, "an object")) return f;
  if (!check_keys(*v, param, {"instance_ids", "completed_before", "limit"})) return f;
  if (const JVal* ids = member(*v, "instance_ids")) {
    std::string p = dot(param, "instance_ids");
    if (!expect(*ids, JVal::Kind::kArray, p, "an array of strings")) return f;
    std::vector<std::string> list;
    for (size_t i = 0; i < ids->items.size(); ++i) {
      auto s = string(ids->items[i], idx(p, i), true);
      if (!s) return f;
      list.push_back(std::move(*s));
    }
    f.instance_ids = std::move(list);
  }
  if (const JVal* cb = member(*v, "completed_before"))
    if (auto n = uint(*cb, dot(param, "completed_before"), 0, UINT64_MAX)) f.completed_before = *n;
  if (const JVal* l = member(*v, "limit"))
    if (auto n = uint(*l, dot(param, "limit"), 0, UINT32_MAX)) f.limit = static_cast<uint32_t>(*n);
  return f;
}

PruneOptions Reader::prune_options(std::string_view param, const char* text) {
  PruneOptions o;
  auto v = json(param, text, false);
  if (!v) return o;
  if (!expect(*v, JVal::Kind::kObject, param, "an object")) return o;
  if (!check_keys(*v, param, {"keep_last", "completed_before"})) return o;
  if (const JVal* k = member(*v, "keep_last"))
    if (auto n = uint(*k, dot(param, "keep_last"), 0, UINT32_MAX)) o.keep_last = static_cast<uint32_t>(*n);
  if (const JVal* cb = member(*v, "completed_before"))
    if (auto n = uint(*cb, dot(param, "completed_before"), 0, UINT64_MAX)) o.completed_before = *n;
  return o;
}

}  // namespace duroxide::capi
