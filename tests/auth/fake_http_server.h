// A tiny HTTP/1.1 server on the test's own libuv loop, bound to 127.0.0.1 on a free port: stands
// in for IMDS, App Service, Azure Arc and the Entra v2 token endpoint. One request per connection
// (the reply says Connection: close). Replies come from `handler`, optionally after a delay, or
// the connection is dropped without a reply.
#pragma once

#include <doctest/doctest.h>
#include <uv.h>

#include <algorithm>
#include <cctype>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace duroxide::test {

struct FakeRequest {
  std::string method;
  std::string target;                         // path and query
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  bool has_header(const std::string& name) const { return headers.count(name) != 0; }
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

struct FakeReply {
  int status = 200;
  std::string body;
  std::vector<std::string> headers;  // "Name: value"
  int delay_ms = 0;
  bool drop = false;  // close the connection without answering
};

class FakeHttpServer {
 public:
  explicit FakeHttpServer(uv_loop_t* loop) : loop_(loop) {
    uv_tcp_init(loop_, server_);
    server_->data = this;
    sockaddr_in addr{};
    uv_ip4_addr("127.0.0.1", 0, &addr);
    REQUIRE(uv_tcp_bind(server_, reinterpret_cast<const sockaddr*>(&addr), 0) == 0);
    REQUIRE(uv_listen(reinterpret_cast<uv_stream_t*>(server_), 64, [](uv_stream_t* s, int status) {
              if (status == 0) static_cast<FakeHttpServer*>(s->data)->accept();
            }) == 0);
    sockaddr_storage bound{};
    int len = sizeof bound;
    uv_tcp_getsockname(server_, reinterpret_cast<sockaddr*>(&bound), &len);
    port_ = ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  }
  ~FakeHttpServer() { close(); }

  // Closes the listener and every connection; the handles finish closing on the next loop turn.
  void close() {
    if (closed_) return;
    closed_ = true;
    // Handles are heap objects that free themselves: the server object may be gone before libuv
    // runs the close callbacks.
    uv_close(reinterpret_cast<uv_handle_t*>(server_), [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); });
    for (Conn* c : std::set<Conn*>(*conns_)) {
      c->server = nullptr;
      c->shut();
    }
  }

  std::string base() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }

  std::function<FakeReply(const FakeRequest&)> handler = [](const FakeRequest&) { return FakeReply{404, "{}"}; };
  std::vector<FakeRequest> requests;

 private:
  struct Conn {
    FakeHttpServer* server;  // null once the server closed
    std::shared_ptr<std::set<Conn*>> registry;
    uv_tcp_t tcp;
    uv_timer_t timer;
    std::string in;
    std::string out;
    uv_write_t write;
    bool answered = false;
    bool closing = false;
    int open = 2;

    void shut() {
      if (closing) return;
      closing = true;
      auto done = [](uv_handle_t* h) {
        auto* c = static_cast<Conn*>(h->data);
        if (--c->open == 0) {
          c->registry->erase(c);
          delete c;
        }
      };
      uv_close(reinterpret_cast<uv_handle_t*>(&tcp), done);
      uv_close(reinterpret_cast<uv_handle_t*>(&timer), done);
    }
  };

  void accept() {
    auto* c = new Conn{this, conns_};
    uv_tcp_init(loop_, &c->tcp);
    uv_timer_init(loop_, &c->timer);
    c->tcp.data = c->timer.data = c;
    conns_->insert(c);
    if (uv_accept(reinterpret_cast<uv_stream_t*>(server_), reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
      c->shut();
      return;
    }
    uv_read_start(reinterpret_cast<uv_stream_t*>(&c->tcp),
                  [](uv_handle_t*, size_t n, uv_buf_t* b) {
                    b->base = new char[n];
                    b->len = n;
                  },
                  [](uv_stream_t* s, ssize_t n, const uv_buf_t* b) {
                    auto* conn = static_cast<Conn*>(s->data);
                    if (n > 0) conn->in.append(b->base, static_cast<size_t>(n));
                    delete[] b->base;
                    if (n < 0) {
                      conn->shut();
                      return;
                    }
                    if (conn->server) conn->server->maybe_request(conn);
                  });
  }

  void maybe_request(Conn* c) {
    if (c->answered) return;
    const size_t end = c->in.find("\r\n\r\n");
    if (end == std::string::npos) return;
    FakeRequest r;
    std::string head = c->in.substr(0, end);
    size_t line_end = head.find("\r\n");
    std::string first = head.substr(0, line_end);
    const size_t sp1 = first.find(' '), sp2 = first.rfind(' ');
    r.method = first.substr(0, sp1);
    r.target = first.substr(sp1 + 1, sp2 - sp1 - 1);
    size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
      size_t e = head.find("\r\n", pos);
      if (e == std::string::npos) e = head.size();
      std::string line = head.substr(pos, e - pos);
      const size_t colon = line.find(':');
      if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        std::transform(name.begin(), name.end(), name.begin(), [](unsigned char ch) { return std::tolower(ch); });
        std::string value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.erase(0, 1);
        r.headers[name] = value;
      }
      pos = e + 2;
    }
    const size_t want = r.has_header("content-length") ? std::stoul(r.header("content-length")) : 0;
    if (c->in.size() < end + 4 + want) return;
    r.body = c->in.substr(end + 4, want);
    c->answered = true;
    requests.push_back(r);
    FakeReply reply = handler(r);
    if (reply.drop) {
      c->shut();
      return;
    }
    std::string out = "HTTP/1.1 " + std::to_string(reply.status) + " X\r\nContent-Type: application/json\r\n";
    for (const std::string& h : reply.headers) out += h + "\r\n";
    out += "Content-Length: " + std::to_string(reply.body.size()) + "\r\nConnection: close\r\n\r\n" + reply.body;
    c->out = std::move(out);
    uv_timer_start(&c->timer, [](uv_timer_t* t) {
      auto* conn = static_cast<Conn*>(t->data);
      if (conn->closing) return;
      uv_buf_t buf = uv_buf_init(conn->out.data(), static_cast<unsigned>(conn->out.size()));
      conn->write.data = conn;
      uv_write(&conn->write, reinterpret_cast<uv_stream_t*>(&conn->tcp), &buf, 1, [](uv_write_t* w, int) {
        static_cast<Conn*>(w->data)->shut();
      });
    }, static_cast<uint64_t>(reply.delay_ms), 0);
  }

  uv_loop_t* loop_;
  uv_tcp_t* server_ = new uv_tcp_t;
  int port_ = 0;
  bool closed_ = false;
  std::shared_ptr<std::set<Conn*>> conns_ = std::make_shared<std::set<Conn*>>();
};

// A port nothing listens on (bound once, then released).
inline int refused_port(uv_loop_t* loop) {
  uv_tcp_t t;
  uv_tcp_init(loop, &t);
  sockaddr_in addr{};
  uv_ip4_addr("127.0.0.1", 0, &addr);
  uv_tcp_bind(&t, reinterpret_cast<const sockaddr*>(&addr), 0);
  sockaddr_storage bound{};
  int len = sizeof bound;
  uv_tcp_getsockname(&t, reinterpret_cast<sockaddr*>(&bound), &len);
  uv_close(reinterpret_cast<uv_handle_t*>(&t), nullptr);
  uv_run(loop, UV_RUN_NOWAIT);
  return ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
}

}  // namespace duroxide::test
