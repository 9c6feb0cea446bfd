#include "sql/migrate.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <memory>

#include "sql/migrations.h"
#include "sql/schema_name.h"

namespace duroxide::pg {
namespace sql {

std::string instantiate(std::string_view tmpl, std::string_view quoted_schema) {
  static constexpr std::string_view kPlaceholder = "__SCHEMA__";
  std::string out;
  out.reserve(tmpl.size() + tmpl.size() / 16);
  size_t pos = 0;
  for (size_t hit = tmpl.find(kPlaceholder); hit != std::string_view::npos;
       hit = tmpl.find(kPlaceholder, pos)) {
    out.append(tmpl.substr(pos, hit - pos)).append(quoted_schema);
    pos = hit + kPlaceholder.size();
  }
  out.append(tmpl.substr(pos));
  return out;
}

std::string checksum(std::string_view text) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), md, &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 15]);
  }
  return out;
}

}  // namespace sql

namespace {

// One migration run; owns the lease and walks the steps through callbacks.
struct Run : std::enable_shared_from_this<Run> {
  Pool& pool;
  std::string schema;
  std::string quoted;
  int64_t now_ms;
  int64_t lock_key;
  Lease lease;
  MigrationReport report;
  std::move_only_function<void(Result<MigrationReport>)> done;

  Run(Pool& p, std::string s, int64_t now, std::move_only_function<void(Result<MigrationReport>)> cb)
      : pool(p), schema(std::move(s)), quoted(quote_identifier(schema)), now_ms(now),
        lock_key(advisory_key("migrate", schema)), done(std::move(cb)) {}

  void start() {
    auto self = shared_from_this();
    pool.acquire([self](Result<Lease> l) {
      if (!l) return self->finish(std::unexpected(l.error()));
      self->lease = std::move(*l);
      self->lease.query("SELECT pg_advisory_lock($1)", Params().add_int(self->lock_key),
                        [self](Result<QueryResult> r) {
                          if (!r) return self->finish(std::unexpected(r.error()));
                          self->create_schema();
                        });
    });
  }

  void create_schema() {
    auto self = shared_from_this();
    std::string script;
    if (schema != "public") script = "CREATE SCHEMA IF NOT EXISTS " + quoted + ";\n";
    script += sql::instantiate(sql::kBookkeepingSql, quoted);
    lease.script(std::move(script), [self](Result<QueryResult> r) {
      if (!r) return self->fail_locked(r.error());
      self->read_applied();
    });
  }

  void read_applied() {
    auto self = shared_from_this();
    lease.query("SELECT version, checksum FROM " + quoted + "._duroxide_migrations ORDER BY version", {},
                [self](Result<QueryResult> r) {
                  if (!r) return self->fail_locked(r.error());
                  std::map<uint32_t, std::string> applied;
                  for (int i = 0; i < r->rows(); ++i)
                    applied[static_cast<uint32_t>(r->get_int64(i, 0))] = std::string(r->get(i, 1));
                  self->plan(applied);
                });
  }

  void plan(const std::map<uint32_t, std::string>& applied) {
    report.library_version = static_cast<uint32_t>(sql::kMigrationCount);
    report.schema_version = applied.empty() ? 0 : applied.rbegin()->first;
    std::vector<const sql::Migration*> pending;
    for (size_t i = 0; i < sql::kMigrationCount; ++i) {
      const sql::Migration& m = sql::kMigrations[i];
      auto it = applied.find(m.version);
      if (it == applied.end()) {
        pending.push_back(&m);
      } else if (it->second != sql::checksum(m.text)) {
        return fail_locked(ProviderError{
            "migrate",
            "schema " + quoted + " records migration " + std::to_string(m.version) + " (" +
                std::string(m.name) + ") with a checksum that differs from this library's copy; "
                "applied migrations are never edited, so this schema was migrated by an "
                "incompatible build",
            false, "QD009"});
      }
    }
    apply(std::move(pending), 0);
  }

  void apply(std::vector<const sql::Migration*> pending, size_t i) {
    if (i == pending.size()) return unlock_and_finish();
    const sql::Migration& m = *pending[i];
    // One simple-protocol message: the statements and the bookkeeping insert run as one implicit
    // transaction, so a migration is recorded exactly when it fully applied.
    std::string script = sql::instantiate(m.text, quoted);
    script += ";\nINSERT INTO " + quoted + "._duroxide_migrations (version, name, checksum, applied_at) VALUES (" +
              std::to_string(m.version) + ", '" + std::string(m.name) + "', '" + sql::checksum(m.text) +
              "', " + std::to_string(now_ms) + ")";
    auto self = shared_from_this();
    lease.script(std::move(script), [self, pending = std::move(pending), i](Result<QueryResult> r) mutable {
      if (!r) {
        ProviderError e = r.error();
        e.operation = "migrate";
        e.message = "migration " + std::to_string(pending[i]->version) + " (" +
                    std::string(pending[i]->name) + "): " + e.message;
        return self->fail_locked(std::move(e));
      }
      ++self->report.applied;
      self->report.schema_version = std::max(self->report.schema_version, pending[i]->version);
      self->apply(std::move(pending), i + 1);
    });
  }

