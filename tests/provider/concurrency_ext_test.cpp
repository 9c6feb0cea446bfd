// conformance.md §6.4 — concurrency_ext: fetches outstanding at once never hand out the same work
// twice and never give up while work remains; acks with one token have exactly one winner; the
// row-then-instance lock order survives many completions to the same parents.
#include <doctest/doctest.h>

#include <chrono>
#include <functional>
#include <map>
#include <set>

#include "duroxide/provider_admin.h"
#include "support/conformance_fixtures.h"

using namespace duroxide;
using namespace duroxide::test;

namespace {

std::string err_text(const auto& r) { return r ? std::string() : r.error().to_string(); }

// Starts n operations at once (each `start(i, cb)` starts exactly one) and runs the loop until all
// have completed.
template <class T>
std::vector<Result<T>> run_concurrently(LoopFixture& f, int n, const std::function<void(int, Callback<T>)>& start,
                                        Millis deadline = 60s) {
  std::vector<std::optional<Result<T>>> out(static_cast<size_t>(n));
  int done = 0;
  for (int i = 0; i < n; ++i)
    start(i, Callback<T>([&out, &done, i](Result<T> r) {
            out[static_cast<size_t>(i)] = std::move(r);
            ++done;
          }));
  REQUIRE_MESSAGE(f.run_until([&] { return done == n; }, deadline), "concurrent operations did not complete");
  std::vector<Result<T>> results;
  for (auto& o : out) results.push_back(std::move(*o));
  return results;
}

uint64_t activity_id_of(const LockedWorkItem& w) {
  const auto* ae = w.item.get_if<WorkItem::ActivityExecute>();
  REQUIRE(ae != nullptr);
  return ae->id;
}

SemVer V(const char* text) { return *SemVer::parse(text); }

// capability_filtering's seed_instance_with_version (§3.2).
void seed_instance_with_version(Store& s, const std::string& inst, const std::string& v) {
  REQUIRE(EO(s, start_item(inst)));
  std::vector<std::string> stashed;
  std::optional<LockedOrchestration> mine;
  for (int i = 0; i < 100 && !mine; ++i) {
    auto fo = FO(s, 30s);
    REQUIRE_MESSAGE(fo, err_text(fo));
    REQUIRE(fo->has_value());
    if ((*fo)->item.instance == inst)
      mine = std::move(**fo);
    else
      stashed.push_back((*fo)->lock_token);
  }
  REQUIRE(mine.has_value());
  AckArgs a;
  a.delta.push_back(started_event(inst, 1, "TestOrch", "1.0.0", v));
  a.orch_items.push_back(external_item(inst, "ping"));
  a.metadata = meta();
  a.metadata.pinned_duroxide_version = V(v.c_str());
  auto r = AO(s, mine->lock_token, 1, std::move(a));
  REQUIRE_MESSAGE(r, err_text(r));
  for (const auto& t : stashed) REQUIRE(AbO(s, t, std::nullopt, true));
}

}  // namespace

TEST_CASE("concurrency_ext::test_concurrent_worker_fetch_distinct_items") {
  LoopFixture f;
  Store s = create_provider(f);
  for (uint64_t i = 1; i <= 20; ++i) REQUIRE(EW(s, activity_item("conc-w", i)));
  auto results = run_concurrently<std::optional<LockedWorkItem>>(f, 20, [&](int, auto cb) {
    s->fetch_work_item(30s, 0ms, std::nullopt, TagFilter::DefaultOnly{}, std::move(cb));
  });
  std::set<uint64_t> ids;
  int some = 0;
  for (auto& r : results) {
    REQUIRE_MESSAGE(r, err_text(r));
    if (r->has_value()) {
      ++some;
      ids.insert(activity_id_of(**r));
    }
  }
  CHECK(some == 20);
  CHECK(ids.size() == 20);
  auto last = FW(s);
  REQUIRE_MESSAGE(last, err_text(last));
  CHECK_FALSE(last->has_value());
}

