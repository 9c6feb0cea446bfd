#include "capi/options.h"

#include <cstdlib>

namespace duroxide::capi {
namespace {

constexpr uint64_t kI32Max = 2147483647;
// "0 means no limit" for the client-side timers: a limit nobody reaches.
constexpr Millis kNoLimit{int64_t{1} << 53};

std::optional<size_t> pool_max_from_env(Reader& r) {
  const char* env = std::getenv("DUROXIDE_PG_POOL_MAX");
  if (env == nullptr || *env == '\0') return size_t{10};
  std::string_view s(env);
  uint64_t v = 0;
  bool ok = s.size() <= 4;
  for (char c : s) ok = ok && c >= '0' && c <= '9';
  if (ok) {
    for (char c : s) v = v * 10 + static_cast<uint64_t>(c - '0');
    ok = v >= 1 && v <= 1024;
  }
  if (!ok) {
    r.fail("DUROXIDE_PG_POOL_MAX", "expected an integer from 1 to 1024");
    return std::nullopt;
  }
  return static_cast<size_t>(v);
}

}  // namespace

std::optional<EntraConfig> parse_entra(Reader& r, const JVal& v, std::string_view path) {
  if (!r.expect(v, JVal::Kind::kObject, path, "an object")) return std::nullopt;
  if (!r.check_keys(v, path, {"host", "port", "database", "user", "audience", "refresh_interval_ms", "client_id",
                              "object_id", "resource_id", "tenant", "credential", "ssl_root_cert"}))
    return std::nullopt;
  EntraConfig c;
  auto text = [&](std::string_view key, bool required, bool non_empty) -> std::optional<std::string> {
    std::string p = dot(path, key);
    const JVal* m = r.member(v, key);
    if (m == nullptr) {
      if (required) r.fail(p, "missing required member");
      return std::nullopt;
    }
    auto s = r.string(*m, p, true);  // U+0000 is not allowed in any of them
    if (!s) return std::nullopt;
    if (non_empty && s->empty()) {
      r.fail(p, "must not be empty");
      return std::nullopt;
    }
    return s;
  };
  if (auto s = text("host", true, true)) c.target.host = *s;
  if (auto s = text("database", true, true)) c.target.database = *s;
  if (auto s = text("user", true, true)) c.target.user = *s;
  if (const JVal* m = r.member(v, "port"))
    if (auto n = r.uint(*m, dot(path, "port"), 1, 65535)) c.target.port = static_cast<uint16_t>(*n);
  if (const JVal* m = r.member(v, "audience")) {
    if (auto s = text("audience", false, true)) c.auth.audience = *s;
    (void)m;
  }
  if (const JVal* m = r.member(v, "refresh_interval_ms"))
    if (auto n = r.uint(*m, dot(path, "refresh_interval_ms"), 30000, kI32Max))
      c.auth.refresh_interval = Millis(static_cast<int64_t>(*n));
  c.auth.client_id = text("client_id", false, false);
  c.auth.object_id = text("object_id", false, false);
  c.auth.resource_id = text("resource_id", false, false);
  c.auth.tenant = text("tenant", false, false);
  c.auth.ssl_root_cert = text("ssl_root_cert", false, false);
  if (auto s = text("credential", false, false)) {
    if (*s == "chain") c.auth.credential = pg::EntraCredential::kChain;
    else if (*s == "workload_identity") c.auth.credential = pg::EntraCredential::kWorkloadIdentity;
    else if (*s == "managed_identity") c.auth.credential = pg::EntraCredential::kManagedIdentity;
    else if (*s == "azure_cli") c.auth.credential = pg::EntraCredential::kAzureCli;
    else if (*s == "azure_developer_cli") c.auth.credential = pg::EntraCredential::kAzureDeveloperCli;
    else r.fail(dot(path, "credential"), "unknown credential");
  }
  if (!r.failed() && (c.auth.client_id ? 1 : 0) + (c.auth.object_id ? 1 : 0) + (c.auth.resource_id ? 1 : 0) > 1)
    r.fail(path, "at most one of client_id, object_id and resource_id may be non-null");
  if (r.failed()) return std::nullopt;
  return c;
}

OpenConfig parse_options(Reader& r, const char* options_json) {
  OpenConfig c;
  pg::PostgresProviderOptions& o = c.options;
  // The C API's defaults (c-api.md §3.2).
  o.connect_timeout = Millis(10000);
  o.acquire_timeout = Millis(30000);
  o.statement_timeout = Millis(60000);
  o.lock_timeout = Millis(10000);
  o.idle_in_transaction_timeout = Millis(60000);
  o.application_name = "duroxide-pg";
  o.orphan_defer_min = Millis(1000);
  o.orphan_defer_max = Millis(60000);
  o.quarantine_base = Millis(1000);
  o.quarantine_max = Millis(60000);
  o.notify_fallback_interval = Millis(1000);

  const std::string_view P = "options";
  auto v = r.json(P, options_json, false);
  std::optional<size_t> pool_max;
  if (v) {
    if (!r.expect(*v, JVal::Kind::kObject, P, "an object")) return c;
    if (!r.check_keys(*v, P, {"pool_max", "connect_timeout_ms", "acquire_timeout_ms", "pg_statement_timeout_ms",
                              "pg_lock_timeout_ms", "pg_idle_in_transaction_timeout_ms", "close_grace_ms",
                              "application_name", "entra", "tuning"}))
      return c;
    auto num = [&](std::string_view key, uint64_t min, uint64_t max) -> std::optional<uint64_t> {
      const JVal* m = r.member(*v, key);
      if (m == nullptr) return std::nullopt;
      return r.uint(*m, dot(P, key), min, max);
    };
    if (auto n = num("pool_max", 1, 1024)) pool_max = static_cast<size_t>(*n);
    if (auto n = num("connect_timeout_ms", 0, kI32Max)) o.connect_timeout = *n == 0 ? kNoLimit : Millis(*n);
    if (auto n = num("acquire_timeout_ms", 0, kI32Max)) o.acquire_timeout = *n == 0 ? kNoLimit : Millis(*n);
    if (auto n = num("pg_statement_timeout_ms", 0, kI32Max)) o.statement_timeout = Millis(*n);
    if (auto n = num("pg_lock_timeout_ms", 0, kI32Max)) o.lock_timeout = Millis(*n);
    if (auto n = num("pg_idle_in_transaction_timeout_ms", 0, kI32Max))
      o.idle_in_transaction_timeout = Millis(*n);
    if (auto n = num("close_grace_ms", 0, kI32Max)) c.close_grace_ms = static_cast<int64_t>(*n);
    if (const JVal* m = r.member(*v, "application_name")) {
      std::string p = dot(P, "application_name");
      if (auto s = r.string(*m, p, false)) {
        bool ok = !s->empty() && s->size() <= 40;
        for (char ch : *s) ok = ok && ch >= 0x20 && ch <= 0x7E;
        if (!ok) r.fail(p, "expected 1-40 bytes of printable ASCII");
        else o.application_name = *s;
      }
    }
    if (const JVal* m = r.member(*v, "tuning")) {
      std::string tp = dot(P, "tuning");
      if (r.expect(*m, JVal::Kind::kObject, tp, "an object") &&
          r.check_keys(*m, tp, {"orphan_deferral_min_ms", "orphan_deferral_max_ms", "quarantine_base_ms",
                                "quarantine_max_ms", "notify_fallback_ms"})) {
        auto t = [&](std::string_view key, Millis& out) {
          if (const JVal* x = r.member(*m, key))
            if (auto n = r.uint(*x, dot(tp, key), 1, kI32Max)) out = Millis(*n);
        };
        t("orphan_deferral_min_ms", o.orphan_defer_min);
        t("orphan_deferral_max_ms", o.orphan_defer_max);
        t("quarantine_base_ms", o.quarantine_base);
        t("quarantine_max_ms", o.quarantine_max);
        t("notify_fallback_ms", o.notify_fallback_interval);
        if (!r.failed() && o.orphan_defer_min > o.orphan_defer_max)
          r.fail(tp, "orphan_deferral_min_ms must not exceed orphan_deferral_max_ms");
        if (!r.failed() && o.quarantine_base > o.quarantine_max)
          r.fail(tp, "quarantine_base_ms must not exceed quarantine_max_ms");
      }
    }
    if (const JVal* m = r.member(*v, "entra")) c.entra = parse_entra(r, *m, dot(P, "entra"));
  }
  if (r.failed()) return c;
  if (!pool_max) pool_max = pool_max_from_env(r);
  if (pool_max) o.pool_max = *pool_max;
  return c;
}

}  // namespace duroxide::capi
