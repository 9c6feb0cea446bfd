// The conformance factory (conformance.md §2): fresh isolated stores, a synchronous-looking
// `await` over the asynchronous provider, and the inspection/tampering hooks the tests use.
//
//   LoopFixture f;                        // one per test
//   Store s = create_provider(f);         // new provider on a new schema, dropped at scope end
//   auto r = await(f, [&](auto cb) { s->fetch_orchestration_item(30s, 0ms, std::nullopt, cb); });
//   REQUIRE(r);                           // Result<std::optional<LockedOrchestration>>
#pragma once

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <type_traits>

#include "duroxide/pg/postgres_provider.h"
#include "pool/pool.h"
#include "sql/migrate.h"
#include "sql/schema_name.h"
#include "support/pool_helpers.h"

namespace duroxide::test {

using namespace std::chrono_literals;
using pg::PostgresProvider;
using pg::PostgresProviderOptions;

// LT of the catalogue (conformance.md §2.1).
inline constexpr Millis kLockTimeout{1000};
// Upper bound for a fetch with poll_timeout 0 on an empty store.
inline constexpr Millis kShortPoll{100};

// A manual clock for tests that control time (conformance.md §2.1 create_provider_with_clock).
struct ManualClock {
  std::shared_ptr<std::atomic<int64_t>> ms = std::make_shared<std::atomic<int64_t>>(1700000000000);
  void set(int64_t v) { ms->store(v); }
  void advance(int64_t d) { ms->fetch_add(d); }
  int64_t now() const { return ms->load(); }
  std::function<int64_t()> fn() const {
    auto p = ms;
    return [p] { return p->load(); };
  }
};

inline int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch()).count();
}

// Runs the loop until the operation's callback fires and returns its Result.
// `start` receives a Callback<T> and must start exactly one operation with it.
template <class T, class Start>
Result<T> await_op(LoopFixture& f, Start&& start, Millis deadline = 60s) {
  std::optional<Result<T>> out;
  start(Callback<T>([&](Result<T> r) { out = std::move(r); }));
  REQUIRE_MESSAGE(f.run_until([&] { return out.has_value(); }, deadline), "operation did not complete in time");
  return std::move(*out);
}

// Deduces T from the provider method: await(f, [&](auto cb) { p.read("x", std::move(cb)); }).
template <class T>
struct CallbackArg;
template <class T>
struct CallbackArg<Callback<T>> {
  using type = T;
};

// Blocks (running the loop) on an operation; `start` is a generic lambda taking the callback.
// The result type is given explicitly: await<std::vector<Event>>(f, ...).
template <class T, class Start>
Result<T> await(LoopFixture& f, Start&& start, Millis deadline = 60s) {
  return await_op<T>(f, std::forward<Start>(start), deadline);
}

inline std::string random_schema(const char* prefix = "conformance") {
  static std::mt19937_64 rng{std::random_device{}()};
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", static_cast<unsigned>(rng()));
  return std::string(prefix) + "_" + buf;
}

// A provider on its own schema; closes the provider and drops the schema when destroyed.
class Store {
 public:
  Store(LoopFixture& f, std::string schema, PostgresProviderOptions options, bool owns_schema)
      : f_(&f), schema_(std::move(schema)), owns_(owns_schema) {
    // A per-store application name lets terminate_backends hit only this store's connections.
    if (options.application_name == PostgresProviderOptions{}.application_name)
      options.application_name = "dxt_" + schema_ + "_" + std::to_string(++counter());
    app_name_ = options.application_name;
    std::optional<Result<std::unique_ptr<PostgresProvider>>> out;
    PostgresProvider::create_with_schema(&f.loop, database_url(), schema_, std::move(options),
                                         [&](Result<std::unique_ptr<PostgresProvider>> r) { out = std::move(r); });
    REQUIRE(f.run_until([&] { return out.has_value(); }, 120s));
    REQUIRE_MESSAGE(*out, (*out ? "" : out->error().to_string()));
    provider_ = std::move(**out);
    raw_ = make_pool(f, pool_options("duroxide-pg-test-raw"));
  }
  Store(Store&&) = default;
  ~Store() {
    if (!f_) return;
    if (provider_) {
      bool closed = false;
      provider_->close([&] { closed = true; });
      f_->run_until([&] { return closed; });
      provider_.reset();
    }
    if (raw_) {
      if (owns_) {
        std::optional<Result<void>> dropped;
        pg::drop_schema_objects(*raw_, schema_, [&](Result<void> r) { dropped = std::move(r); });
        f_->run_until([&] { return dropped.has_value(); });
      }
      close_pool(*f_, raw_);
    }
  }

  PostgresProvider* operator->() { return provider_.get(); }
  PostgresProvider& provider() { return *provider_; }
  const std::string& schema() const { return schema_; }
  std::string table(std::string_view name) const { return pg::quote_identifier(schema_) + "." + std::string(name); }
  LoopFixture& loop() { return *f_; }

  // Runs SQL on a separate raw connection (the schema is not on the search path: use table()).
  Result<pg::QueryResult> sql(std::string text, pg::Params params = {}) {
    return run(*f_, *raw_, std::move(text), std::move(params));
  }
  int64_t sql_int(std::string text, pg::Params params = {}) {
    auto r = sql(std::move(text), std::move(params));
    REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
    REQUIRE(r->rows() == 1);
    return r->is_null(0, 0) ? 0 : r->get_int64(0, 0);
  }

