// PostgresProvider::create_entra: Entra ID mode (duroxide/pg/entra.h). Acquires the first token,
// then builds the provider through the common create_from path with the refresher's hooks.
#include <utility>

#include "auth/builtin_source.h"
#include "auth/entra_conninfo.h"
#include "auth/loop_defer.h"
#include "auth/token_refresher.h"
#include "provider/impl.h"

namespace duroxide::pg {

void PostgresProvider::create_entra(uv_loop_t* loop, EntraTarget target, EntraAuthOptions auth,
                                    PostgresProviderOptions options, CreateCallback cb) {
  create_entra_with_schema(loop, std::move(target), "public", std::move(auth), std::move(options),
                           std::move(cb));
}

void PostgresProvider::create_entra_with_schema(uv_loop_t* loop, EntraTarget target, std::string schema,
                                                EntraAuthOptions auth, PostgresProviderOptions options,
                                                CreateCallback cb) {
  auto fail_later = [loop](CreateCallback& callback, ProviderError e) {
    auth::defer_on_loop(loop, [callback = std::move(callback), e = std::move(e)]() mutable {
      callback(std::unexpected(std::move(e)));
    });
  };
  Result<std::string> conninfo = auth::entra_conninfo(target, auth);
  if (!conninfo) return fail_later(cb, conninfo.error());
  std::shared_ptr<TokenSource> source = auth.token_source;
  if (!source) {
    auto built = auth::make_builtin_source(loop, auth);
    if (!built) return fail_later(cb, built.error());
    source = std::move(*built);
  }
  auth::TokenRefresher::Config config;
  config.scope = auth.audience;
  config.policy = auth::policy_for(auth.refresh_interval.count());
  auto refresher = auth::TokenRefresher::create(loop, std::move(source), std::move(config));
  refresher->start([loop, refresher, conninfo = std::move(*conninfo), schema = std::move(schema),
                    options = std::move(options), cb = std::move(cb)](Result<void> first) mutable {
    if (!first) {
      ProviderError e = first.error();
      e.operation = "create_entra";
      e.retryable = true;
      e.message = "no Microsoft Entra ID access token: " + e.message;
      // shutdown completes on a later turn, so cb never runs inside create_entra.
      refresher->shutdown([cb = std::move(cb), e = std::move(e)]() mutable { cb(std::unexpected(std::move(e))); });
      return;
    }
    PoolSetup setup;
    setup.conninfo = std::move(conninfo);
    setup.token_auth = true;
    setup.credential = [refresher](CredentialCallback c) { refresher->credential(std::move(c)); };
    setup.on_auth_failure = [weak = std::weak_ptr<auth::TokenRefresher>(refresher)](std::string_view used) {
      if (auto r = weak.lock()) r->auth_failed(used);
    };
    setup.shutdown = [refresher](std::move_only_function<void()> done) { refresher->shutdown(std::move(done)); };
    // The first token may have arrived synchronously from a custom source: build on a later turn
    // so that cb still never runs inside create_entra, whatever create_from does.
    auth::defer_on_loop(loop, [loop, setup = std::move(setup), schema = std::move(schema),
                               options = std::move(options), cb = std::move(cb)]() mutable {
      create_from(loop, std::move(setup), std::move(schema), std::move(options), std::move(cb));
    });
  });
}

}  // namespace duroxide::pg
