#include "auth/http_client.h"

#include <curl/curl.h>

#include <charconv>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace duroxide::pg::auth {
namespace {

constexpr std::size_t kMaxBody = 1 << 20;  // identity replies are a few KiB

void global_init_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

CURLM* M(void* p) { return static_cast<CURLM*>(p); }

}  // namespace

struct HttpClient::Request {
  HttpClient* owner;
  std::uint64_t id;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  HttpResponse response;
  bool too_big = false;
  char errbuf[CURL_ERROR_SIZE] = {0};
  HttpCallback cb;
};

struct HttpClient::Socket {
  uv_poll_t poll;
  HttpClient* owner;
  int fd;
};

HttpClient* HttpClient::create(uv_loop_t* loop) {
  global_init_once();
  return new HttpClient(loop);
}

HttpClient::HttpClient(uv_loop_t* loop) : loop_(loop), multi_(curl_multi_init()) {
  uv_timer_init(loop_, &timer_);
  uv_timer_init(loop_, &start_timer_);
  timer_.data = this;
  start_timer_.data = this;
  open_handles_ = 2;
  curl_multi_setopt(M(multi_), CURLMOPT_SOCKETFUNCTION, &HttpClient::on_socket);
  curl_multi_setopt(M(multi_), CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(M(multi_), CURLMOPT_TIMERFUNCTION, &HttpClient::on_timer);
  curl_multi_setopt(M(multi_), CURLMOPT_TIMERDATA, this);
}

HttpClient::~HttpClient() = default;

std::uint64_t HttpClient::send(const HttpRequest& req, std::chrono::milliseconds timeout, HttpCallback cb) {
  auto* r = new Request{this, next_id_++};
  r->cb = std::move(cb);
  requests_.emplace(r->id, r);
  CURL* e = curl_easy_init();
  r->easy = e;
  curl_easy_setopt(e, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(e, CURLOPT_PRIVATE, r);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeout.count()));
  if (!req.allow_proxy) curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
  for (const std::string& h : req.headers) r->headers = curl_slist_append(r->headers, h.c_str());
  if (r->headers) curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
  if (req.method == "POST") {
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, static_cast<long>(req.body.size()));
    curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, req.body.c_str());
  }
  curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, +[](char* p, size_t size, size_t n, void* ud) -> size_t {
    auto* rq = static_cast<Request*>(ud);
    if (rq->response.body.size() + size * n > kMaxBody) {
      rq->too_big = true;
      return 0;  // aborts the transfer
    }
    rq->response.body.append(p, size * n);
    return size * n;
  });
  curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &HttpClient::on_header);
  // curl may call our socket and timer functions from inside add_handle; both only arm libuv
  // handles, so the request's callback can never run inside send().
  CURLMcode rc = curl_multi_add_handle(M(multi_), e);
  if (rc != CURLM_OK) {
    std::string why = curl_multi_strerror(rc);
    const std::uint64_t id = r->id;
    // Report on the next turn through the start timer path: mark as failed now.
    r->response.status = -1;
    r->too_big = false;
    std::snprintf(r->errbuf, sizeof r->errbuf, "%s", why.c_str());
    uv_timer_start(&start_timer_, [](uv_timer_t* t) {
      auto* self = static_cast<HttpClient*>(t->data);
      std::vector<Request*> failed;
      for (auto& [i, rq] : self->requests_)
        if (rq->response.status == -1) failed.push_back(rq);
      for (Request* rq : failed) self->finish(rq, fail(retryable_error("entra_token", rq->errbuf)));
    }, 0, 0);
    return id;
  }
  return r->id;
}

size_t HttpClient::on_header(char* p, size_t size, size_t n, void* ud) {
  auto* rq = static_cast<Request*>(ud);
  std::string_view line(p, size * n);
  // The value of header `name` (lower case, with the colon) when `line` is that header.
  auto value_of = [&](std::string_view name) -> std::optional<std::string_view> {
    if (line.size() <= name.size()) return std::nullopt;
    for (std::size_t i = 0; i < name.size(); ++i)
      if (static_cast<char>(std::tolower(static_cast<unsigned char>(line[i]))) != name[i]) return std::nullopt;
    std::string_view v = line.substr(name.size());
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' ')) v.remove_suffix(1);
    return v;
  };
  if (auto v = value_of("www-authenticate:")) rq->response.www_authenticate = std::string(*v);
  if (auto v = value_of("retry-after:")) {
    std::int64_t secs = 0;
    auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), secs);
    if (ec == std::errc() && end == v->data() + v->size() && secs >= 0) rq->response.retry_after_s = secs;
  }
  return size * n;
}

void HttpClient::cancel(std::uint64_t id) {
  auto it = requests_.find(id);
  if (it == requests_.end()) return;
  Request* r = it->second;
  r->cb = nullptr;
  remove(r);
}

void HttpClient::remove(Request* r) {
  requests_.erase(r->id);
  curl_multi_remove_handle(M(multi_), r->easy);
  curl_easy_cleanup(r->easy);
  curl_slist_free_all(r->headers);
  delete r;
}

