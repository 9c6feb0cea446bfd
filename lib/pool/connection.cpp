#include "pool/connection.h"

#include <arpa/inet.h>

#include <algorithm>
#include <utility>

#include "pool/pg_error.h"

namespace duroxide::pg {
namespace {

PipelineBook::Input classify(const PGresult* r) {
  if (!r) return PipelineBook::Input::kEnd;
  switch (PQresultStatus(r)) {
    case PGRES_PIPELINE_SYNC: return PipelineBook::Input::kSync;
    case PGRES_PIPELINE_ABORTED: return PipelineBook::Input::kAborted;
    case PGRES_FATAL_ERROR:
    case PGRES_NONFATAL_ERROR:
    case PGRES_BAD_RESPONSE: return PipelineBook::Input::kError;
    default: return PipelineBook::Input::kResult;
  }
}

void ignore_notice(void*, const char*) {}

bool plan_is_stale(const std::string& sqlstate) {
  // 26000: the prepared statement is gone; 0A000: "cached plan must not change result type".
  return sqlstate == "26000" || sqlstate == "0A000";
}

}  // namespace

Connection::Connection(uv_loop_t* loop, ConnectionOwner& owner,
                       const std::vector<StatementDef>* statements, Options options)
    : loop_(loop), owner_(owner), statements_(statements), options_(options) {
  uv_timer_init(loop_, &timer_);
  timer_.data = this;
  open_handles_ = 1;
}

namespace {

// A single host name that libpq would resolve with a blocking getaddrinfo inside
// PQconnectStartParams. IP literals, socket directories and host lists are left to libpq.
bool needs_resolution(const ConnInfo& info) {
  const std::string* host = info.get("host");
  const std::string* hostaddr = info.get("hostaddr");
  if (!host || host->empty() || (hostaddr && !hostaddr->empty())) return false;
  if ((*host)[0] == '/' || (*host)[0] == '@' || host->find(',') != std::string::npos) return false;
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, host->c_str(), buf) != 1 && inet_pton(AF_INET6, host->c_str(), buf) != 1;
}

}  // namespace

void Connection::connect(const ConnInfo& info, const CredentialSource* credential) {
  describe_ = info.describe();
  secrets_ = info;
  state_ = State::kConnecting;
  if (!credential || !*credential) {
    begin_connect();
    return;
  }
  uv_timer_start(&timer_, timer_cb, static_cast<uint64_t>(options_.connect_timeout.count()), 0);
  awaiting_credential_ = true;
  std::weak_ptr<bool> alive = alive_;
  (*credential)([this, alive](Result<std::string> pw) {
    if (alive.expired() || !awaiting_credential_) return;
    awaiting_credential_ = false;
    if (state_ != State::kConnecting) return;  // timed out or closed meanwhile
    if (!pw) {
      // Possibly still inside connect(): report on a later turn, like every connect failure, so
      // an owner is never re-entered (a pool would otherwise fail waiters inside query()).
      ProviderError e = std::move(pw.error());
      e.operation = "connect";
      e.message = describe_ + ": credential: " + e.message;
      defer_failure(std::move(e));
      return;
    }
    secrets_.set("password", *pw);
    begin_connect();
  });
}

void Connection::defer_failure(ProviderError why) {
  deferred_failure_ = true;
  deferred_error_ = std::move(why);
  uv_timer_start(&timer_, timer_cb, 0, 0);
}

void Connection::begin_connect() {
  const ConnInfo& info = secrets_;
  if (needs_resolution(info)) {
    // Resolve on libuv's thread pool so the loop never blocks on DNS; the connect timeout covers it.
    if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&timer_)))
      uv_timer_start(&timer_, timer_cb, static_cast<uint64_t>(options_.connect_timeout.count()), 0);
    dns_pending_ = true;
    ++open_handles_;
    dns_.data = this;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    const int rc = uv_getaddrinfo(loop_, &dns_, [](uv_getaddrinfo_t* req, int status, addrinfo* res) {
      static_cast<Connection*>(req->data)->on_resolved(status, res);
    }, info.get("host")->c_str(), nullptr, &hints);
    if (rc != 0) {
      dns_pending_ = false;
      --open_handles_;
      defer_failure(retryable_error("connect", describe_ + ": cannot resolve host: " + uv_strerror(rc)));
    }
    return;
  }
  start_libpq(info);
}

