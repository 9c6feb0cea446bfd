// A conformance Store (direct connections: setup, raw SQL, inspection) plus a second provider
// object on the same schema whose every connection goes through a fault-injecting TcpProxy.
// The operation under test runs on `via()`; everything that must not be disturbed runs on
// `store`.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "faults/db_url.h"
#include "faults/tcp_proxy.h"
#include "support/conformance_fixtures.h"

namespace duroxide::test::faults {

class ProxiedStore {
 public:
  explicit ProxiedStore(LoopFixture& f, PostgresProviderOptions options = {})
      : f_(f), store(create_provider(f, options)) {
    std::string error;
    proxy_ = TcpProxy::start(&f.loop, url_server_address(database_url()), error);
    REQUIRE_MESSAGE(proxy_ != nullptr, error);
    options.application_name = "dxt_proxied";
    if (options.pool_max == 0) options.pool_max = 2;
    std::optional<Result<std::unique_ptr<PostgresProvider>>> out;
    PostgresProvider::create_with_schema(&f.loop, url_via_port(database_url(), proxy_->port()), store.schema(),
                                         std::move(options),
                                         [&](Result<std::unique_ptr<PostgresProvider>> r) { out = std::move(r); });
    REQUIRE(f.run_until([&] { return out.has_value(); }, std::chrono::seconds(60)));
    REQUIRE_MESSAGE(*out, (*out ? "" : out->error().to_string()));
    via_ = std::move(**out);
  }
  ProxiedStore(const ProxiedStore&) = delete;
  ProxiedStore& operator=(const ProxiedStore&) = delete;

  ~ProxiedStore() {
    if (via_) {
      bool closed = false;
      via_->close([&] { closed = true; });
      f_.run_until([&] { return closed; });
      via_.reset();
    }
    bool proxy_closed = false;
    proxy_->close([&] { proxy_closed = true; });
    f_.run_until([&] { return proxy_closed; });
    // `store` (declared first) is destroyed last: it closes its provider and drops the schema.
  }

  PostgresProvider& via() { return *via_; }
  FaultPlan& plan() { return proxy_->plan(); }
  TcpProxy& proxy() { return *proxy_; }

 private:
  LoopFixture& f_;

 public:
  Store store;

 private:
  std::unique_ptr<TcpProxy> proxy_;
  std::unique_ptr<PostgresProvider> via_;
};

}  // namespace duroxide::test::faults
