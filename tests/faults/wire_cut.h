// The decision half of the fault-injecting proxy (tests/faults/tcp_proxy.h), without sockets: it
// reads just enough of the PostgreSQL v3 protocol to find the client's Bind of a chosen prepared
// statement and to cut the connection at one of two instants around that statement's commit.
//
// Framing (PostgreSQL protocol §55.7): the client first sends an untyped packet (int32 length
// including itself, int32 code). SSLRequest and GSSENCRequest are answered 'N' here, so the
// client continues in plain text and the server never sees them. Every later message in both
// directions is one type byte plus an int32 length that counts itself but not the type byte.
//
// Counting commits: the server answers every Sync and every simple Query with exactly one
// ReadyForQuery ('Z'), in order, and one more after authentication. An extended-protocol
// statement outside an explicit transaction commits when its Sync is processed, before that
// ReadyForQuery is sent; so the ReadyForQuery whose ordinal equals "ReadyForQuery messages owed
// when the Bind was seen, plus one" proves the statement's transaction committed.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace duroxide::test::faults {

enum class CutPoint {
  // The Bind is never forwarded: the server does not execute the statement.
  kBeforeBind,
  // The Bind and its Sync reach the server; every server byte after the previous ReadyForQuery
  // is withheld, and once the ReadyForQuery of the statement's own Sync arrives (the commit has
  // happened) both sides are closed. The client sees its connection die with no reply.
  kAfterCommit,
};

// One fault, shared by every connection of a proxy; it fires at most once.
struct FaultPlan {
  std::vector<std::string> statements;  // prepared statement names whose Bind triggers the cut
  CutPoint point = CutPoint::kAfterCommit;
  bool armed = false;
  // Observations for the test:
  bool bind_seen = false;       // the trigger fired on some connection
  bool commit_seen = false;     // kAfterCommit: the statement's ReadyForQuery arrived and was withheld
  bool server_error = false;    // kAfterCommit: an ErrorResponse came back for it (no commit)
  bool cut = false;             // the connection was closed by the fault

  void arm(std::vector<std::string> names, CutPoint at) {
    statements = std::move(names);
    point = at;
    armed = true;
    bind_seen = commit_seen = server_error = cut = false;
  }
};

// What the transport must do after feeding bytes: write these (in this order, before closing),
// then close both sockets if `close` is set.
struct Actions {
  std::string to_server;
  std::string to_client;
  bool close = false;
};

// Reassembles complete messages from a byte stream split anywhere.
class Framer {
 public:
  void feed(std::string_view bytes) { buf_.append(bytes); }
  // The next complete message (type byte and length included; for the untyped startup packet,
  // the whole packet), or an empty string when more bytes are needed.
  std::string next(bool untyped);
  // A length field that cannot be valid (negative or smaller than itself).
  bool broken() const { return broken_; }

 private:
  std::string buf_;
  size_t off_ = 0;
  bool broken_ = false;
};

// One proxied connection.
class WireCut {
 public:
  explicit WireCut(std::shared_ptr<FaultPlan> plan) : plan_(std::move(plan)) {}

  Actions from_client(std::string_view bytes);
  Actions from_server(std::string_view bytes);
  bool closed() const { return closed_; }

 private:
  void on_client_message(const std::string& m, Actions& out);
  // True when `m` is a Bind of one of the plan's statements.
  bool is_trigger(const std::string& m) const;

  std::shared_ptr<FaultPlan> plan_;
  Framer client_, server_;
  bool started_ = false;      // the startup packet was forwarded; typed messages follow
  bool closed_ = false;
  uint64_t owed_rfq_ = 1;     // ReadyForQuery messages the server will have sent (authentication's)
  uint64_t seen_rfq_ = 0;     // ReadyForQuery messages received from the server
  bool watching_ = false;     // kAfterCommit fired on this connection
  uint64_t hold_after_ = 0;   // forward server messages only while seen_rfq_ < this
  uint64_t cut_at_ = 0;       // close once seen_rfq_ reaches this
};

// Builders for protocol messages, used by the unit tests and nothing else.
namespace wire {
std::string startup(std::string_view user, std::string_view database);
std::string ssl_request();
std::string typed(char type, std::string_view body);
std::string parse(std::string_view statement, std::string_view sql);
std::string bind(std::string_view portal, std::string_view statement);
std::string execute();
std::string sync();
std::string query(std::string_view sql);
std::string ready_for_query(char status = 'I');
std::string auth_ok();
std::string command_complete(std::string_view tag);
}  // namespace wire

}  // namespace duroxide::test::faults