void Connection::on_resolved(int status, addrinfo* res) {
  dns_pending_ = false;
  --open_handles_;
  std::string addr;
  if (status == 0) {
    char buf[INET6_ADDRSTRLEN] = {0};
    for (addrinfo* a = res; a && addr.empty(); a = a->ai_next) {
      if (a->ai_family == AF_INET)
        uv_ip4_name(reinterpret_cast<sockaddr_in*>(a->ai_addr), buf, sizeof buf), addr = buf;
      else if (a->ai_family == AF_INET6)
        uv_ip6_name(reinterpret_cast<sockaddr_in6*>(a->ai_addr), buf, sizeof buf), addr = buf;
    }
  }
  uv_freeaddrinfo(res);
  if (state_ == State::kClosing) return maybe_closed();
  if (state_ != State::kConnecting) return;
  if (addr.empty()) {
    fail(retryable_error("connect", describe_ + ": cannot resolve host: " +
                                        (status == 0 ? std::string("no address") : uv_strerror(status))));
    return;
  }
  // libpq connects to hostaddr and still uses host for TLS verification and messages.
  ConnInfo resolved = secrets_;
  resolved.set("hostaddr", addr);
  start_libpq(resolved);
}

void Connection::start_libpq(const ConnInfo& info) {
  ConnInfo::Arrays a = info.arrays();
  conn_ = PQconnectStartParams(a.keys.data(), a.values.data(), 0);
  if (conn_) {
    PQsetErrorVerbosity(conn_, PQERRORS_VERBOSE);
    PQsetNoticeProcessor(conn_, ignore_notice, nullptr);
  }
  if (!conn_ || PQstatus(conn_) == CONNECTION_BAD) {
    // Report on the next loop turn: an owner is never called back from inside connect().
    defer_failure(error_from_conn(conn_, "connect", describe_, options_.token_auth));
    return;
  }
  // After a resolution the timer already runs: the timeout covers DNS and connect together.
  if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&timer_)))
    uv_timer_start(&timer_, timer_cb, static_cast<uint64_t>(options_.connect_timeout.count()), 0);
  connect_status_ = PGRES_POLLING_WRITING;
  watch(UV_WRITABLE);
}

void Connection::watch(int events) {
  const int fd = conn_ ? PQsocket(conn_) : -1;
  if (fd != poll_fd_ && poll_) {
    // libpq moved to another socket (next host, SSL/GSS fallback): the old watcher must go
    // before a watcher for the new descriptor (which may reuse the number) is created.
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), poll_close_cb);
    poll_ = nullptr;
    poll_fd_ = -1;
    poll_events_ = 0;
  }
  if (fd < 0) return;
  if (!poll_) {
    poll_ = new uv_poll_t;
    if (int rc = uv_poll_init(loop_, poll_, fd); rc != 0) {
      delete poll_;
      poll_ = nullptr;
      fail(retryable_error("connect", describe_ + ": cannot watch socket: " + uv_strerror(rc)));
      return;
    }
    poll_->data = this;
    poll_fd_ = fd;
    ++open_handles_;
  }
  if (events != poll_events_) {
    poll_events_ = events;
    uv_poll_start(poll_, events, poll_cb);
  }
}

void Connection::poll_cb(uv_poll_t* h, int status, int events) {
  static_cast<Connection*>(h->data)->on_poll(status, events);
}

void Connection::on_poll(int status, int events) {
  if (status < 0 && state_ != State::kConnecting) {
    fail(retryable_error("query", describe_ + ": socket error: " + uv_strerror(status)));
    return;
  }
  if (state_ == State::kConnecting) {
    continue_connect();
    return;
  }
  if (state_ != State::kReady) return;
  if (events & UV_WRITABLE) flush();
  if (state_ == State::kReady && (events & UV_READABLE)) read_input();
}

void Connection::continue_connect() {
  connect_status_ = PQconnectPoll(conn_);
  switch (connect_status_) {
    case PGRES_POLLING_OK: on_connected(); return;
    case PGRES_POLLING_FAILED:
      fail(error_from_conn(conn_, "connect", describe_, options_.token_auth));
      return;
    case PGRES_POLLING_READING: watch(UV_READABLE); return;
    default: watch(UV_WRITABLE); return;
  }
}

void Connection::on_connected() {
  if (PQsetnonblocking(conn_, 1) != 0 || PQenterPipelineMode(conn_) != 1) {
    fail(error_from_conn(conn_, "connect", describe_, options_.token_auth));
    return;
  }
  uv_timer_stop(&timer_);
  state_ = State::kReady;
  watch(UV_READABLE);
  if (state_ == State::kReady) owner_.connection_ready(*this);
}

void Connection::timer_cb(uv_timer_t* h) {
  auto* self = static_cast<Connection*>(h->data);
  if (self->deferred_failure_) {
    self->deferred_failure_ = false;
    self->fail(self->deferred_error_);
  } else if (self->state_ == State::kConnecting) {
    self->fail(retryable_error(
        "connect", self->describe_ + ": connect timed out after " +
                       std::to_string(self->options_.connect_timeout.count()) + " ms"));
  }
}

