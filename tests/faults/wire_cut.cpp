#include "faults/wire_cut.h"

#include <algorithm>

namespace duroxide::test::faults {
namespace {

constexpr uint32_t kSslRequest = 80877103;
constexpr uint32_t kGssEncRequest = 80877104;
// No real message comes near this; a bigger length means the stream is not what we think.
constexpr uint32_t kMaxMessage = 1u << 30;

uint32_t be32(std::string_view s, size_t at) {
  auto b = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(s[at + i])); };
  return (b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3);
}

void put32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}

void put_cstr(std::string& out, std::string_view s) {
  out.append(s);
  out.push_back('\0');
}

}  // namespace

std::string Framer::next(bool untyped) {
  const size_t header = untyped ? 4 : 5;
  if (broken_ || buf_.size() - off_ < header) return {};
  const uint32_t len = be32(buf_, off_ + (untyped ? 0 : 1));
  if (len < 4 || len > kMaxMessage || (untyped && len < 8)) {
    broken_ = true;
    return {};
  }
  const size_t total = untyped ? len : size_t{1} + len;
  if (buf_.size() - off_ < total) return {};
  std::string m = buf_.substr(off_, total);
  off_ += total;
  if (off_ == buf_.size() || off_ > (size_t{1} << 16)) {
    buf_.erase(0, off_);
    off_ = 0;
  }
  return m;
}

bool WireCut::is_trigger(const std::string& m) const {
  if (!plan_->armed || m[0] != 'B') return false;
  // Bind body: portal name, then statement name, both NUL-terminated.
  const std::string_view body = std::string_view(m).substr(5);
  const size_t portal_end = body.find('\0');
  if (portal_end == std::string_view::npos) return false;
  const std::string_view rest = body.substr(portal_end + 1);
  const std::string_view statement = rest.substr(0, rest.find('\0'));
  return std::ranges::find(plan_->statements, statement) != plan_->statements.end();
}

void WireCut::on_client_message(const std::string& m, Actions& out) {
  if (is_trigger(m)) {
    plan_->armed = false;  // one fault per arming
    plan_->bind_seen = true;
    if (plan_->point == CutPoint::kBeforeBind) {
      plan_->cut = true;
      closed_ = out.close = true;
      return;
    }
    watching_ = true;
    hold_after_ = owed_rfq_;
    cut_at_ = owed_rfq_ + 1;  // the ReadyForQuery of this statement's Sync
  }
  if (m[0] == 'S' || m[0] == 'Q') ++owed_rfq_;
  out.to_server += m;
}

Actions WireCut::from_client(std::string_view bytes) {
  Actions out;
  if (closed_) return out;
  client_.feed(bytes);
  while (!closed_) {
    if (!started_) {
      std::string packet = client_.next(true);
      if (packet.empty()) break;
      const uint32_t code = be32(packet, 4);
      if (code == kSslRequest || code == kGssEncRequest) {
        out.to_client.push_back('N');  // "not supported": libpq goes on without encryption
        continue;
      }
      started_ = true;  // StartupMessage (or CancelRequest, after which the server closes)
      out.to_server += packet;
      continue;
    }
    std::string m = client_.next(false);
    if (m.empty()) break;
    on_client_message(m, out);
  }
  if (client_.broken()) closed_ = out.close = true;
  return out;
}

Actions WireCut::from_server(std::string_view bytes) {
  Actions out;
  if (closed_) return out;
  server_.feed(bytes);
  while (!closed_) {
    std::string m = server_.next(false);
    if (m.empty()) break;
    const bool hold = watching_ && seen_rfq_ >= hold_after_;
    if (hold && m[0] == 'E') plan_->server_error = true;
    if (m[0] == 'Z') ++seen_rfq_;
    if (watching_ && seen_rfq_ == cut_at_) {
      plan_->commit_seen = !plan_->server_error;
      plan_->cut = true;
      closed_ = out.close = true;
      break;
    }
    if (!hold) out.to_client += m;
  }
  if (server_.broken()) closed_ = out.close = true;
  return out;
}

namespace wire {

std::string startup(std::string_view user, std::string_view database) {
  std::string body;
  put32(body, 196608);  // protocol 3.0
  put_cstr(body, "user");
  put_cstr(body, user);
  put_cstr(body, "database");
  put_cstr(body, database);
  body.push_back('\0');
  std::string out;
  put32(out, static_cast<uint32_t>(body.size() + 4));
  return out + body;
}

std::string ssl_request() {
  std::string out;
  put32(out, 8);
  put32(out, kSslRequest);
  return out;
}

std::string typed(char type, std::string_view body) {
  std::string out(1, type);
  put32(out, static_cast<uint32_t>(body.size() + 4));
  out.append(body);
  return out;
}

std::string parse(std::string_view statement, std::string_view sql) {
  std::string body;
  put_cstr(body, statement);
  put_cstr(body, sql);
  body.append(2, '\0');  // no parameter types
  return typed('P', body);
}

std::string bind(std::string_view portal, std::string_view statement) {
  std::string body;
  put_cstr(body, portal);
  put_cstr(body, statement);
  body.append(6, '\0');  // no parameter formats, no parameters, no result formats
  return typed('B', body);
}

std::string execute() { return typed('E', std::string(5, '\0')); }
std::string sync() { return typed('S', {}); }

std::string query(std::string_view sql) {
  std::string body;
  put_cstr(body, sql);
  return typed('Q', body);
}

std::string ready_for_query(char status) { return typed('Z', std::string(1, status)); }
std::string auth_ok() { return typed('R', std::string(4, '\0')); }

std::string command_complete(std::string_view tag) {
  std::string body;
  put_cstr(body, tag);
  return typed('C', body);
}

}  // namespace wire
}  // namespace duroxide::test::faults
