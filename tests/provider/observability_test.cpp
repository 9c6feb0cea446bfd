// The provider's logger and metrics snapshot (issue 8 §6): counts, error classes, latency
// histograms, pool and long-poll state, and log lines that never carry a secret.
#include <doctest/doctest.h>

#include "faults/db_url.h"
#include "support/conformance_fixtures.h"

using namespace duroxide;
using namespace duroxide::test;
using pg::LatencyHistogram;
using pg::LogLevel;

namespace {

struct Captured {
  std::vector<std::pair<LogLevel, std::string>> lines;
  bool has(LogLevel level, std::string_view text) const {
    for (const auto& [l, m] : lines)
      if (l == level && m.find(text) != std::string::npos) return true;
    return false;
  }
};

const pg::OperationMetrics* find_op(const pg::ProviderMetrics& m, std::string_view name) {
  for (const auto& op : m.operations)
    if (op.operation == name) return &op;
  return nullptr;
}

// Options whose logger records every line at or above `level` into `captured`.
PostgresProviderOptions logging_to(std::shared_ptr<Captured> captured, LogLevel level) {
  PostgresProviderOptions o;
  o.logger = [captured](LogLevel l, std::string_view m) { captured->lines.emplace_back(l, std::string(m)); };
  o.log_level = level;
  return o;
}

}  // namespace

TEST_CASE("latency histogram: power-of-two buckets and quantiles") {
  LatencyHistogram h;
  CHECK(h.quantile_us(0.5) == 0);
  h.record(0);     // bucket 0: < 1 µs
  h.record(1);     // bucket 1: [1, 2)
  h.record(3);     // bucket 2: [2, 4)
  h.record(1000);  // bucket 10: [512, 1024)
  CHECK(h.counts[0] == 1);
  CHECK(h.counts[1] == 1);
  CHECK(h.counts[2] == 1);
  CHECK(h.counts[10] == 1);
  CHECK(h.total() == 4);
  CHECK(h.quantile_us(0.25) == 1);
  CHECK(h.quantile_us(0.5) == 2);
  CHECK(h.quantile_us(1.0) == 1024);
  h.record(~0ull);  // anything huge lands in the last bucket
  CHECK(h.counts[31] == 1);
}

TEST_CASE("metrics count every operation with its outcome, and the logger hears create and connection loss") {
  LoopFixture f;
  auto captured = std::make_shared<Captured>();
  Store s = create_provider(f, logging_to(captured, LogLevel::kInfo));
  CHECK(captured->has(LogLevel::kInfo, "at version"));

  const std::string inst = "obs-1";
  create_instance(s, inst);  // one enqueue, one fetch, one ack
  auto bad = AO(s, "00000000-0000-4000-8000-000000000000", 1, AckArgs{});
  REQUIRE_FALSE(bad);
  CHECK_FALSE(bad.error().retryable);

  pg::ProviderMetrics m = s->metrics();
  const auto* enq = find_op(m, "enqueue_for_orchestrator");
  REQUIRE(enq != nullptr);
  CHECK(enq->calls == 1);
  CHECK(enq->ok == 1);
  CHECK(enq->latency.total() == 1);
  const auto* ack = find_op(m, "ack_orchestration_item");
  REQUIRE(ack != nullptr);
  CHECK(ack->calls == 2);
  CHECK(ack->ok == 1);
  CHECK(ack->permanent_errors == 1);
  CHECK(ack->retryable_errors == 0);
  uint64_t errors = 0;
  for (const auto& [cls, n] : m.errors_by_sqlstate_class) errors += n;
  CHECK(errors == 1);
  CHECK(find_op(m, "read") == nullptr);  // never called
  CHECK(m.pool.connections >= 1);
  CHECK(m.pool.connects >= 1);
  CHECK(m.pool.connections_lost == 0);
  CHECK(m.long_poll_scans >= 1);
  CHECK_FALSE(pg::to_string(m).empty());

  // Kill the pool's connections: the next operation sees a lost connection (or reconnects), and
  // the loss is counted and logged.
  REQUIRE(s.terminate_backends_and_wait("query") >= 1);
  for (int i = 0; i < 5; ++i) (void)READ(s, inst);  // the first may fail retryably; later ones reconnect
  REQUIRE(READ(s, inst));
  m = s->metrics();
  CHECK(m.pool.connections_lost >= 1);
  CHECK(captured->has(LogLevel::kWarn, "pool: connection lost"));

  const std::string password = faults::url_password(database_url());
  if (!password.empty())
    for (const auto& [l, line] : captured->lines) CHECK_MESSAGE(line.find(password) == std::string::npos, line);
}

TEST_CASE("without a logger nothing is logged, and a level filters lower ones") {
  LoopFixture f;
  auto captured = std::make_shared<Captured>();
  Store s = create_provider(f, logging_to(captured, LogLevel::kWarn));
  REQUIRE(EO(s, start_item("obs-2")));
  for (const auto& [l, line] : captured->lines) CHECK_MESSAGE(l >= LogLevel::kWarn, line);
  CHECK_FALSE(captured->has(LogLevel::kInfo, "at version"));
}
