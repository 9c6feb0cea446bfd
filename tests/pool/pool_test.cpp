// Integration tests of the connection pool against the real throwaway PostgreSQL.
#include <doctest/doctest.h>

#include <atomic>
#include <set>
#include <thread>

#include <arpa/inet.h>

#include "faults/db_url.h"
#include "pool/listener.h"
#include "support/pool_helpers.h"

using namespace duroxide;
using namespace duroxide::test;
using pg::Params;
using pg::QueryResult;

TEST_CASE("1000 pipelined queries on one connection complete in submission order") {
  LoopFixture f;
  auto o = pool_options();
  o.max_size = 1;
  o.pipeline_depth = 64;
  auto pool = make_pool(f, o);
  std::vector<int> order;
  int errors = 0;
  for (int i = 0; i < 1000; ++i) {
    pool->query("SELECT $1::int", Params().add_int(i), [&, i](Result<QueryResult> r) {
      if (!r || r->get_int64(0, 0) != i) ++errors;
      order.push_back(i);
    });
  }
  CHECK(pool->stats().waiting > 0);  // more than one pipeline's worth queued
  REQUIRE(f.run_until([&] { return order.size() == 1000; }));
  CHECK(errors == 0);
  for (int i = 0; i < 1000; ++i) REQUIRE(order[i] == i);
  close_pool(f, pool);
}

TEST_CASE("1000 concurrent queries on a small pool each reach their own callback") {
  LoopFixture f;
  auto o = pool_options();
  o.max_size = 3;
  auto pool = make_pool(f, o);
  std::vector<int> got(1000, -1);
  int done = 0;
  for (int i = 0; i < 1000; ++i) {
    pool->query("SELECT $1::int, pg_backend_pid()", Params().add_int(i), [&, i](Result<QueryResult> r) {
      REQUIRE(r);
      got[i] = static_cast<int>(r->get_int64(0, 0));
      ++done;
    });
  }
  REQUIRE(f.run_until([&] { return done == 1000; }));
  for (int i = 0; i < 1000; ++i) REQUIRE(got[i] == i);
  CHECK(pool->stats().connections <= 3);
  close_pool(f, pool);
}

TEST_CASE("an error in one pipelined query leaves its neighbours untouched") {
  LoopFixture f;
  auto o = pool_options();
  o.max_size = 1;
  auto pool = make_pool(f, o);
  auto stmt = pool->prepare("t_div", "SELECT 10 / $1::int");
  std::vector<Result<QueryResult>> res;
  for (int d : {2, 0, 5, 0, 1}) pool->query(stmt, Params().add_int(d), [&](Result<QueryResult> r) { res.push_back(std::move(r)); });
  REQUIRE(f.run_until([&] { return res.size() == 5; }));
  CHECK(res[0]->get_int64(0, 0) == 5);
  REQUIRE_FALSE(res[1]);
  CHECK(res[1].error().sqlstate == "22012");
  CHECK_FALSE(res[1].error().retryable);
  CHECK(res[2]->get_int64(0, 0) == 2);
  CHECK_FALSE(res[3]);
  CHECK(res[4]->get_int64(0, 0) == 10);
  close_pool(f, pool);
}

TEST_CASE("a statement whose prepare fails is prepared again on next use") {
  LoopFixture f;
  auto o = pool_options();
  o.max_size = 1;
  auto pool = make_pool(f, o);
  REQUIRE(run(f, *pool, "DROP TABLE IF EXISTS t_late"));
  auto stmt = pool->prepare("t_late_sel", "SELECT count(*) FROM t_late");
  std::optional<Result<QueryResult>> first, second;
  pool->query(stmt, {}, [&](Result<QueryResult> r) { first = std::move(r); });
  REQUIRE(f.run_until([&] { return first.has_value(); }));
  REQUIRE_FALSE(*first);
  CHECK(first->error().sqlstate == "42P01");
  REQUIRE(run(f, *pool, "CREATE TABLE t_late(x int)"));
  pool->query(stmt, {}, [&](Result<QueryResult> r) { second = std::move(r); });
  REQUIRE(f.run_until([&] { return second.has_value(); }));
  REQUIRE(*second);
  CHECK((*second)->get_int64(0, 0) == 0);
  REQUIRE(run(f, *pool, "DROP TABLE t_late"));
  close_pool(f, pool);
}

