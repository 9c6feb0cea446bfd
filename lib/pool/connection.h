// One PostgreSQL connection driven by a libuv loop: nonblocking connect (PQconnectPoll), then
// libpq pipeline mode with one Sync per query. Owned by a Pool or a Listener through the
// ConnectionOwner interface.
//
// Lifetime: create with `new`, call connect(), and later close(); the object reports
// connection_closed() once every libuv handle it owns has been closed, and only then may the
// owner delete it. All methods must be called on the loop thread.
#pragma once

#include <libpq-fe.h>
#include <uv.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "pool/conninfo.h"
#include "pool/pipeline.h"
#include "pool/query.h"

namespace duroxide::pg {

class Connection;

using CredentialCallback = std::move_only_function<void(Result<std::string>)>;
// Supplies the password for each new connection, possibly asynchronously (an access token). It is
// called on the loop thread and must call its callback exactly once, on the loop thread (calling
// it synchronously is allowed: the connection defers what follows).
using CredentialSource = std::function<void(CredentialCallback)>;

struct StatementDef {
  std::string name;
  std::string sql;
};

class ConnectionOwner {
 public:
  // The connection is established and accepts queries.
  virtual void connection_ready(Connection& c) = 0;
  // A query completed, so the connection has room for another.
  virtual void connection_has_room(Connection& c) = 0;
  // Connect failed or the established connection broke. Every query it held has already been
  // completed with a retryable error. The owner must call close() (now or later).
  virtual void connection_failed(Connection& c, const ProviderError& why) = 0;
  // Every handle is closed; the owner may delete the object now.
  virtual void connection_closed(Connection& c) = 0;
  virtual void connection_notification(Connection&, std::string_view /*channel*/,
                                       std::string_view /*payload*/) {}

 protected:
  ~ConnectionOwner() = default;
};

class Connection {
 public:
  enum class State : uint8_t { kIdle, kConnecting, kReady, kFailed, kClosing, kClosed };

  struct Options {
    std::chrono::milliseconds connect_timeout{10000};
    bool token_auth = false;  // password is a rotating token: auth failures are retryable
  };

  Connection(uv_loop_t* loop, ConnectionOwner& owner, const std::vector<StatementDef>* statements,
             Options options);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Starts connecting. Completion is reported through connection_ready / connection_failed,
  // never from inside this call. `info` is copied before it returns. With a `credential` (only
  // read during this call) the password is fetched first and set on the copy; a credential error
  // is a failed connect reported on a later loop turn. The connect timeout covers the fetch.
  void connect(const ConnInfo& info, const CredentialSource* credential = nullptr);

  // Sends one query (ready state only). The callback runs exactly once: with the result, with the
  // server's error, with a retryable error if the connection breaks, or at close().
  void submit(QueryRequest&& q);

  // Runs a multi-statement SQL script with the simple query protocol (no parameters), e.g. a
  // migration. Only on a connection with nothing in flight (a Lease guarantees it): the connection
  // leaves pipeline mode for the script and re-enters it afterwards. The callback receives the last
  // statement's result, or the first error (the server then skipped the rest, and an implicit
  // transaction around the script was rolled back).
  void submit_script(std::string sql, QueryCallback cb);

  // Completes queued queries with `why` (retryable), closes the socket and every handle.
  void close(const ProviderError& why);

  State state() const { return state_; }
  size_t in_flight() const { return pending_.size() + (script_active_ ? 1 : 0); }
  PGconn* raw() const { return conn_; }
  // The password this connection logged in with (or tried to), for the owner's auth-failure hook.
  std::string_view password() const {
    const std::string* p = secrets_.get("password");
    return p ? std::string_view(*p) : std::string_view{};
  }
  // Opaque user tag for the owner (e.g. the pool's slot index).
  uint64_t tag = 0;

 private:
  struct Pending {
    uint64_t id;
    QueryRequest request;
    QueryResult kept;
    bool has_error = false;
    bool resent = false;
    uint8_t commands = 1;       // 2 when a Prepare was sent ahead of the query
    int8_t failed_command = -1;
  };

  void watch(int events);
  void begin_connect();
  void defer_failure(ProviderError why);
  void start_libpq(const ConnInfo& info);
  void on_resolved(int status, addrinfo* res);
  void on_poll(int status, int events);
  void continue_connect();
  void on_connected();
  void fail(const ProviderError& why);
  void flush();
  void read_input();
  void drain_results();
  void drain_script();
  void drain_notifications();
  void complete_front();
  bool send(Pending& p);
  void fail_pending(const ProviderError& why);
  void maybe_closed();

  static void poll_cb(uv_poll_t* h, int status, int events);
  static void timer_cb(uv_timer_t* h);
  static void poll_close_cb(uv_handle_t* h);
  static void timer_close_cb(uv_handle_t* h);

  uv_loop_t* loop_;
  ConnectionOwner& owner_;
  const std::vector<StatementDef>* statements_;
  Options options_;
  State state_ = State::kIdle;
  PGconn* conn_ = nullptr;
  uv_poll_t* poll_ = nullptr;  // heap-allocated: replaced when libpq switches sockets
  int poll_fd_ = -1;
  int poll_events_ = 0;
  uv_timer_t timer_;
  bool timer_open_ = false;
  int open_handles_ = 0;
  bool want_write_ = false;
  PostgresPollingStatusType connect_status_ = PGRES_POLLING_WRITING;
  std::string describe_;  // "host:port/db as user" for messages
  ConnInfo secrets_;      // only for scrubbing messages
  PipelineBook book_;
  std::deque<Pending> pending_;
  std::vector<bool> prepared_;
  std::vector<const char*> scratch_;
  bool script_active_ = false;  // a simple-protocol script is running (pipeline mode is off)
  QueryCallback script_cb_;
  QueryResult script_result_;
  bool script_error_ = false;
  uint64_t next_id_ = 1;
  bool deferred_failure_ = false;
  uv_getaddrinfo_t dns_{};
  bool dns_pending_ = false;  // counted in open_handles_ until its callback ran
  ProviderError deferred_error_;
  bool awaiting_credential_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // guards late credential replies
};

}  // namespace duroxide::pg
