// WireCut without sockets: synthetic protocol streams, fed whole and split at every byte, must
// cut exactly where the plan says.
#include <doctest/doctest.h>

#include "faults/wire_cut.h"

using namespace duroxide::test::faults;

namespace {

// Feeds `bytes` in pieces of `step` bytes (0: all at once) and concatenates the actions.
template <class Feed>
Actions feed(Feed&& f, const std::string& bytes, size_t step) {
  Actions all;
  if (step == 0) step = bytes.size() ? bytes.size() : 1;
  for (size_t i = 0; i < bytes.size(); i += step) {
    Actions a = f(std::string_view(bytes).substr(i, step));
    all.to_server += a.to_server;
    all.to_client += a.to_client;
    all.close = all.close || a.close;
  }
  return all;
}

// A connection that has authenticated: the startup packet went through and the server's
// ReadyForQuery after authentication reached the client.
void handshake(WireCut& cut, size_t step) {
  const std::string hello = wire::ssl_request() + wire::startup("u", "db");
  Actions a = feed([&](std::string_view b) { return cut.from_client(b); }, hello, step);
  CHECK(a.to_client == "N");
  CHECK(a.to_server == wire::startup("u", "db"));
  const std::string ready = wire::auth_ok() + wire::ready_for_query();
  Actions b = feed([&](std::string_view s) { return cut.from_server(s); }, ready, step);
  CHECK(b.to_client == ready);
  CHECK_FALSE(b.close);
}

}  // namespace

TEST_CASE("wire_cut: unarmed traffic passes through unchanged") {
  for (size_t step : {size_t{0}, size_t{1}, size_t{3}}) {
    CAPTURE(step);
    auto plan = std::make_shared<FaultPlan>();
    WireCut cut(plan);
    handshake(cut, step);
    const std::string c = wire::parse("dx_ack_work", "SELECT 1") + wire::bind("", "dx_ack_work") + wire::execute() +
                          wire::sync() + wire::query("SELECT 2");
    Actions a = feed([&](std::string_view b) { return cut.from_client(b); }, c, step);
    CHECK(a.to_server == c);
    CHECK_FALSE(a.close);
    const std::string s = wire::command_complete("SELECT 1") + wire::ready_for_query() +
                          wire::command_complete("SELECT 1") + wire::ready_for_query();
    Actions b = feed([&](std::string_view x) { return cut.from_server(x); }, s, step);
    CHECK(b.to_client == s);
    CHECK_FALSE(plan->bind_seen);
  }
}

TEST_CASE("wire_cut: before-bind cuts at the trigger and forwards what preceded it") {
  for (size_t step : {size_t{0}, size_t{1}, size_t{7}}) {
    CAPTURE(step);
    auto plan = std::make_shared<FaultPlan>();
    plan->arm({"dx_ack_orch", "dx_ack_orch_async"}, CutPoint::kBeforeBind);
    WireCut cut(plan);
    handshake(cut, step);
    const std::string before = wire::bind("", "dx_fetch") + wire::execute() + wire::sync() +
                               wire::parse("dx_ack_orch_async", "SELECT 1");
    const std::string c = before + wire::bind("", "dx_ack_orch_async") + wire::execute() + wire::sync();
    Actions a = feed([&](std::string_view b) { return cut.from_client(b); }, c, step);
    CHECK(a.to_server == before);
    CHECK(a.close);
    CHECK(cut.closed());
    CHECK(plan->bind_seen);
    CHECK(plan->cut);
    CHECK_FALSE(plan->armed);
    CHECK(cut.from_server(wire::ready_for_query()).to_client.empty());  // nothing after the cut
  }
}

TEST_CASE("wire_cut: after-commit withholds the statement's reply and cuts at its ReadyForQuery") {
  for (size_t step : {size_t{0}, size_t{1}, size_t{5}}) {
    CAPTURE(step);
    auto plan = std::make_shared<FaultPlan>();
    plan->arm({"dx_ack_work"}, CutPoint::kAfterCommit);
    WireCut cut(plan);
    handshake(cut, step);
    // One earlier statement still unanswered, then the ack, then one more behind it.
    const std::string c = wire::bind("", "dx_read") + wire::execute() + wire::sync() + wire::bind("", "dx_ack_work") +
                          wire::execute() + wire::sync() + wire::bind("", "dx_read") + wire::execute() + wire::sync();
    Actions a = feed([&](std::string_view b) { return cut.from_client(b); }, c, step);
    CHECK(a.to_server == c);  // the ack must reach the server
    CHECK_FALSE(a.close);
    CHECK(plan->bind_seen);

    const std::string earlier = wire::command_complete("SELECT 1") + wire::ready_for_query();
    const std::string ack_reply = wire::command_complete("SELECT 1");
    Actions b = feed([&](std::string_view s) { return cut.from_server(s); }, earlier + ack_reply, step);
    CHECK(b.to_client == earlier);  // the earlier reply is delivered, the ack's is not
    CHECK_FALSE(b.close);
    CHECK_FALSE(plan->commit_seen);

    Actions z = feed([&](std::string_view s) { return cut.from_server(s); },
                     wire::ready_for_query() + wire::command_complete("SELECT 1"), step);
    CHECK(z.to_client.empty());
    CHECK(z.close);
    CHECK(plan->commit_seen);
    CHECK(plan->cut);
    CHECK_FALSE(plan->server_error);
  }
}

TEST_CASE("wire_cut: an error reply means no commit") {
  auto plan = std::make_shared<FaultPlan>();
  plan->arm({"dx_ack_work"}, CutPoint::kAfterCommit);
  WireCut cut(plan);
  handshake(cut, 0);
  cut.from_client(wire::bind("", "dx_ack_work") + wire::execute() + wire::sync());
  Actions b = cut.from_server(wire::typed('E', "SQD001") + wire::ready_for_query());
  CHECK(b.close);
  CHECK(b.to_client.empty());
  CHECK(plan->server_error);
  CHECK_FALSE(plan->commit_seen);
}

TEST_CASE("wire_cut: the plan fires on one connection only") {
  auto plan = std::make_shared<FaultPlan>();
  plan->arm({"dx_ack_work"}, CutPoint::kBeforeBind);
  WireCut first(plan), second(plan);
  handshake(first, 0);
  handshake(second, 0);
  const std::string c = wire::bind("", "dx_ack_work") + wire::execute() + wire::sync();
  CHECK(first.from_client(c).close);
  Actions a = second.from_client(c);
  CHECK_FALSE(a.close);
  CHECK(a.to_server == c);
}

TEST_CASE("wire_cut: a simple Query counts as a ReadyForQuery owed") {
  auto plan = std::make_shared<FaultPlan>();
  plan->arm({"dx_ack_work"}, CutPoint::kAfterCommit);
  WireCut cut(plan);
  handshake(cut, 0);
  cut.from_client(wire::query("SET x = 1") + wire::bind("", "dx_ack_work") + wire::execute() + wire::sync());
  Actions a = cut.from_server(wire::command_complete("SET") + wire::ready_for_query());
  CHECK(a.to_client == wire::command_complete("SET") + wire::ready_for_query());
  CHECK_FALSE(a.close);
  CHECK(cut.from_server(wire::ready_for_query()).close);
}

TEST_CASE("wire_cut: an impossible length closes the connection") {
  auto plan = std::make_shared<FaultPlan>();
  WireCut cut(plan);
  handshake(cut, 0);
  std::string bad = wire::sync();
  bad[4] = 2;  // length 2 < 4
  CHECK(cut.from_client(bad).close);
}