TEST_CASE("concurrency_ext::test_concurrent_session_claims_move_on") {
  for (int round = 0; round < 20; ++round) {
    CAPTURE(round);
    LoopFixture f;
    Store s = create_provider(f);
    const std::string inst = "conc-sess";
    std::map<uint64_t, std::string> session_of;  // activity id -> session ("" = plain)
    uint64_t id = 1;
    for (const char* sid : {"s1", "s2", "s3"})
      for (int k = 0; k < 2; ++k) {
        session_of[id] = sid;
        REQUIRE(EW(s, activity_item(inst, id++, 1, std::string(sid))));
      }
    for (int k = 0; k < 6; ++k) {
      session_of[id] = "";
      REQUIRE(EW(s, activity_item(inst, id++)));
    }
    auto results = run_concurrently<std::optional<LockedWorkItem>>(f, 9, [&](int i, auto cb) {
      s->fetch_work_item(30s, 0ms, SessionFetchConfig{"o" + std::to_string(i + 1), 30s}, TagFilter::DefaultOnly{},
                         std::move(cb));
    });
    std::set<uint64_t> ids;
    std::map<std::string, std::vector<std::string>> owners_by_session;  // session -> owners that got one of its items
    int plain = 0;
    for (int i = 0; i < 9; ++i) {
      auto& r = results[static_cast<size_t>(i)];
      REQUIRE_MESSAGE(r, err_text(r));
      REQUIRE_MESSAGE(r->has_value(), "fetcher o" << i + 1 << " returned None while work remained");
      uint64_t aid = activity_id_of(**r);
      ids.insert(aid);
      const std::string& sid = session_of.at(aid);
      if (sid.empty())
        ++plain;
      else
        owners_by_session[sid].push_back("o" + std::to_string(i + 1));
    }
    CHECK(ids.size() == 9);
    CHECK(plain == 6);
    for (const char* sid : {"s1", "s2", "s3"}) {
      CAPTURE(sid);
      REQUIRE(owners_by_session[sid].size() == 1);
      auto owner = s.sql("SELECT worker_id FROM " + s.table("sessions") + " WHERE session_id = $1",
                         pg::Params().add(sid));
      REQUIRE(owner);
      REQUIRE(owner->rows() == 1);
      CHECK(std::string(owner->get(0, 0)) == owners_by_session[sid][0]);
    }
  }
}

TEST_CASE("concurrency_ext::test_concurrent_filtered_fetch_distinct") {
  LoopFixture f;
  Store s = create_provider(f);
  for (int i = 0; i < 10; ++i) seed_instance_with_version(s, "conc-filter-" + std::to_string(i), "1.0.0");
  const DispatcherCapabilityFilter filter{{SemverRange{V("1.0.0"), V("1.9.9")}}};
  auto results = run_concurrently<std::optional<LockedOrchestration>>(f, 10, [&](int, auto cb) {
    s->fetch_orchestration_item(30s, 0ms, filter, std::move(cb));
  });
  std::set<std::string> instances;
  int some = 0;
  for (auto& r : results) {
    REQUIRE_MESSAGE(r, err_text(r));
    if (r->has_value()) {
      ++some;
      instances.insert((*r)->item.instance);
    }
  }
  CHECK(some == 10);
  CHECK(instances.size() == 10);
}

TEST_CASE("concurrency_ext::test_concurrent_acks_same_token_exactly_one_wins") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string a = "conc-ack";
  REQUIRE(EO(s, start_item(a)));
  auto fo = FO(s);
  REQUIRE(fo);
  REQUIRE(fo->has_value());
  const std::string token = (*fo)->lock_token;
  auto results = run_concurrently<void>(f, 8, [&](int, Callback<void> cb) {
    std::vector<Event> delta;
    delta.push_back(started_event(a));
    s->ack_orchestration_item(token, 1, std::move(delta), {}, {}, meta(), {}, std::move(cb));
  });
  int ok = 0;
  for (auto& r : results) {
    if (r) {
      ++ok;
      continue;
    }
    CHECK_FALSE(r.error().retryable);
    CHECK_MESSAGE(r.error().message.find("Invalid lock token") != std::string::npos, r.error().to_string());
  }
  CHECK(ok == 1);
  auto h = READ(s, a);
  REQUIRE_MESSAGE(h, err_text(h));
  CHECK(h->size() == 1);
}

TEST_CASE("concurrency_ext::test_ack_with_stale_token_after_takeover" * doctest::test_suite("slow")) {
  LoopFixture f;
  Store p1 = create_provider(f);
  Store p2 = p1.open_same_store();
  const std::string a = "conc-stale";
  REQUIRE(EO(p1, start_item(a)));
  auto first = FO(p1, 1000ms);
  REQUIRE(first);
  REQUIRE(first->has_value());
  const std::string token1 = (*first)->lock_token;
  f.run_until([] { return false; }, 1100ms);
  auto second = FO(p2, 30s);
  REQUIRE_MESSAGE(second, err_text(second));
  REQUIRE(second->has_value());
  const std::string token2 = (*second)->lock_token;
  CHECK(token1 != token2);
  AckArgs a1;
  a1.delta.push_back(started_event(a));
  a1.metadata = meta();
  auto r1 = AO(p1, token1, 1, std::move(a1));
  REQUIRE_FALSE(r1);
  CHECK_FALSE(r1.error().retryable);
  CHECK_MESSAGE(r1.error().message.find("Invalid lock token") != std::string::npos, r1.error().to_string());
  AckArgs a2;
  a2.delta.push_back(started_event(a));
  a2.metadata = meta();
  auto r2 = AO(p2, token2, 1, std::move(a2));
  CHECK_MESSAGE(r2, err_text(r2));
  auto h = READ(p1, a);
  REQUIRE_MESSAGE(h, err_text(h));
  CHECK(h->size() == 1);
}

