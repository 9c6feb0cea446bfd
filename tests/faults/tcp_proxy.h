// A loopback TCP proxy on the test's libuv loop that puts a WireCut (tests/faults/wire_cut.h)
// between each client connection and the real server. The test points a provider at port() and
// arms plan() to cut one connection around one statement's commit.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "faults/wire_cut.h"

namespace duroxide::test::faults {

class TcpProxy {
 public:
  // Listens on 127.0.0.1 (a free port) and forwards each accepted connection to `upstream`.
  // Returns nullptr and sets `error` when the listener cannot be set up.
  static std::unique_ptr<TcpProxy> start(uv_loop_t* loop, const sockaddr_storage& upstream, std::string& error);
  ~TcpProxy();

  int port() const { return port_; }
  FaultPlan& plan() { return *plan_; }
  // Connections accepted so far.
  int accepted() const { return accepted_; }

  // Closes the listener and every connection; `done` runs once every handle is closed.
  void close(std::function<void()> done);

  struct Link;  // one proxied connection (tcp_proxy.cpp)
  // Called by a Link once both of its sockets are closed (internal).
  void link_closed(Link* link);

 private:
  TcpProxy() = default;
  void on_accept();
  void maybe_done();

  uv_loop_t* loop_ = nullptr;
  uv_tcp_t listener_{};
  bool listener_open_ = false;
  sockaddr_storage upstream_{};
  int port_ = 0;
  int accepted_ = 0;
  std::shared_ptr<FaultPlan> plan_ = std::make_shared<FaultPlan>();
  std::vector<Link*> links_;
  bool closing_ = false;
  std::function<void()> done_;
};

}  // namespace duroxide::test::faults