TEST_CASE("statements are re-prepared when the server drops them or their plan goes stale") {
  LoopFixture f;
  auto o = pool_options();
  o.max_size = 1;
  auto pool = make_pool(f, o);
  REQUIRE(run(f, *pool, "DROP TABLE IF EXISTS t_shape"));
  REQUIRE(run(f, *pool, "CREATE TABLE t_shape(a int)"));
  REQUIRE(run(f, *pool, "INSERT INTO t_shape VALUES (1)"));
  auto stmt = pool->prepare("t_shape_all", "SELECT * FROM t_shape");
  auto once = [&]() {
    std::optional<Result<QueryResult>> out;
    pool->query(stmt, {}, [&](Result<QueryResult> r) { out = std::move(r); });
    REQUIRE(f.run_until([&] { return out.has_value(); }));
    return std::move(*out);
  };
  auto r1 = once();
  REQUIRE(r1);
  CHECK(r1->columns() == 1);
  // 26000: the statement vanished behind our back.
  REQUIRE(run(f, *pool, "DEALLOCATE ALL"));
  auto r2 = once();
  REQUIRE(r2);
  // 0A000: "cached plan must not change result type".
  REQUIRE(run(f, *pool, "ALTER TABLE t_shape ADD COLUMN b int"));
  auto r3 = once();
  REQUIRE(r3);
  CHECK(r3->columns() == 2);
  REQUIRE(run(f, *pool, "DROP TABLE t_shape"));
  close_pool(f, pool);
}

TEST_CASE("classification on real server errors") {
  LoopFixture f;
  auto pool = make_pool(f, pool_options());
  REQUIRE(run(f, *pool, "DROP TABLE IF EXISTS t_cls"));
  REQUIRE(run(f, *pool, "CREATE TABLE t_cls(id int PRIMARY KEY, v int)"));
  REQUIRE(run(f, *pool, "INSERT INTO t_cls VALUES (1, 0), (2, 0)"));

  SUBCASE("unique violation is permanent") {
    auto r = run(f, *pool, "INSERT INTO t_cls VALUES (1, 0)");
    REQUIRE_FALSE(r);
    CHECK(r.error().sqlstate == "23505");
    CHECK_FALSE(r.error().retryable);
  }

  // Two leased connections with interleaved transactions produce the real failures.
  auto lease2 = [&]() {
    std::vector<pg::Lease> leases;
    for (int i = 0; i < 2; ++i)
      pool->acquire([&](Result<pg::Lease> l) { REQUIRE(l); leases.push_back(std::move(*l)); });
    REQUIRE(f.run_until([&] { return leases.size() == 2; }));
    return leases;
  };
  auto step = [&](pg::Lease& l, std::string sql) {
    std::optional<Result<QueryResult>> out;
    l.query(std::move(sql), {}, [&](Result<QueryResult> r) { out = std::move(r); });
    return out;  // not awaited here
  };
  (void)step;
  auto exec = [&](pg::Lease& l, std::string sql, std::optional<Result<QueryResult>>& out) {
    l.query(std::move(sql), {}, [&out](Result<QueryResult> r) { out = std::move(r); });
  };

  SUBCASE("serialization failure is retryable") {
    auto ls = lease2();
    std::optional<Result<QueryResult>> a, b;
    for (int i = 0; i < 2; ++i) {
      exec(ls[i], "BEGIN ISOLATION LEVEL SERIALIZABLE", a);
      REQUIRE(f.run_until([&] { return a.has_value(); }));
      a.reset();
      exec(ls[i], "SELECT sum(v) FROM t_cls", a);
      REQUIRE(f.run_until([&] { return a.has_value(); }));
      a.reset();
    }
    exec(ls[0], "UPDATE t_cls SET v = v + 1 WHERE id = 1", a);
    REQUIRE(f.run_until([&] { return a.has_value(); }));
    exec(ls[1], "UPDATE t_cls SET v = v + 1 WHERE id = 2", b);
    REQUIRE(f.run_until([&] { return b.has_value(); }));
    a.reset();
    b.reset();
    exec(ls[0], "COMMIT", a);
    REQUIRE(f.run_until([&] { return a.has_value(); }));
    exec(ls[1], "COMMIT", b);
    REQUIRE(f.run_until([&] { return b.has_value(); }));
    REQUIRE(*a);
    REQUIRE_FALSE(*b);
    CHECK(b->error().sqlstate == "40001");
    CHECK(b->error().retryable);
  }

  SUBCASE("deadlock is retryable") {
    auto ls = lease2();
    std::optional<Result<QueryResult>> a, b;
    for (int i = 0; i < 2; ++i) {
      a.reset();
      exec(ls[i], "BEGIN", a);
      REQUIRE(f.run_until([&] { return a.has_value(); }));
    }
    a.reset();
    exec(ls[0], "UPDATE t_cls SET v = 1 WHERE id = 1", a);
    REQUIRE(f.run_until([&] { return a.has_value(); }));
    b.reset();
    exec(ls[1], "UPDATE t_cls SET v = 1 WHERE id = 2", b);
    REQUIRE(f.run_until([&] { return b.has_value(); }));
    a.reset();
    b.reset();
    exec(ls[0], "UPDATE t_cls SET v = 2 WHERE id = 2", a);
    exec(ls[1], "UPDATE t_cls SET v = 2 WHERE id = 1", b);
    REQUIRE(f.run_until([&] { return a.has_value() && b.has_value(); }));
    const bool a_dead = !*a, b_dead = !*b;
    CHECK(a_dead != b_dead);  // exactly one victim
    const ProviderError& e = a_dead ? a->error() : b->error();
    CHECK(e.sqlstate == "40P01");
    CHECK(e.retryable);
    for (auto& l : ls) {
      a.reset();
      exec(l, "ROLLBACK", a);
      REQUIRE(f.run_until([&] { return a.has_value(); }));
    }
  }
  REQUIRE(run(f, *pool, "DROP TABLE t_cls"));
  close_pool(f, pool);
}