  void unlock_and_finish() {
    auto self = shared_from_this();
    lease.query("SELECT pg_advisory_unlock($1)", Params().add_int(lock_key), [self](Result<QueryResult> r) {
      if (!r) return self->finish(std::unexpected(r.error()));
      self->finish(self->report);
    });
  }

  void fail_locked(ProviderError e) {
    auto self = shared_from_this();
    lease.query("SELECT pg_advisory_unlock($1)", Params().add_int(lock_key),
                [self, e = std::move(e)](Result<QueryResult>) mutable { self->finish(std::unexpected(std::move(e))); });
  }

  void finish(Result<MigrationReport> r) {
    lease.release();
    auto cb = std::move(done);
    cb(std::move(r));
  }
};

}  // namespace

void migrate_schema(Pool& pool, std::string schema, int64_t now_ms,
                    std::move_only_function<void(Result<MigrationReport>)> cb) {
  std::make_shared<Run>(pool, std::move(schema), now_ms, std::move(cb))->start();
}

namespace {

// Names of the objects the templates create, read from the templates themselves so that the list
// cannot drift from the migrations.
std::vector<std::string> created_names(std::string_view kind_prefix) {
  std::vector<std::string> names;
  auto scan = [&](std::string_view text) {
    const std::string needle = std::string(kind_prefix) + "__SCHEMA__.";
    for (size_t pos = text.find(needle); pos != std::string_view::npos; pos = text.find(needle, pos)) {
      pos += needle.size();
      size_t end = pos;
      while (end < text.size() && (std::isalnum(static_cast<unsigned char>(text[end])) || text[end] == '_')) ++end;
      std::string name(text.substr(pos, end - pos));
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    }
  };
  scan(sql::kBookkeepingSql);
  for (size_t i = 0; i < sql::kMigrationCount; ++i) scan(sql::kMigrations[i].text);
  return names;
}

struct Drop : std::enable_shared_from_this<Drop> {
  Pool& pool;
  std::string sql;
  std::move_only_function<void(Result<void>)> done;
  Drop(Pool& p, std::string s, std::move_only_function<void(Result<void>)> cb)
      : pool(p), sql(std::move(s)), done(std::move(cb)) {}
  void attempt(int retries_left) {
    auto self = shared_from_this();
    pool.acquire([self, retries_left](Result<Lease> l) {
      if (!l) return self->finish(std::unexpected(l.error()));
      auto lease = std::make_shared<Lease>(std::move(*l));
      lease->script(self->sql, [self, lease, retries_left](Result<QueryResult> r) {
        lease->release();
        if (!r && r.error().sqlstate == "40P01" && retries_left > 0) return self->attempt(retries_left - 1);
        if (!r) return self->finish(std::unexpected(r.error()));
        self->finish({});
      });
    });
  }
  void finish(Result<void> r) {
    auto cb = std::move(done);
    cb(std::move(r));
  }
};

}  // namespace

void drop_schema_objects(Pool& pool, std::string schema, std::move_only_function<void(Result<void>)> cb) {
  const std::string q = quote_identifier(schema);
  std::string sql;
  if (schema != "public") {
    sql = "DROP SCHEMA IF EXISTS " + q + " CASCADE";
  } else {
    for (const std::string& t : created_names("TABLE IF NOT EXISTS "))
      sql += "DROP TABLE IF EXISTS public." + quote_identifier(t) + " CASCADE;\n";
    std::string fns;
    for (const std::string& f : created_names("FUNCTION ")) fns += (fns.empty() ? "'" : ",'") + f + "'";
    if (!fns.empty())
      sql += "DO $drop$ DECLARE r record; BEGIN FOR r IN SELECT p.oid::regprocedure AS sig FROM pg_proc p "
             "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public' AND p.proname IN (" +
             fns + ") LOOP EXECUTE 'DROP FUNCTION IF EXISTS ' || r.sig || ' CASCADE'; END LOOP; END $drop$;\n";
  }
  std::make_shared<Drop>(pool, std::move(sql), std::move(cb))->attempt(5);
}

}  // namespace duroxide::pg