void Connection::submit(QueryRequest&& q) {
  if (state_ != State::kReady || script_active_) {  // owners only submit to ready, pipelined
                                                    // connections; never lose a callback
    q.callback(std::unexpected(retryable_error("query", describe_ + ": connection not ready")));
    return;
  }
  pending_.push_back(Pending{next_id_++, std::move(q)});
  if (!send(pending_.back())) {
    fail(error_from_conn(conn_, "query", describe_, options_.token_auth));
    return;
  }
  flush();
}

void Connection::submit_script(std::string sql, QueryCallback cb) {
  if (state_ != State::kReady || !pending_.empty() || script_active_) {
    cb(std::unexpected(retryable_error("query", describe_ + ": connection busy; scripts need a lease")));
    return;
  }
  if (PQexitPipelineMode(conn_) != 1 || !PQsendQuery(conn_, sql.c_str())) {
    cb(std::unexpected(error_from_conn(conn_, "query", describe_, options_.token_auth)));
    return;
  }
  script_active_ = true;
  script_cb_ = std::move(cb);
  script_result_ = QueryResult();
  script_error_ = false;
  flush();
}

void Connection::drain_script() {
  while (state_ == State::kReady && script_active_ && !PQisBusy(conn_)) {
    PGresult* r = PQgetResult(conn_);
    if (r) {
      const bool is_error = classify(r) == PipelineBook::Input::kError;
      if (!script_error_) {
        script_result_ = QueryResult(r);
        script_error_ = is_error;
      } else {
        PQclear(r);
      }
      continue;
    }
    // NULL: the script is finished; back to pipeline mode before anyone else sends.
    script_active_ = false;
    QueryCallback cb = std::move(script_cb_);
    script_cb_ = nullptr;
    QueryResult res = std::move(script_result_);
    if (PQenterPipelineMode(conn_) != 1) {
      ProviderError e = error_from_conn(conn_, "query", describe_, options_.token_auth);
      cb(std::unexpected(e));
      fail(e);
      return;
    }
    if (script_error_) cb(std::unexpected(error_from_result(res.raw(), options_.token_auth)));
    else cb(std::move(res));
    if (state_ == State::kReady) owner_.connection_has_room(*this);
    return;
  }
}

bool Connection::send(Pending& p) {
  QueryRequest& q = p.request;
  const char* const* values = q.params.values(scratch_);
  const int result_format = q.binary_result ? 1 : 0;
  unsigned commands = 1;
  int ok;
  if (q.statement.valid()) {
    const uint32_t idx = q.statement.index;
    const StatementDef& def = (*statements_)[idx];
    if (prepared_.size() <= idx) prepared_.resize(statements_->size());
    if (!prepared_[idx]) {
      if (!PQsendPrepare(conn_, def.name.c_str(), def.sql.c_str(), 0, nullptr)) return false;
      prepared_[idx] = true;
      commands = 2;
    }
    p.commands = static_cast<uint8_t>(commands);
    ok = PQsendQueryPrepared(conn_, def.name.c_str(), q.params.size(), values,
                             q.params.lengths(), q.params.formats(), result_format);
  } else {
    ok = PQsendQueryParams(conn_, q.sql.c_str(), q.params.size(), nullptr, values,
                           q.params.lengths(), q.params.formats(), result_format);
  }
  if (!ok || !PQpipelineSync(conn_)) return false;
  book_.push(p.id, commands);
  return true;
}

void Connection::flush() {
  const int r = PQflush(conn_);
  if (r < 0) {
    fail(error_from_conn(conn_, "query", describe_, options_.token_auth));
    return;
  }
  want_write_ = r == 1;
  watch(UV_READABLE | (want_write_ ? UV_WRITABLE : 0));
}

void Connection::read_input() {
  if (!PQconsumeInput(conn_)) {
    fail(error_from_conn(conn_, "query", describe_ + ": connection lost", options_.token_auth));
    return;
  }
  if (script_active_) drain_script();
  else drain_results();
  if (state_ != State::kReady) return;
  drain_notifications();
  if (state_ != State::kReady) return;
  if (PQstatus(conn_) == CONNECTION_BAD) {
    fail(error_from_conn(conn_, "query", describe_ + ": connection lost", options_.token_auth));
    return;
  }
  if (want_write_) flush();
}