void HttpClient::finish(Request* r, Result<HttpResponse> result) {
  HttpCallback cb = std::move(r->cb);
  remove(r);
  if (cb) cb(std::move(result));
}

int HttpClient::on_socket(void*, int fd, int what, void* userp, void* socketp) {
  auto* self = static_cast<HttpClient*>(userp);
  auto* s = static_cast<Socket*>(socketp);
  if (what == CURL_POLL_REMOVE) {
    if (s) {
      curl_multi_assign(M(self->multi_), fd, nullptr);
      self->close_socket(s);
    }
    return 0;
  }
  if (!s) {
    s = new Socket{{}, self, fd};
    if (uv_poll_init_socket(self->loop_, &s->poll, fd) != 0) {
      delete s;
      return -1;  // curl fails the transfer
    }
    s->poll.data = s;
    ++self->open_handles_;
    self->sockets_[fd] = s;
    curl_multi_assign(M(self->multi_), fd, s);
  }
  int events = 0;
  if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) events |= UV_READABLE;
  if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) events |= UV_WRITABLE;
  uv_poll_start(&s->poll, events, [](uv_poll_t* h, int status, int ev) {
    auto* sock = static_cast<Socket*>(h->data);
    int flags = 0;
    if (status < 0) flags = CURL_CSELECT_ERR;
    if (ev & UV_READABLE) flags |= CURL_CSELECT_IN;
    if (ev & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
    sock->owner->drive(sock->fd, flags);
  });
  return 0;
}

int HttpClient::on_timer(void*, long timeout_ms, void* userp) {
  auto* self = static_cast<HttpClient*>(userp);
  if (self->closing_) return 0;
  if (timeout_ms < 0) {
    uv_timer_stop(&self->timer_);
    return 0;
  }
  // Never call curl back from inside its own callback: act on the next loop turn at the earliest.
  uv_timer_start(&self->timer_, [](uv_timer_t* t) {
    static_cast<HttpClient*>(t->data)->drive(CURL_SOCKET_TIMEOUT, 0);
  }, static_cast<std::uint64_t>(timeout_ms), 0);
  return 0;
}

void HttpClient::close_socket(Socket* s) {
  // The descriptor may be reused by curl at once; the closing poll handle no longer watches it.
  sockets_.erase(s->fd);
  uv_poll_stop(&s->poll);
  uv_close(reinterpret_cast<uv_handle_t*>(&s->poll), [](uv_handle_t* h) {
    auto* sock = static_cast<Socket*>(h->data);
    HttpClient* owner = sock->owner;
    delete sock;
    --owner->open_handles_;
    owner->maybe_free();
  });
}

void HttpClient::drive(int fd, int events) {
  if (closing_) return;
  int running = 0;
  curl_multi_socket_action(M(multi_), fd, events, &running);
  collect();
}

void HttpClient::collect() {
  // Gather first: a completion callback may send or cancel other requests.
  std::vector<std::pair<Request*, CURLcode>> done;
  int left = 0;
  while (CURLMsg* m = curl_multi_info_read(M(multi_), &left)) {
    if (m->msg != CURLMSG_DONE) continue;
    Request* r = nullptr;
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &r);
    if (r) done.emplace_back(r, m->data.result);
  }
  std::vector<std::uint64_t> ids;
  for (auto& [r, code] : done) ids.push_back(r->id);
  for (std::size_t i = 0; i < done.size(); ++i) {
    if (closing_) return;
    auto it = requests_.find(ids[i]);
    if (it == requests_.end()) continue;  // cancelled by an earlier callback
    Request* r = it->second;
    const CURLcode code = done[i].second;
    if (code == CURLE_OK) {
      long status = 0;
      curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
      r->response.status = status;
      HttpResponse resp = std::move(r->response);
      finish(r, std::move(resp));
    } else {
      std::string why = r->too_big ? "reply larger than 1 MiB"
                                   : (r->errbuf[0] ? std::string(r->errbuf) : std::string(curl_easy_strerror(code)));
      if (code == CURLE_OPERATION_TIMEDOUT) why = "timed out (" + why + ")";
      finish(r, fail(retryable_error("entra_token", why)));
    }
  }
}

void HttpClient::close() {
  if (closing_) return;
  std::vector<Request*> all;
  for (auto& [id, r] : requests_) all.push_back(r);
  for (Request* r : all) {
    r->cb = nullptr;
    remove(r);
  }
  closing_ = true;
  // Cleanup may report sockets to remove through on_socket, which closes their polls.
  curl_multi_cleanup(M(multi_));
  multi_ = nullptr;
  std::vector<Socket*> left;
  for (auto& [fd, sock] : sockets_) left.push_back(sock);
  for (Socket* sock : left) close_socket(sock);
  auto on_closed = [](uv_handle_t* h) {
    auto* self = static_cast<HttpClient*>(h->data);
    --self->open_handles_;
    self->maybe_free();
  };
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), on_closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&start_timer_), on_closed);
}

void HttpClient::maybe_free() {
  if (closing_ && open_handles_ == 0) delete this;
}

}  // namespace duroxide::pg::auth
