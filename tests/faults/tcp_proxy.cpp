#include "faults/tcp_proxy.h"

#include <algorithm>
#include <cstdlib>

namespace duroxide::test::faults {

struct TcpProxy::Link {
  explicit Link(TcpProxy* p) : proxy(p), cut(p->plan_) {}

  TcpProxy* proxy;
  uv_tcp_t client{};
  uv_tcp_t server{};
  uv_connect_t connect_req{};
  WireCut cut;
  bool connected = false;
  std::string early_to_server;  // bytes for the server before its connect completed
  int open_handles = 0;
  int pending_writes = 0;
  bool closing = false;         // stop reading, flush what is queued, then close both sockets
  bool handles_closing = false;
};

namespace {

using Link = TcpProxy::Link;

struct WriteReq {
  uv_write_t req;
  std::string data;
  Link* link;
};

void close_handles(Link* link);

void on_handle_closed(uv_handle_t* h) {
  auto* link = static_cast<Link*>(h->data);
  if (--link->open_handles == 0) link->proxy->link_closed(link);
}

void close_handles(Link* link) {
  if (link->handles_closing) return;
  link->handles_closing = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&link->client), on_handle_closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&link->server), on_handle_closed);
}

// Stops reading both sides and closes them once queued writes have been handed to the kernel, so
// bytes forwarded before a cut still arrive.
void begin_close(Link* link) {
  if (link->closing) return;
  link->closing = true;
  uv_read_stop(reinterpret_cast<uv_stream_t*>(&link->client));
  if (link->connected) uv_read_stop(reinterpret_cast<uv_stream_t*>(&link->server));
  if (link->pending_writes == 0) close_handles(link);
}

void send(Link* link, uv_tcp_t* to, std::string data) {
  if (data.empty() || link->handles_closing) return;
  auto* w = new WriteReq{{}, std::move(data), link};
  uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
  ++link->pending_writes;
  int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(to), &buf, 1, [](uv_write_t* req, int status) {
    auto* done = reinterpret_cast<WriteReq*>(req);
    Link* l = done->link;
    delete done;
    --l->pending_writes;
    if (status < 0) begin_close(l);
    if (l->closing && l->pending_writes == 0) close_handles(l);
  });
  if (rc < 0) {
    delete w;
    --link->pending_writes;
    begin_close(link);
  }
}

void apply(Link* link, Actions a) {
  send(link, &link->client, std::move(a.to_client));
  if (link->connected) send(link, &link->server, std::move(a.to_server));
  else link->early_to_server += a.to_server;
  if (a.close) begin_close(link);
}

void alloc(uv_handle_t*, size_t suggested, uv_buf_t* buf) {
  buf->base = static_cast<char*>(std::malloc(suggested));
  buf->len = buf->base ? suggested : 0;
}

void on_client_read(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
  auto* link = static_cast<Link*>(s->data);
  if (n > 0 && !link->closing) apply(link, link->cut.from_client(std::string_view(buf->base, static_cast<size_t>(n))));
  else if (n < 0) begin_close(link);  // the client went away: so does the server side
  std::free(buf->base);
}

void on_server_read(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
  auto* link = static_cast<Link*>(s->data);
  if (n > 0 && !link->closing) apply(link, link->cut.from_server(std::string_view(buf->base, static_cast<size_t>(n))));
  else if (n < 0) begin_close(link);
  std::free(buf->base);
}

void on_connected(uv_connect_t* req, int status) {
  auto* link = static_cast<Link*>(req->data);
  if (status < 0 || link->closing) return begin_close(link);
  link->connected = true;
  uv_tcp_nodelay(&link->server, 1);
  send(link, &link->server, std::move(link->early_to_server));
  link->early_to_server.clear();
  uv_read_start(reinterpret_cast<uv_stream_t*>(&link->server), alloc, on_server_read);
}

}  // namespace

std::unique_ptr<TcpProxy> TcpProxy::start(uv_loop_t* loop, const sockaddr_storage& upstream, std::string& error) {
  std::unique_ptr<TcpProxy> p(new TcpProxy());
  p->loop_ = loop;
  p->upstream_ = upstream;
  uv_tcp_init(loop, &p->listener_);
  p->listener_open_ = true;
  p->listener_.data = p.get();
  sockaddr_in any{};
  uv_ip4_addr("127.0.0.1", 0, &any);
  int rc = uv_tcp_bind(&p->listener_, reinterpret_cast<const sockaddr*>(&any), 0);
  if (rc == 0)
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(&p->listener_), 64, [](uv_stream_t* s, int status) {
      if (status == 0) static_cast<TcpProxy*>(s->data)->on_accept();
    });
  sockaddr_storage bound{};
  int len = sizeof bound;
  if (rc == 0) rc = uv_tcp_getsockname(&p->listener_, reinterpret_cast<sockaddr*>(&bound), &len);
  if (rc < 0) {
    error = std::string("proxy listener: ") + uv_strerror(rc);
    // Close the listener now (one loop iteration runs its close callback) so nothing outlives p.
    p->close([] {});
    uv_run(loop, UV_RUN_NOWAIT);
    return nullptr;
  }
  p->port_ = ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  return p;
}

TcpProxy::~TcpProxy() {
  // close() must have completed: libuv still references handles otherwise.
  if (listener_open_ || !links_.empty()) std::abort();
}

void TcpProxy::on_accept() {
  auto* link = new Link(this);
  uv_tcp_init(loop_, &link->client);
  uv_tcp_init(loop_, &link->server);
  link->open_handles = 2;
  link->client.data = link->server.data = link->connect_req.data = link;
  links_.push_back(link);
  if (uv_accept(reinterpret_cast<uv_stream_t*>(&listener_), reinterpret_cast<uv_stream_t*>(&link->client)) != 0)
    return begin_close(link);
  ++accepted_;
  uv_tcp_nodelay(&link->client, 1);
  uv_read_start(reinterpret_cast<uv_stream_t*>(&link->client), alloc, on_client_read);
  if (uv_tcp_connect(&link->connect_req, &link->server, reinterpret_cast<const sockaddr*>(&upstream_), on_connected) != 0)
    begin_close(link);
}

void TcpProxy::link_closed(Link* link) {
  links_.erase(std::remove(links_.begin(), links_.end(), link), links_.end());
  delete link;
  maybe_done();
}

void TcpProxy::maybe_done() {
  if (closing_ && !listener_open_ && links_.empty() && done_) {
    auto done = std::move(done_);
    done_ = nullptr;
    done();
  }
}

void TcpProxy::close(std::function<void()> done) {
  closing_ = true;
  done_ = std::move(done);
  if (listener_open_) {
    uv_close(reinterpret_cast<uv_handle_t*>(&listener_), [](uv_handle_t* h) {
      auto* p = static_cast<TcpProxy*>(h->data);
      p->listener_open_ = false;
      p->maybe_done();
    });
  }
  for (Link* link : std::vector<Link*>(links_)) {
    link->closing = true;
    close_handles(link);  // teardown: queued writes are cancelled
  }
  maybe_done();
}

}  // namespace duroxide::test::faults