TEST_CASE("concurrency_ext::test_many_completions_to_one_parent_no_deadlock") {
  LoopFixture f;
  Store s1 = create_provider(f);
  Store s2 = s1.open_same_store();
  constexpr int kParents = 20, kPerParent = 5, kTotal = kParents * kPerParent;
  auto parent = [](int p) { return "conc-parent-" + std::to_string(p); };
  for (int p = 0; p < kParents; ++p) create_instance(s1, parent(p));

  // 100 completions, enqueued concurrently in interleaved order (k-major, parent-minor).
  auto enq = run_concurrently<void>(f, kTotal, [&](int i, Callback<void> cb) {
    const int p = i % kParents, k = i / kParents;
    s1->enqueue_for_orchestrator(
        WorkItem::SubOrchCompleted{parent(p), 1, static_cast<uint64_t>(100 + k), "r" + std::to_string(k)}, std::nullopt,
        std::move(cb));
  });
  for (auto& r : enq) REQUIRE_MESSAGE(r, err_text(r));

  std::map<std::pair<std::string, uint64_t>, int> delivered;  // counted on successful ack
  int delivered_total = 0, permanent_errors = 0, retryable_errors = 0, outstanding = 0;
  bool stop = false;
  std::vector<std::string> errors;

  struct Looper {
    Store* store;
    std::function<void()> step;
  };
  std::vector<std::unique_ptr<Looper>> loopers;
  auto make_looper = [&](Store& st) {
    auto l = std::make_unique<Looper>();
    Looper* self = l.get();
    self->store = &st;
    self->step = [&, self] {
      if (stop || delivered_total >= kTotal) return;
      ++outstanding;
      (*self->store)->fetch_orchestration_item(30s, 0ms, std::nullopt, [&, self](Result<std::optional<LockedOrchestration>> r) {
        --outstanding;
        if (!r) {
          (r.error().retryable ? retryable_errors : permanent_errors)++;
          if (!r.error().retryable) errors.push_back(r.error().to_string());
          return self->step();
        }
        if (!r->has_value()) return self->step();
        LockedOrchestration lo = std::move(**r);
        std::vector<std::pair<std::string, uint64_t>> ids;
        for (const auto& m : lo.item.messages) {
          const auto* c = m.get_if<WorkItem::SubOrchCompleted>();
          if (c) ids.emplace_back(c->parent_instance, c->parent_id);
          else errors.push_back("unexpected message " + to_string(m));
        }
        ++outstanding;
        const std::string token = lo.lock_token;
        (*self->store)->ack_orchestration_item(token, 1, {}, {}, {}, ExecutionMetadata{}, {},
                                                [&, self, ids = std::move(ids), token](Result<void> ar) {
          --outstanding;
          if (ar) {
            for (const auto& id : ids) {
              ++delivered[id];
              ++delivered_total;
            }
            return self->step();
          }
          if (!ar.error().retryable) {
            ++permanent_errors;
            errors.push_back(ar.error().to_string());
            return self->step();
          }
          ++retryable_errors;
          // A retryable ack failure keeps the lock: give the batch back and carry on.
          ++outstanding;
          (*self->store)->abandon_orchestration_item(token, std::nullopt, true, [&, self](Result<void>) {
            --outstanding;
            self->step();
          });
        });
      });
    };
    loopers.push_back(std::move(l));
  };
  for (int i = 0; i < 4; ++i) make_looper(s1);
  for (int i = 0; i < 4; ++i) make_looper(s2);

  const auto t0 = std::chrono::steady_clock::now();
  for (auto& l : loopers) l->step();
  const bool finished = f.run_until([&] { return delivered_total >= kTotal; }, 30s);
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  stop = true;
  REQUIRE(f.run_until([&] { return outstanding == 0; }, 30s));

  CHECK_MESSAGE(finished, "delivered " << delivered_total << " of " << kTotal << " within 30 s");
  CHECK(elapsed < 30s);
  CHECK(permanent_errors == 0);
  for (const auto& e : errors) MESSAGE(e);
  CHECK(delivered.size() == static_cast<size_t>(kTotal));
  int dups = 0;
  for (const auto& [id, n] : delivered)
    if (n != 1) ++dups;
  CHECK(dups == 0);
  CHECK(delivered_total == kTotal);
  MESSAGE("retryable errors: " << retryable_errors);
}