void Connection::drain_results() {
  while (state_ == State::kReady && !book_.empty() && !PQisBusy(conn_)) {
    PGresult* r = PQgetResult(conn_);
    const PipelineBook::Decision d = book_.feed(classify(r));
    switch (d.action) {
      case PipelineBook::Action::kDiscard: PQclear(r); break;
      case PipelineBook::Action::kKeep: pending_.front().kept = QueryResult(r); break;
      case PipelineBook::Action::kKeepError:
        pending_.front().kept = QueryResult(r);
        pending_.front().has_error = true;
        pending_.front().failed_command = static_cast<int8_t>(d.command);
        break;
      case PipelineBook::Action::kComplete:
        PQclear(r);
        complete_front();
        break;
      case PipelineBook::Action::kProtocolError:
        PQclear(r);
        fail(retryable_error("query", describe_ + ": unexpected result order in pipeline"));
        return;
    }
  }
}

void Connection::complete_front() {
  Pending p = std::move(pending_.front());
  pending_.pop_front();
  if (p.has_error) {
    ProviderError e = error_from_result(p.kept.raw(), options_.token_auth);
    if (p.request.statement.valid() && plan_is_stale(e.sqlstate) && !p.resent) {
      // The server lost or invalidated our statements (DEALLOCATE, schema change). Drop them all
      // and run this query once more from a fresh Prepare; it was not executed.
      std::fill(prepared_.begin(), prepared_.end(), false);
      QueryRequest dealloc{StatementId{}, "DEALLOCATE ALL", {}, false, [](Result<QueryResult>) {}};
      pending_.push_back(Pending{next_id_++, std::move(dealloc)});
      pending_.back().resent = true;
      p.resent = true;
      p.has_error = false;
      p.failed_command = -1;
      p.kept = QueryResult();
      p.id = next_id_++;
      if (!send(pending_.back())) {
        pending_.push_back(std::move(p));
        fail(error_from_conn(conn_, "query", describe_, options_.token_auth));
        return;
      }
      pending_.push_back(std::move(p));
      if (!send(pending_.back())) {
        fail(error_from_conn(conn_, "query", describe_, options_.token_auth));
        return;
      }
      flush();
      return;
    }
    // A failed Prepare leaves no statement behind, so the next use must prepare again.
    if (p.commands == 2 && p.failed_command == 0) prepared_[p.request.statement.index] = false;
    p.request.callback(std::unexpected(std::move(e)));
  } else {
    p.request.callback(std::move(p.kept));
  }
  if (state_ == State::kReady) owner_.connection_has_room(*this);
}

void Connection::drain_notifications() {
  while (state_ == State::kReady) {
    PGnotify* n = PQnotifies(conn_);
    if (!n) break;
    std::string channel = n->relname;
    std::string payload = n->extra ? n->extra : "";
    PQfreemem(n);
    owner_.connection_notification(*this, channel, payload);
  }
}

void Connection::fail_pending(const ProviderError& why) {
  if (script_active_) {
    script_active_ = false;
    QueryCallback cb = std::move(script_cb_);
    script_cb_ = nullptr;
    cb(std::unexpected(why));
  }
  std::deque<Pending> doomed;
  doomed.swap(pending_);
  book_.clear();
  for (Pending& p : doomed) p.request.callback(std::unexpected(why));
}

void Connection::fail(const ProviderError& why) {
  if (state_ == State::kFailed || state_ == State::kClosing || state_ == State::kClosed) return;
  state_ = State::kFailed;
  uv_timer_stop(&timer_);
  if (poll_) {
    uv_poll_stop(poll_);
    poll_events_ = 0;
  }
  ProviderError scrubbed = why;
  scrubbed.message = secrets_.scrub(scrubbed.message);
  fail_pending(scrubbed);
  owner_.connection_failed(*this, scrubbed);
}

void Connection::close(const ProviderError& why) {
  if (state_ == State::kClosing || state_ == State::kClosed) return;
  state_ = State::kClosing;
  fail_pending(why);
  if (poll_) {
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), poll_close_cb);
    poll_ = nullptr;
  }
  if (conn_) {
    PQfinish(conn_);
    conn_ = nullptr;
  }
  if (dns_pending_) uv_cancel(reinterpret_cast<uv_req_t*>(&dns_));  // its callback still runs
  if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&timer_)))
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), timer_close_cb);
}

void Connection::poll_close_cb(uv_handle_t* h) {
  auto* self = static_cast<Connection*>(h->data);
  delete reinterpret_cast<uv_poll_t*>(h);
  --self->open_handles_;
  self->maybe_closed();
}

void Connection::timer_close_cb(uv_handle_t* h) {
  auto* self = static_cast<Connection*>(h->data);
  --self->open_handles_;
  self->maybe_closed();
}

void Connection::maybe_closed() {
  if (state_ == State::kClosing && open_handles_ == 0) {
    state_ = State::kClosed;
    owner_.connection_closed(*this);  // may delete this
  }
}

}  // namespace duroxide::pg