TEST_CASE("a lease released inside a transaction is not reused") {
  LoopFixture f;
  auto o = pool_options();
  o.max_size = 1;
  auto pool = make_pool(f, o);
  std::optional<pg::Lease> lease;
  pool->acquire([&](Result<pg::Lease> l) { REQUIRE(l); lease = std::move(*l); });
  REQUIRE(f.run_until([&] { return lease.has_value(); }));
  std::optional<Result<QueryResult>> r;
  lease->query("BEGIN", {}, [&](Result<QueryResult> x) { r = std::move(x); });
  REQUIRE(f.run_until([&] { return r.has_value(); }));
  r.reset();
  lease->query("SELECT pg_backend_pid()", {}, [&](Result<QueryResult> x) { r = std::move(x); });
  REQUIRE(f.run_until([&] { return r.has_value(); }));
  REQUIRE(*r);
  const int64_t leased_pid = (*r)->get_int64(0, 0);
  lease.reset();
  auto after = run(f, *pool, "SELECT pg_backend_pid()");
  REQUIRE(after);
  CHECK(after->get_int64(0, 0) != leased_pid);  // the open transaction went away with its session
  close_pool(f, pool);
}

TEST_CASE("pg_terminate_backend under load: retryable failures, reconnect, later queries succeed") {
  LoopFixture f;
  auto victim = make_pool(f, pool_options("duroxide-pg-victim"));
  auto killer = make_pool(f, pool_options("duroxide-pg-killer"));
  int ok = 0, retryable = 0, permanent = 0, done = 0;
  const int total = 400;
  for (int i = 0; i < total; ++i) {
    victim->query("SELECT pg_sleep(0.005), $1::int", Params().add_int(i), [&](Result<QueryResult> r) {
      ++done;
      if (r) ++ok;
      else if (r.error().retryable) ++retryable;
      else ++permanent;
    });
  }
  REQUIRE(f.run_until([&] { return done >= 40; }));
  auto killed = run(f, *killer,
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = 'duroxide-pg-victim:query'");
  REQUIRE(killed);
  CHECK(killed->get_int64(0, 0) >= 1);
  REQUIRE(f.run_until([&] { return done == total; }));
  CHECK(permanent == 0);
  CHECK(retryable >= 1);
  CHECK(ok + retryable == total);
  // The pool replaces what it lost.
  for (int i = 0; i < 20; ++i) {
    auto r = run(f, *victim, "SELECT 1");
    CHECK(r);
  }
  close_pool(f, victim);
  close_pool(f, killer);
}

TEST_CASE("unreachable server: clear retryable error within the connect timeout") {
  LoopFixture f;
  pg::PoolOptions o;
  o.application_name = "duroxide-pg-test";
  o.connect_timeout = std::chrono::milliseconds(700);

  SUBCASE("refused port") { o.conninfo = "postgresql://u:pw-refused@127.0.0.1:1/db"; }
  // A listener whose backlog completes the TCP handshake but which never says a word: only the
  // connect timeout can end the attempt.
  uv_tcp_t mute;
  uv_tcp_init(&f.loop, &mute);
  sockaddr_in addr{};
  uv_ip4_addr("127.0.0.1", 0, &addr);
  REQUIRE(uv_tcp_bind(&mute, reinterpret_cast<const sockaddr*>(&addr), 0) == 0);
  REQUIRE(uv_listen(reinterpret_cast<uv_stream_t*>(&mute), 8, [](uv_stream_t*, int) {}) == 0);
  int namelen = sizeof addr;
  uv_tcp_getsockname(&mute, reinterpret_cast<sockaddr*>(&addr), &namelen);
  SUBCASE("server that never answers") {
    o.conninfo = "postgresql://u:pw-silent@127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/db";
  }
  auto pool = make_pool(f, o);
  const uint64_t t0 = f.now_ms();
  auto r = run(f, *pool, "SELECT 1");
  const uint64_t elapsed = f.now_ms() - t0;
  REQUIRE_FALSE(r);
  CHECK(r.error().retryable);
  CHECK(r.error().operation == "connect");
  CHECK(elapsed < 700 + 500);
  CHECK(r.error().message.find("pw-") == std::string::npos);
  if (o.conninfo.find("silent") != std::string::npos) {
    CHECK(elapsed >= 690);
    CHECK(r.error().message.find("timed out") != std::string::npos);
  }
  MESSAGE(r.error().to_string());
  close_pool(f, pool);
  uv_close(reinterpret_cast<uv_handle_t*>(&mute), nullptr);
}

TEST_CASE("host names are resolved off the loop thread; unknown names fail clearly") {
  LoopFixture f;
  auto fields = faults::conninfo_fields(database_url());
  fields.erase("hostaddr");
  auto with_host = [&](const char* host) {
    fields["host"] = host;
    return faults::to_conninfo(fields);
  };
  SUBCASE("localhost") {
    auto o = pool_options();
    o.conninfo = with_host("localhost");
    auto pool = make_pool(f, o);
    auto r = run(f, *pool, "SELECT inet_server_addr() IS NOT NULL");
    REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
    close_pool(f, pool);
  }
  SUBCASE("unresolvable") {
    auto o = pool_options();
    o.connect_timeout = std::chrono::milliseconds(3000);
    o.conninfo = with_host("no-such-host.invalid");
    auto pool = make_pool(f, o);
    auto r = run(f, *pool, "SELECT 1");
    REQUIRE_FALSE(r);
    CHECK(r.error().retryable);
    CHECK(r.error().message.find("no-such-host.invalid") != std::string::npos);
    MESSAGE(r.error().to_string());
    close_pool(f, pool);
  }
}

TEST_CASE("wrong password: permanent authentication error without the password") {
  LoopFixture f;
  auto fields = faults::conninfo_fields(database_url());
  const std::string wrong = "wr0ng-Pa55word";
  fields["password"] = wrong;
  auto o = pool_options();
  o.conninfo = faults::to_conninfo(fields);
  auto pool = make_pool(f, o);
  auto r = run(f, *pool, "SELECT 1");
  REQUIRE_FALSE(r);
  CHECK(r.error().sqlstate == "28P01");
  CHECK_FALSE(r.error().retryable);
  CHECK(r.error().message.find("password authentication failed") != std::string::npos);
  CHECK(r.error().message.find(wrong) == std::string::npos);
  close_pool(f, pool);
}

TEST_CASE("credential hook supplies the password per connection; its errors are reported") {
  LoopFixture f;
  auto fields = faults::conninfo_fields(database_url());
  const std::string password = fields["password"];
  fields.erase("password");
  auto o = pool_options();
  o.conninfo = faults::to_conninfo(fields);  // no password in the connection string
  int calls = 0;
  SUBCASE("good token") {
    o.credential = [&](pg::CredentialCallback cb) {
      ++calls;
      cb(password);
    };
    auto pool = make_pool(f, o);
    auto r = run(f, *pool, "SELECT current_user");
    REQUIRE(r);
    CHECK(calls == 1);
    close_pool(f, pool);
  }
  SUBCASE("source failure") {
    o.credential = [&](pg::CredentialCallback cb) {
      ++calls;
      cb(std::unexpected(retryable_error("token", "identity endpoint unavailable")));
    };
    auto pool = make_pool(f, o);
    // The source answers synchronously with an error: the pool must still complete the query on a
    // later loop turn, never inside query().
    std::optional<Result<pg::QueryResult>> out;
    bool inside = true, called_inside = false;
    pool->query("SELECT 1", {}, [&](Result<pg::QueryResult> res) {
      called_inside = inside;
      out = std::move(res);
    });
    inside = false;
    REQUIRE(f.run_until([&] { return out.has_value(); }));
    CHECK_FALSE(called_inside);
    auto& r = *out;
    REQUIRE_FALSE(r);
    CHECK(r.error().retryable);
    CHECK(r.error().message.find("identity endpoint unavailable") != std::string::npos);
    close_pool(f, pool);
  }
}

TEST_CASE("LISTEN/NOTIFY: notifications reach the listener, including odd channel names") {
  LoopFixture f;
  auto pool = make_pool(f, pool_options());
  std::vector<std::pair<std::string, std::string>> got;
  int subscribed = 0;
  pg::Listener::Callbacks cbs;
  cbs.on_notify = [&](std::string_view ch, std::string_view payload) { got.emplace_back(ch, payload); };
  cbs.on_subscribed = [&] { ++subscribed; };
  auto l = pg::Listener::create(&f.loop, pool_options(), cbs);
  REQUIRE(l);
  const std::string odd = "Odd \"chan\"; DROP TABLE x";
  (*l)->listen("plain_chan");
  (*l)->listen(odd);
  REQUIRE(f.run_until([&] { return subscribed == 1; }));
  REQUIRE(run(f, *pool, "SELECT pg_notify($1, $2)", Params().add("plain_chan").add("p1")));
  REQUIRE(run(f, *pool, "SELECT pg_notify($1, $2)", Params().add(odd).add("p2")));
  REQUIRE(f.run_until([&] { return got.size() == 2; }));
  CHECK(got[0] == std::pair<std::string, std::string>{"plain_chan", "p1"});
  CHECK(got[1] == std::pair<std::string, std::string>{odd, "p2"});

  // Losing the listening connection: it reconnects, re-subscribes and says so.
  auto killer = make_pool(f, pool_options("duroxide-pg-killer"));
  REQUIRE(run(f, *killer, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE application_name = 'duroxide-pg-test:listen'"));
  REQUIRE(f.run_until([&] { return subscribed == 2; }));
  REQUIRE(run(f, *pool, "SELECT pg_notify($1, $2)", Params().add("plain_chan").add("p3")));
  REQUIRE(f.run_until([&] { return got.size() == 3; }));
  CHECK(got[2].second == "p3");

  bool closed = false;
  (*l)->close([&] { closed = true; });
  REQUIRE(f.run_until([&] { return closed; }));
  l->reset();
  close_pool(f, killer);
  close_pool(f, pool);
}

TEST_CASE("pool exhaustion: waiting longer than acquire_timeout fails retryable") {
  LoopFixture f;
  auto o = pool_options();
  o.max_size = 1;
  o.pipeline_depth = 1;
  o.acquire_timeout = std::chrono::milliseconds(200);
  auto pool = make_pool(f, o);
  std::optional<Result<QueryResult>> slow, starved;
  pool->query("SELECT pg_sleep(1.5)", {}, [&](Result<QueryResult> r) { slow = std::move(r); });
  REQUIRE(f.run_until([&] { return pool->stats().in_flight == 1; }));
  const uint64_t t0 = f.now_ms();
  pool->query("SELECT 1", {}, [&](Result<QueryResult> r) { starved = std::move(r); });
  REQUIRE(f.run_until([&] { return starved.has_value(); }));
  const uint64_t waited = f.now_ms() - t0;
  REQUIRE_FALSE(*starved);
  CHECK(starved->error().retryable);
  CHECK(starved->error().operation == "acquire");
  CHECK(waited >= 190);
  CHECK(waited < 1200);
  REQUIRE(f.run_until([&] { return slow.has_value(); }));
  CHECK(*slow);
  close_pool(f, pool);
}

TEST_CASE("shutdown with queries in flight and queued: every callback exactly once") {
  LoopFixture f;
  auto o = pool_options();
  o.max_size = 2;
  o.pipeline_depth = 4;
  auto pool = make_pool(f, o);
  std::vector<int> calls(300, 0);
  int ok = 0, retryable = 0, permanent = 0;
  for (int i = 0; i < 300; ++i)
    pool->query("SELECT pg_sleep(0.01)", {}, [&, i](Result<QueryResult> r) {
      ++calls[i];
      if (r) ++ok;
      else if (r.error().retryable) ++retryable;
      else ++permanent;
    });
  REQUIRE(f.run_until([&] { return ok >= 5; }));
  bool closed = false;
  pool->close([&] { closed = true; });
  std::optional<Result<QueryResult>> late;
  pool->query("SELECT 1", {}, [&](Result<QueryResult> r) { late = std::move(r); });
  CHECK_FALSE(late.has_value());  // never completed inside the call
  REQUIRE(f.run_until([&] { return closed; }));
  for (int i = 0; i < 300; ++i) REQUIRE(calls[i] == 1);
  CHECK(permanent == 0);
  CHECK(ok + retryable == 300);
  REQUIRE(late.has_value());
  REQUIRE_FALSE(*late);
  CHECK_FALSE(late->error().retryable);  // a call after close is a permanent error
  pool.reset();
}

TEST_CASE("server timeouts: 0 is sent and disables the limit, nullopt keeps the session default") {
  LoopFixture f;
  auto o = pool_options();
  // Session defaults from the connection string's own options, as a role or database setting would give.
  auto fields = faults::conninfo_fields(database_url());
  fields["options"] = "-c statement_timeout=5000 -c lock_timeout=7000";
  o.conninfo = faults::to_conninfo(fields);
  o.statement_timeout = std::chrono::milliseconds(0);
  o.lock_timeout = std::nullopt;
  o.idle_in_transaction_timeout = std::chrono::milliseconds(1234);
  auto pool = make_pool(f, o);
  auto show = [&](const char* name) {
    auto r = run(f, *pool, std::string("SELECT current_setting('") + name + "')");
    REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
    return std::string(r->get(0, 0));
  };
  CHECK(show("statement_timeout") == "0");
  CHECK(show("lock_timeout") == "7s");
  CHECK(show("idle_in_transaction_session_timeout") == "1234ms");
  close_pool(f, pool);
}

TEST_CASE("idle connections close after idle_timeout, down to one; leased ones stay") {
  LoopFixture f;
  auto o = pool_options("duroxide-pg-idle");
  o.max_size = 4;
  o.pipeline_depth = 1;
  auto server_sessions = [&](pg::Pool& observer) {
    // (pg_sleep paces the polling loop of the caller)
    auto r = run(f, observer,
                 "SELECT count(*) FROM pg_stat_activity, pg_sleep(0.01) "
                 "WHERE application_name = 'duroxide-pg-idle:query'");
    REQUIRE(r);
    return r->get_int64(0, 0);
  };
  auto observer = make_pool(f, pool_options("duroxide-pg-idle-observer"));

  SUBCASE("a burst opens four connections; three close once idle, and the pool still works") {
    o.idle_timeout = std::chrono::milliseconds(300);
    auto pool = make_pool(f, o);
    std::set<int64_t> pids;
    int done = 0;
    for (int i = 0; i < 4; ++i)
      pool->query("SELECT pg_backend_pid() FROM pg_sleep(0.2)", {}, [&](Result<QueryResult> r) {
        REQUIRE(r);
        pids.insert(r->get_int64(0, 0));
        ++done;
      });
    REQUIRE(f.run_until([&] { return done == 4; }));
    const uint64_t idle_from = f.now_ms();
    CHECK(pids.size() == 4);
    CHECK(pool->stats().connections == 4);
    REQUIRE(f.run_until([&] { return pool->stats().connections == 1; }, std::chrono::seconds(5)));
    const uint64_t waited = f.now_ms() - idle_from;
    CHECK(waited >= 290);   // not before idle_timeout ...
    CHECK(waited < 2000);   // ... and within 1.5 x idle_timeout (plus scheduling slack)
    const auto st = pool->stats();
    CHECK(st.idle_closed == 3);
    CHECK(st.connections_lost == 0);
    CHECK(st.connect_failures == 0);
    // The server sees the sessions end (the backends exit asynchronously after the terminate).
    int64_t sessions = -1;
    for (const uint64_t until = f.now_ms() + 5000; sessions != 1 && f.now_ms() < until;)
      sessions = server_sessions(*observer);
    CHECK(sessions == 1);
    auto r = run(f, *pool, "SELECT 7");
    REQUIRE(r);
    CHECK(r->get_int64(0, 0) == 7);
    close_pool(f, pool);
  }

  SUBCASE("a leased connection is never closed for idleness") {
    o.idle_timeout = std::chrono::milliseconds(200);
    o.max_size = 2;
    auto pool = make_pool(f, o);
    std::optional<Result<pg::Lease>> lease;
    pool->acquire([&](Result<pg::Lease> l) { lease = std::move(l); });
    REQUIRE(f.run_until([&] { return lease.has_value(); }));
    REQUIRE(*lease);
    REQUIRE(run(f, *pool, "SELECT 1"));  // opens a second connection: the first is leased
    CHECK(pool->stats().connections == 2);
    REQUIRE(f.run_until([&] { return pool->stats().idle_closed == 1; }, std::chrono::seconds(5)));
    REQUIRE(f.run_until([&] { return pool->stats().connections == 1; }));
    // Nobody waits, so nothing reopens the closed connection (no open/close churn every period).
    CHECK_FALSE(f.run_until([&] { return pool->stats().connections > 1; }, std::chrono::milliseconds(600)));
    CHECK(pool->stats().connects == 2);
    std::optional<Result<QueryResult>> on_lease;
    (*lease)->query("SELECT 8", {}, [&](Result<QueryResult> r) { on_lease = std::move(r); });
    REQUIRE(f.run_until([&] { return on_lease.has_value(); }));
    REQUIRE(*on_lease);
    CHECK((*on_lease)->get_int64(0, 0) == 8);
    (*lease)->release();
    CHECK(pool->stats().connections == 1);
    close_pool(f, pool);
  }

  SUBCASE("idle_timeout 0 keeps every connection") {
    o.idle_timeout = std::chrono::milliseconds(0);
    auto pool = make_pool(f, o);
    int done = 0;
    for (int i = 0; i < 4; ++i)
      pool->query("SELECT pg_sleep(0.1)", {}, [&](Result<QueryResult> r) {
        REQUIRE(r);
        ++done;
      });
    REQUIRE(f.run_until([&] { return done == 4; }));
    // Absence can only be checked over a span: three times the shortest timeout used above.
    CHECK_FALSE(f.run_until([&] { return pool->stats().connections < 4; }, std::chrono::milliseconds(600)));
    CHECK(pool->stats().idle_closed == 0);
    close_pool(f, pool);
  }
  close_pool(f, observer);
}
