// conformance.md §6.9 — schema names, isolation and migrations (contract §11), plus two project
// checks: schema-name injection, and stored JSON being exactly the codec's output.
//
// ProviderAdmin (get_instance_info, list_instances, delete_instance) does not exist yet: where the
// catalogue uses it, the same facts are checked with raw SQL through Store::sql() (and, where it
// adds something, through the Provider's own read()); each place says so in a comment.
#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <tuple>

#include "sql/migrations.h"
#include "support/conformance_fixtures.h"

using namespace duroxide;
using namespace duroxide::test;

namespace {

using CreateResult = Result<std::unique_ptr<PostgresProvider>>;

// Starts one construction; `out` is filled by its callback.
void start_create(LoopFixture& f, const std::string& url, const std::string& schema,
                  PostgresProviderOptions options, std::optional<CreateResult>& out) {
  PostgresProvider::create_with_schema(&f.loop, url, schema, std::move(options),
                                       [&out](CreateResult r) { out = std::move(r); });
}

CreateResult construct(LoopFixture& f, const std::string& schema, PostgresProviderOptions options = {},
                       std::string url = {}) {
  std::optional<CreateResult> out;
  start_create(f, url.empty() ? database_url() : url, schema, std::move(options), out);
  REQUIRE(f.run_until([&] { return out.has_value(); }, 120s));
  return std::move(*out);
}

void close_provider(LoopFixture& f, std::unique_ptr<PostgresProvider>& p) {
  if (!p) return;
  bool closed = false;
  p->close([&] { closed = true; });
  REQUIRE(f.run_until([&] { return closed; }));
  p.reset();
}

Result<std::optional<LockedOrchestration>> fo_raw(LoopFixture& f, PostgresProvider& p) {
  return await<std::optional<LockedOrchestration>>(f, [&](auto cb) {
    p.fetch_orchestration_item(30s, 0ms, std::nullopt, std::move(cb));
  });
}

std::string q(const std::string& schema) { return pg::quote_identifier(schema); }

int64_t schema_count(Store& admin, const std::string& spelling) {
  return admin.sql_int("SELECT count(*) FROM pg_namespace WHERE nspname = $1", pg::Params().add(spelling));
}

// Drops a schema the test created outside a Store when the test ends, whatever happened.
struct SchemaGuard {
  Store& admin;
  std::string schema;
  ~SchemaGuard() { (void)admin.sql("DROP SCHEMA IF EXISTS " + q(schema) + " CASCADE"); }
};

using Bookkeeping = std::vector<std::tuple<int64_t, std::string, std::string, int64_t>>;

Bookkeeping bookkeeping(Store& admin, const std::string& schema) {
  auto r = admin.sql("SELECT version, name, checksum, applied_at FROM " + q(schema) +
                     "._duroxide_migrations ORDER BY version");
  REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
  Bookkeeping out;
  for (int i = 0; i < r->rows(); ++i)
    out.emplace_back(r->get_int64(i, 0), std::string(r->get(i, 1)), std::string(r->get(i, 2)), r->get_int64(i, 3));
  return out;
}

std::vector<int64_t> library_versions() {
  std::vector<int64_t> v;
  for (size_t i = 0; i < pg::sql::kMigrationCount; ++i) v.push_back(pg::sql::kMigrations[i].version);
  return v;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// The stored orchestration name of an instance (stands in for mgmt.get_instance_info(X).name).
std::optional<std::string> stored_name(Store& s, const std::string& instance) {
  auto r = s.sql("SELECT orchestration_name FROM " + s.table("instances") + " WHERE instance_id = $1",
                 pg::Params().add(instance));
  REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
  if (r->rows() == 0) return std::nullopt;
  return std::string(r->get(0, 0));
}

// create(X) with a given orchestration name (start, FO, AO with Started and metadata of that name).
void create_named(Store& s, const std::string& instance, const std::string& name) {
  REQUIRE(EO(s, WorkItem::StartOrchestration{instance, name, "{}", std::string("1.0.0"), std::nullopt,
                                             std::nullopt, 1}));
  auto fo = FO(s);
  REQUIRE(fo);
  REQUIRE(fo->has_value());
  REQUIRE((*fo)->item.instance == instance);
  AckArgs a;
  a.delta.push_back(started_event(instance, 1, name));
  a.metadata = meta(std::nullopt, std::nullopt, name);
  auto r = AO(s, (*fo)->lock_token, 1, std::move(a));
  REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
}

void concurrent_startup(int n) {
  LoopFixture f;
  Store admin = create_provider(f);
  for (bool precreate : {false, true}) {
    CAPTURE(precreate);
    const std::string schema = random_schema("startup");
    SchemaGuard guard{admin, schema};
    if (precreate) REQUIRE(admin.sql("CREATE SCHEMA " + q(schema)));
    std::vector<std::optional<CreateResult>> outs(static_cast<size_t>(n));
    for (auto& out : outs) start_create(f, database_url(), schema, {}, out);
    REQUIRE(f.run_until([&] { return std::all_of(outs.begin(), outs.end(), [](auto& o) { return o.has_value(); }); },
                        120s));
    std::vector<std::unique_ptr<PostgresProvider>> providers;
    for (auto& out : outs) {
      REQUIRE_MESSAGE(*out, (*out ? "" : out->error().to_string()));
      providers.push_back(std::move(**out));
    }
    // Every migration recorded exactly once (and nothing else).
    Bookkeeping b = bookkeeping(admin, schema);
    std::vector<int64_t> versions;
    for (auto& row : b) versions.push_back(std::get<0>(row));
    CHECK(versions == library_versions());
    CHECK(admin.sql_int("SELECT count(*) - count(DISTINCT version) FROM " + q(schema) + "._duroxide_migrations") == 0);
    for (auto& p : providers) {
      auto r = fo_raw(f, *p);
      CHECK_MESSAGE(r, (r ? "" : r.error().to_string()));
    }
    for (auto& p : providers) close_provider(f, p);
  }
}

}  // namespace

TEST_CASE("schema_and_migrations::test_schema_name_rejected") {
  LoopFixture f;
  Store admin = create_provider(f);
  const std::vector<std::string> names = {"",          "a b",        "x;drop schema public cascade",
                                          "quo\"te",   "with-dash",  "1abc",
                                          "ünï",       std::string(49, 'a'), "pg_custom",
                                          "PG_Custom"};
  for (const std::string& name : names) {
    CAPTURE(name);
    auto r = construct(f, name);
    REQUIRE_FALSE(r);
    CHECK_FALSE(r.error().retryable);
    CHECK(r.error().sqlstate == "QD008");  // contract §11.1
    CHECK(schema_count(admin, name) == 0);
  }
  CHECK(schema_count(admin, "public") == 1);
}

TEST_CASE("schema_and_migrations::test_schema_name_accepted") {
  LoopFixture f;
  std::string len48 = random_schema("len48");
  len48 += std::string(48 - len48.size(), 'z');
  REQUIRE(len48.size() == 48);
  for (const std::string& name : {random_schema("a"), "_x" + random_schema("").substr(1),
                                  random_schema("Mixed_Case"), len48}) {
    CAPTURE(name);
    Store s(f, name, {}, true);
    auto r = FO(s);
    CHECK_MESSAGE(r, (r ? "" : r.error().to_string()));
  }
}

TEST_CASE("schema_and_migrations::test_mixed_case_schema_preserved") {
  LoopFixture f;
  const std::string mixed = random_schema("CaseTest");
  const std::string lowered = lower(mixed);
  Store s1(f, mixed, {}, true);
  create_instance(s1, "X");
  CHECK(schema_count(s1, mixed) == 1);
  CHECK(schema_count(s1, lowered) == 0);
  const Bookkeeping before = bookkeeping(s1, mixed);
  REQUIRE_FALSE(before.empty());
  {
    // A clock a day ahead: a re-applied migration would record a different applied_at.
    PostgresProviderOptions o;
    o.clock = [] { return wall_ms() + 86400000; };
    Store s2(f, mixed, std::move(o), false);
    CHECK(bookkeeping(s1, mixed) == before);
    // Stands in for mgmt.get_instance_info(X) through the second provider: the instance row
    // (raw SQL) and X's history read through the second provider.
    CHECK(stored_name(s2, "X") == std::optional<std::string>("TestOrch"));
    auto h = READ(s2, "X");
    REQUIRE(h);
    CHECK(h->size() == 1);
  }
  Store s3(f, lowered, {}, true);
  CHECK(schema_count(s1, mixed) == 1);
  CHECK(schema_count(s1, lowered) == 1);
  // Stands in for the lower-case provider's list_instances being empty (raw SQL), plus its read.
  CHECK(s3.sql_int("SELECT count(*) FROM " + s3.table("instances")) == 0);
  auto h3 = READ(s3, "X");
  REQUIRE(h3);
  CHECK(h3->empty());
}

TEST_CASE("schema_and_migrations::test_concurrent_startup_two") { concurrent_startup(2); }

TEST_CASE("schema_and_migrations::test_concurrent_startup_six") { concurrent_startup(6); }

TEST_CASE("schema_and_migrations::test_restart_preserves_data_and_skips_migrations") {
  LoopFixture f;
  Store admin = create_provider(f);
  const std::string schema = random_schema("restart");
  SchemaGuard guard{admin, schema};
  Bookkeeping before;
  {
    Store s1(f, schema, {}, false);  // closed at scope end, schema kept
    create_instance(s1, "X");
    before = bookkeeping(admin, schema);
  }
  PostgresProviderOptions o;
  o.clock = [] { return wall_ms() + 86400000; };  // a re-applied migration would show a new applied_at
  Store s2(f, schema, std::move(o), false);
  CHECK(bookkeeping(admin, schema) == before);
  // Stands in for mgmt.get_instance_info(X) being Ok: the instance row via raw SQL, and its history
  // through the restarted provider.
  CHECK(stored_name(s2, "X") == std::optional<std::string>("TestOrch"));
  auto h = READ(s2, "X");
  REQUIRE(h);
  CHECK(h->size() == 1);
}

TEST_CASE("schema_and_migrations::test_checksum_mismatch_is_rejected") {
  LoopFixture f;
  Store s = create_provider(f);
  auto upd = s.sql("UPDATE " + s.table("_duroxide_migrations") +
                   " SET checksum = 'deadbeef' WHERE version = (SELECT min(version) FROM " +
                   s.table("_duroxide_migrations") + ")");
  REQUIRE(upd);
  REQUIRE(upd->affected() == 1);
  auto r = construct(f, s.schema());
  REQUIRE_FALSE(r);
  CHECK_FALSE(r.error().retryable);
  CHECK_MESSAGE(r.error().message.find("schema") != std::string::npos, r.error().to_string());
  CHECK(r.error().sqlstate == "QD009");  // contract §9.2
}

TEST_CASE("schema_and_migrations::test_newer_schema_is_accepted") {
  LoopFixture f;
  Store s = create_provider(f);
  const int64_t future = library_versions().back() + 1;
  REQUIRE(s.sql("INSERT INTO " + s.table("_duroxide_migrations") +
                    " (version, name, checksum, applied_at) VALUES ($1, 'from_a_newer_library', 'feedface', $2)",
                pg::Params().add_int(future).add_int(wall_ms())));
  auto r = construct(f, s.schema());
  REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
  auto fo = fo_raw(f, **r);
  CHECK(fo);
  close_provider(f, *r);
  CHECK(s.sql_int("SELECT count(*) FROM " + s.table("_duroxide_migrations") + " WHERE version = $1",
                  pg::Params().add_int(future)) == 1);
}

TEST_CASE("schema_and_migrations::test_schema_isolation") {
  LoopFixture f;
  Store s1 = create_provider(f);
  Store s2 = create_provider(f);
  create_named(s1, "same-id", "OrchA");
  create_named(s2, "same-id", "OrchB");
  REQUIRE(EO(s2, start_item("Y")));
  // Stands in for mgmt.get_instance_info(same-id).orchestration_name (raw SQL on each store).
  CHECK(stored_name(s1, "same-id") == std::optional<std::string>("OrchA"));
  CHECK(stored_name(s2, "same-id") == std::optional<std::string>("OrchB"));
  // Store 1 never hands out Y.
  REQUIRE(EO(s1, start_item("Z")));
  auto a = FO(s1);
  REQUIRE(a);
  REQUIRE(a->has_value());
  CHECK((*a)->item.instance == "Z");
  auto b = FO(s1);
  REQUIRE(b);
  CHECK_FALSE(b->has_value());
  // Stands in for mgmt.delete_instance(same-id) in store 1: raw deletes of that instance's rows.
  for (const char* t : {"instances", "executions", "history", "orchestrator_queue", "worker_queue", "instance_locks",
                        "kv_store", "kv_delta"})
    REQUIRE(s1.sql("DELETE FROM " + s1.table(t) + " WHERE instance_id = $1", pg::Params().add("same-id")));
  CHECK(s1.count_rows("instances", "same-id") == 0);
  CHECK(s2.count_rows("instances", "same-id") == 1);
  CHECK(stored_name(s2, "same-id") == std::optional<std::string>("OrchB"));
  auto h = READ(s2, "same-id");
  REQUIRE(h);
  CHECK(h->size() == 1);
  auto y = FO(s2);
  REQUIRE(y);
  REQUIRE(y->has_value());
  CHECK((*y)->item.instance == "Y");
}

TEST_CASE("schema_and_migrations::test_cleanup_drops_custom_schema") {
  LoopFixture f;
  Store admin = create_provider(f);
  const std::string schema = random_schema();
  SchemaGuard guard{admin, schema};
  {
    Store s(f, schema, {}, false);
    create_instance(s, "X");
  }
  REQUIRE(schema_count(admin, schema) == 1);
  auto pool = make_pool(f, pool_options("duroxide-pg-test-cleanup"));
  std::optional<Result<void>> dropped;
  pg::drop_schema_objects(*pool, schema, [&](Result<void> r) { dropped = std::move(r); });
  REQUIRE(f.run_until([&] { return dropped.has_value(); }));
  close_pool(f, pool);
  REQUIRE_MESSAGE(*dropped, (*dropped ? "" : dropped->error().to_string()));
  CHECK(schema_count(admin, schema) == 0);
}

TEST_CASE("schema_and_migrations::test_prepared_statement_invalidation_recovers") {
  LoopFixture f;
  PostgresProviderOptions o;
  o.pool_max = 1;  // one connection: the statement cached by the first FO is the one reused
  Store s = create_provider(f, std::move(o));
  auto first = FO(s);
  REQUIRE(first);
  auto def = s.sql(
      "SELECT pg_get_functiondef(p.oid), pg_get_function_identity_arguments(p.oid), "
      "pg_get_function_arguments(p.oid), pg_get_function_result(p.oid) FROM pg_proc p "
      "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1 AND p.proname = 'fetch_orchestration_item'",
      pg::Params().add(s.schema()));
  REQUIRE(def);
  REQUIRE(def->rows() == 1);
  const std::string original(def->get(0, 0));
  const std::string identity(def->get(0, 1));
  const std::string args(def->get(0, 2));
  std::string result(def->get(0, 3));
  // Same columns, one of a different type: the cached plan's result type changes (0A000).
  const std::string col = "attempt_count integer";
  const auto at = result.find(col);
  REQUIRE(at != std::string::npos);
  result.replace(at, col.size(), "attempt_count bigint");
  const std::string fn = s.table("fetch_orchestration_item");
  REQUIRE(s.sql("DROP FUNCTION " + fn + "(" + identity + ")"));
  auto created = s.sql("CREATE FUNCTION " + fn + "(" + args + ") RETURNS " + result +
                       " LANGUAGE plpgsql AS $r$ BEGIN row_type := 'none'; RETURN NEXT; END $r$");
  REQUIRE_MESSAGE(created, (created ? "" : created.error().to_string()));

  auto second = FO(s);
  if (!second) {
    INFO(second.error().to_string());
    CHECK_FALSE((!second.error().retryable && second.error().sqlstate == "0A000"));
  }

  REQUIRE(s.sql("DROP FUNCTION " + fn + "(" + identity + ")"));
  auto restored = s.sql(original);
  REQUIRE_MESSAGE(restored, (restored ? "" : restored.error().to_string()));
  REQUIRE(EO(s, start_item("X")));
  auto third = FO(s);
  REQUIRE_MESSAGE(third, (third ? "" : third.error().to_string()));
  REQUIRE(third->has_value());
  CHECK((*third)->item.instance == "X");
}

TEST_CASE("schema_and_migrations::test_schema_name_injection") {
  LoopFixture f;
  Store admin = create_provider(f);
  const std::vector<std::string> hostile = {
      "x\"; CREATE SCHEMA inj_created_1; --",
      "a\" CASCADE; DROP SCHEMA public CASCADE; --",
      "inj'); CREATE SCHEMA inj_created_2; --",
      "x' OR '1'='1",
      "My Schema",
      "\"Quoted\"",
      "Inj\"Mixed\"Case",
      "inj;CREATE SCHEMA inj_created_3",
      "inj_created_4 CASCADE",
      "a--b",
      "a/*b*/",
      "public.x",
      "a$b",
      "a\\b",
      "tab\tname",
      std::string("nul\0byte", 8),
      "$1",
      "PG_TEMP_inj",
      "pg_catalog",
      "INJ_Upper;DROP TABLE x",
  };
  // Rejected before any SQL runs: with an unreachable server the error is still QD008.
  for (const std::string& name : hostile) {
    CAPTURE(name);
    auto r = construct(f, name, {}, "postgresql://nobody@127.0.0.1:1/nowhere?connect_timeout=1");
    REQUIRE_FALSE(r);
    CHECK(r.error().sqlstate == "QD008");
    CHECK_FALSE(r.error().retryable);
    CHECK_MESSAGE(r.error().message.rfind("Invalid argument: schema:", 0) == 0, r.error().to_string());
  }
  // Against the real server: rejected as well, and nothing got created (pg_catalog exists anyway).
  for (const std::string& name : hostile) {
    CAPTURE(name);
    const bool lookup = name.find('\0') == std::string::npos;
    const int64_t before = lookup ? schema_count(admin, name) : 0;
    auto r = construct(f, name);
    REQUIRE_FALSE(r);
    CHECK(r.error().sqlstate == "QD008");
    if (lookup) CHECK(schema_count(admin, name) == (name == "pg_catalog" ? 1 : 0));
    if (lookup) CHECK(schema_count(admin, name) == before);
  }
  CHECK(admin.sql_int("SELECT count(*) FROM pg_namespace WHERE nspname ILIKE 'inj%' OR nspname ILIKE '%;%' "
                      "OR nspname LIKE '%\"%' OR nspname LIKE '% %'") == 0);
  CHECK(schema_count(admin, "public") == 1);

  // A valid mixed-case name that spells SQL words works, and is used exactly as spelled.
  const std::string mixed = random_schema("Drop_Schema_Public_Cascade");
  {
    Store s(f, mixed, {}, true);
    CHECK(schema_count(admin, mixed) == 1);
    CHECK(schema_count(admin, lower(mixed)) == 0);
    create_instance(s, "X");
    auto h = READ(s, "X");
    REQUIRE(h);
    CHECK(h->size() == 1);
    // The notification channel derived from the mixed-case name is quoted consistently: a long poll
    // wakes on an enqueue from another provider well before its timeout.
    Store other = s.open_same_store();
    std::optional<Result<std::optional<LockedWorkItem>>> got;
    const auto t0 = std::chrono::steady_clock::now();
    s->fetch_work_item(30s, 5s, std::nullopt, TagFilter::DefaultOnly{}, [&](auto r) { got = std::move(r); });
    REQUIRE_FALSE(f.run_until([&] { return got.has_value(); }, 300ms));
    REQUIRE(EW(other, activity_item("X", 2)));
    REQUIRE(f.run_until([&] { return got.has_value(); }, 6s));
    REQUIRE(*got);
    CHECK(got->has_value());
    CHECK(std::chrono::steady_clock::now() - t0 < 2s);
  }
  CHECK(schema_count(admin, mixed) == 0);
  CHECK(schema_count(admin, "public") == 1);
}

TEST_CASE("schema_and_migrations::test_stored_json_is_codec_output") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string X = "json-inst";
  const std::string tricky = std::string("q\"uote \\back /slash é 😀 \x01 ctl \n nl ") + std::string(1, '\0') + " nul";