  // ---- hooks of conformance.md §2.1 ----

  // Variant 0: invalid JSON text; variant 1: valid JSON of the wrong shape.
  void corrupt_instance_history(const std::string& instance, int variant = 0) {
    const char* text = variant == 0 ? "NOT_VALID_JSON{{{" : "{\"garbage\":true}";
    REQUIRE(sql("UPDATE " + table("history") + " SET event_data = $2 WHERE instance_id = $1",
                pg::Params().add(instance).add(text)));
  }
  int64_t get_max_attempt_count(const std::string& instance) {
    return sql_int("SELECT coalesce(max(attempt_count), 0) FROM " + table("orchestrator_queue") +
                       " WHERE instance_id = $1", pg::Params().add(instance));
  }
  void corrupt_worker_item(const std::string& instance, uint64_t activity_id, const std::string& text) {
    REQUIRE(sql("UPDATE " + table("worker_queue") + " SET work_item = $3 WHERE instance_id = $1 AND activity_id = $2",
                pg::Params().add(instance).add_int(static_cast<int64_t>(activity_id)).add(text)));
  }
  // n is 0-based in enqueue order.
  void corrupt_orchestrator_message(const std::string& instance, int n, const std::string& text) {
    REQUIRE(sql("UPDATE " + table("orchestrator_queue") + " SET work_item = $3 WHERE id = (SELECT id FROM " +
                    table("orchestrator_queue") + " WHERE instance_id = $1 ORDER BY id OFFSET $2 LIMIT 1)",
                pg::Params().add(instance).add_int(n).add(text)));
  }
  struct Row {
    bool exists = false;
    int64_t attempt_count = 0;
    int64_t visible_at = 0;
    bool locked = false;  // lock token set
  };
  Row worker_row(const std::string& instance, uint64_t activity_id) {
    auto r = sql("SELECT attempt_count, visible_at, lock_token IS NOT NULL FROM " + table("worker_queue") +
                     " WHERE instance_id = $1 AND activity_id = $2",
                 pg::Params().add(instance).add_int(static_cast<int64_t>(activity_id)));
    REQUIRE(r);
    if (r->rows() == 0) return {};
    return {true, r->get_int64(0, 0), r->get_int64(0, 1), r->get(0, 2) == "t"};
  }
  std::vector<Row> orchestrator_rows(const std::string& instance) {
    auto r = sql("SELECT attempt_count, visible_at, lock_token IS NOT NULL FROM " + table("orchestrator_queue") +
                     " WHERE instance_id = $1 ORDER BY id", pg::Params().add(instance));
    REQUIRE(r);
    std::vector<Row> out;
    for (int i = 0; i < r->rows(); ++i) out.push_back({true, r->get_int64(i, 0), r->get_int64(i, 1), r->get(i, 2) == "t"});
    return out;
  }
  // Whether a live instance lock exists, judged by `now_ms` (default: wall clock).
  bool live_instance_lock(const std::string& instance, std::optional<int64_t> now_ms = std::nullopt) {
    return sql_int("SELECT count(*) FROM " + table("instance_locks") + " WHERE instance_id = $1 AND locked_until > $2",
                   pg::Params().add(instance).add_int(now_ms.value_or(wall_ms()))) > 0;
  }
  // entity: "instances", "executions" or "history".
  int64_t count_rows(const std::string& entity, const std::string& instance) {
    return sql_int("SELECT count(*) FROM " + table(entity) + " WHERE instance_id = $1", pg::Params().add(instance));
  }
  // which: "query" or "listen" — terminates this provider's connections of that role on the server.
  int64_t terminate_backends(const std::string& which) {
    return sql_int("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
                   pg::Params().add(app_name_ + ":" + which));
  }
  void set_app_name(std::string app) { app_name_ = std::move(app); }
  // Like terminate_backends, but returns only once the server processes have actually exited
  // (pg_terminate_backend merely signals them; a test that acts right after it races their exit).
  // Returns how many exited within the wait.
  int64_t terminate_backends_and_wait(const std::string& which, int64_t wait_ms = 5000) {
    return sql_int("SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, $2)) FROM pg_stat_activity "
                   "WHERE application_name = $1",
                   pg::Params().add(app_name_ + ":" + which).add_int(wait_ms));
  }

  // A second provider object on the same schema ("another process"); it does not drop the schema.
  Store open_same_store(PostgresProviderOptions options = {}) {
    return Store(*f_, schema_, std::move(options), false);
  }

 private:
  static int& counter() {
    static int n = 0;
    return n;
  }
  LoopFixture* f_;
  std::string schema_;
  bool owns_;
  std::unique_ptr<PostgresProvider> provider_;
  std::unique_ptr<pg::Pool> raw_;
  std::string app_name_ = "duroxide-pg";
};

inline Store create_provider(LoopFixture& f, PostgresProviderOptions options = {}) {
  return Store(f, random_schema(), std::move(options), true);
}

inline Store create_provider_with_clock(LoopFixture& f, const ManualClock& clock, PostgresProviderOptions options = {}) {
  options.clock = clock.fn();
  return create_provider(f, std::move(options));
}

}  // namespace duroxide::test