  // create(X), checking the stored start message on the way.
  const WorkItem start = start_item(X);
  REQUIRE(EO(s, start));
  {
    auto r = s.sql("SELECT work_item FROM " + s.table("orchestrator_queue") + " WHERE instance_id = $1",
                   pg::Params().add(X));
    REQUIRE(r);
    REQUIRE(r->rows() == 1);
    CHECK(r->get(0, 0) == encode(start));
  }
  auto fo = FO(s);
  REQUIRE(fo);
  REQUIRE(fo->has_value());
  AckArgs first;
  first.delta.push_back(started_event(X));
  first.metadata = meta();
  REQUIRE(AO(s, (*fo)->lock_token, 1, std::move(first)));

  // A turn with worker items, a timer and other orchestrator items.
  REQUIRE(EO(s, external_item(X, "go", tricky)));
  auto turn = FO(s);
  REQUIRE(turn);
  REQUIRE(turn->has_value());
  const uint64_t fire_at = static_cast<uint64_t>(wall_ms()) + 3600000;
  std::vector<Event> delta = {
      make_event(X, 1, 2, EventKind::ExternalEvent{"go", tricky}),
      make_event(X, 1, 3, EventKind::ActivityScheduled{"A", tricky, std::string("sess-1"), std::string("gpu")}),
      make_event(X, 1, 4, EventKind::ActivityScheduled{"B", "{}", std::nullopt, std::nullopt}),
      make_event(X, 1, 5, EventKind::TimerCreated{fire_at}),
      make_event(X, 1, 6, EventKind::SubOrchestrationScheduled{"Child", X + "::sub::6", tricky}),
      make_event(X, 1, 7, EventKind::CustomStatusUpdated{tricky}),
      make_event(X, 1, 8, EventKind::KeyValueSet{"k", tricky, 1700000000123}),
  };
  std::vector<WorkItem> worker = {
      WorkItem::ActivityExecute{X, 1, 3, "A", tricky, std::string("sess-1"), std::string("gpu")},
      WorkItem::ActivityExecute{X, 1, 4, "B", "{}", std::nullopt, std::nullopt},
  };
  std::vector<WorkItem> orch = {
      WorkItem::TimerFired{X, 1, 5, fire_at},
      WorkItem::StartOrchestration{X + "::sub::6", "Child", tricky, std::string("2.0.0"), X, 6, 1},
      WorkItem::SubOrchCompleted{"parent-of-x", 1, 9, tricky},
      WorkItem::ExternalRaised{X, "self", tricky},
  };
  AckArgs a;
  a.delta = delta;
  a.worker_items = worker;
  a.orch_items = orch;
  a.metadata = meta();
  auto ack = AO(s, (*turn)->lock_token, 1, std::move(a));
  REQUIRE_MESSAGE(ack, (ack ? "" : ack.error().to_string()));

  {
    auto r = s.sql("SELECT event_id, event_data FROM " + s.table("history") +
                       " WHERE instance_id = $1 AND execution_id = 1 ORDER BY event_id",
                   pg::Params().add(X));
    REQUIRE(r);
    REQUIRE(r->rows() == 1 + static_cast<int>(delta.size()));
    CHECK(r->get(0, 1) == encode(started_event(X)));
    for (size_t i = 0; i < delta.size(); ++i) {
      CAPTURE(i);
      CHECK(r->get_int64(static_cast<int>(i) + 1, 0) == static_cast<int64_t>(delta[i].event_id));
      CHECK(r->get(static_cast<int>(i) + 1, 1) == encode(delta[i]));
    }
  }
  {
    auto r = s.sql("SELECT work_item FROM " + s.table("worker_queue") + " ORDER BY id");
    REQUIRE(r);
    REQUIRE(r->rows() == static_cast<int>(worker.size()));
    for (size_t i = 0; i < worker.size(); ++i) CHECK(r->get(static_cast<int>(i), 0) == encode(worker[i]));
  }
  {
    auto r = s.sql("SELECT work_item FROM " + s.table("orchestrator_queue") + " ORDER BY id");
    REQUIRE(r);
    REQUIRE(r->rows() == static_cast<int>(orch.size()));
    for (size_t i = 0; i < orch.size(); ++i) CHECK(r->get(static_cast<int>(i), 0) == encode(orch[i]));
  }

  // A worker completion is stored as given, too.
  auto fw = FW(s, 30s, 0ms, std::nullopt, TagFilter::Any{});
  REQUIRE(fw);
  REQUIRE(fw->has_value());
  const auto* ae = (*fw)->item.get_if<WorkItem::ActivityExecute>();
  REQUIRE(ae != nullptr);
  const WorkItem completion = WorkItem::ActivityCompleted{X, 1, ae->id, tricky};
  REQUIRE(AW(s, (*fw)->lock_token, completion));
  {
    auto r = s.sql("SELECT work_item FROM " + s.table("orchestrator_queue") + " ORDER BY id DESC LIMIT 1");
    REQUIRE(r);
    REQUIRE(r->rows() == 1);
    CHECK(r->get(0, 0) == encode(completion));
  }
}
