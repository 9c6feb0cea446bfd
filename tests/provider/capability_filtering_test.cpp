// conformance.md §5.4 — capability_filtering: the pinned Duroxide version is stored per execution
// from ack metadata; a filtered fetch skips incompatible instances before locking them and before
// reading their history; every range of the filter is honoured.
#include <doctest/doctest.h>

#include <vector>

#include "duroxide/provider_admin.h"
#include "support/conformance_fixtures.h"

using namespace duroxide;
using namespace duroxide::test;

namespace {

constexpr Millis LOCK_TIMEOUT = 30s;

std::string err_text(const auto& r) { return r ? std::string() : r.error().to_string(); }

SemVer V(const char* text) {
  auto v = SemVer::parse(text);
  REQUIRE_MESSAGE(v.has_value(), text);
  return *v;
}

DispatcherCapabilityFilter filter_for_range(const char* min, const char* max) {
  return DispatcherCapabilityFilter{{SemverRange{V(min), V(max)}}};
}

Event orchestration_started_event(const std::string& inst, const std::string& v, uint64_t exec = 1) {
  return started_event(inst, exec, "TestOrch", "1.0.0", v);
}

WorkItem ping(const std::string& inst, std::string name = "ping") { return external_item(inst, std::move(name)); }

// §3.2 seed_instance_with_version: afterwards the instance is unlocked, pinned to v, and has
// exactly one pending message.
void seed_instance_with_version(Store& s, const std::string& inst, const std::string& v) {
  REQUIRE(EO(s, start_item(inst)));
  std::vector<std::string> stashed;
  std::optional<LockedOrchestration> mine;
  for (int i = 0; i < 100 && !mine; ++i) {
    auto fo = FO(s, LOCK_TIMEOUT);
    REQUIRE_MESSAGE(fo, err_text(fo));
    REQUIRE_MESSAGE(fo->has_value(), "seed: the start item of " << inst << " never came back");
    if ((*fo)->item.instance == inst)
      mine = std::move(**fo);
    else
      stashed.push_back((*fo)->lock_token);
  }
  REQUIRE(mine.has_value());
  AckArgs a;
  a.delta.push_back(orchestration_started_event(inst, v));
  a.orch_items.push_back(ping(inst));
  a.metadata = meta();
  a.metadata.pinned_duroxide_version = V(v.c_str());
  auto r = AO(s, mine->lock_token, 1, std::move(a));
  REQUIRE_MESSAGE(r, err_text(r));
  for (const auto& t : stashed) {
    auto ab = AbO(s, t, std::nullopt, true);
    REQUIRE_MESSAGE(ab, err_text(ab));
  }
}

void seed_and_corrupt_history(Store& s, const std::string& inst, const std::string& v, int variant) {
  seed_instance_with_version(s, inst, v);
  s.corrupt_instance_history(inst, variant);
}

std::optional<LockedOrchestration> fetch(Store& s, std::optional<DispatcherCapabilityFilter> filter,
                                         Millis lock = LOCK_TIMEOUT) {
  auto fo = FO(s, lock, 0ms, std::move(filter));
  REQUIRE_MESSAGE(fo, err_text(fo));
  return std::move(*fo);
}

void abandon(Store& s, const LockedOrchestration& t, bool ignore_attempt = true) {
  auto r = AbO(s, t.lock_token, std::nullopt, ignore_attempt);
  REQUIRE_MESSAGE(r, err_text(r));
}

// Create an instance whose execution has no pinned version (the Started event's version field is
// `event_version`), then enqueue a ping.
void create_unpinned(Store& s, const std::string& inst, const std::string& event_version) {
  REQUIRE(EO(s, start_item(inst)));
  auto t = fetch(s, std::nullopt);
  REQUIRE(t.has_value());
  REQUIRE(t->item.instance == inst);
  AckArgs a;
  a.delta.push_back(orchestration_started_event(inst, event_version));
  a.metadata = meta();
  auto r = AO(s, t->lock_token, 1, std::move(a));
  REQUIRE_MESSAGE(r, err_text(r));
}

void sleep_ms(LoopFixture& f, Millis d) { f.run_until([] { return false; }, d); }

}  // namespace

TEST_CASE("capability_filtering::test_fetch_with_filter_none_returns_any_item") {
  LoopFixture f;
  Store s = create_provider(f);
  seed_instance_with_version(s, "inst-1", "1.2.3");
  CHECK(fetch(s, std::nullopt).has_value());
}

TEST_CASE("capability_filtering::test_fetch_with_compatible_filter_returns_item") {
  LoopFixture f;
  Store s = create_provider(f);
  seed_instance_with_version(s, "inst-2", "1.2.3");
  CHECK(fetch(s, filter_for_range("1.0.0", "1.9.9")).has_value());
}

TEST_CASE("capability_filtering::test_fetch_with_incompatible_filter_skips_item") {
  LoopFixture f;
  Store s = create_provider(f);
  seed_instance_with_version(s, "inst-3", "1.2.3");
  CHECK_FALSE(fetch(s, filter_for_range("2.0.0", "2.9.9")).has_value());
}

TEST_CASE("capability_filtering::test_fetch_filter_skips_incompatible_selects_compatible") {
  LoopFixture f;
  Store s = create_provider(f);
  seed_instance_with_version(s, "inst-v1", "1.0.0");
  seed_instance_with_version(s, "inst-v2", "2.0.0");
  auto t2 = fetch(s, filter_for_range("2.0.0", "2.9.9"));
  REQUIRE(t2.has_value());
  CHECK(t2->item.instance == "inst-v2");
  abandon(s, *t2, true);
  auto t1 = fetch(s, filter_for_range("1.0.0", "1.9.9"));
  REQUIRE(t1.has_value());
  CHECK(t1->item.instance == "inst-v1");
}

TEST_CASE("capability_filtering::test_fetch_filter_does_not_lock_skipped_instances") {
  LoopFixture f;
  Store s = create_provider(f);
  seed_instance_with_version(s, "inst-5", "1.0.0");
  CHECK_FALSE(fetch(s, filter_for_range("2.0.0", "2.9.9")).has_value());
  auto t = fetch(s, filter_for_range("0.0.0", "1.9.9"));
  REQUIRE(t.has_value());
  CHECK(t->item.instance == "inst-5");
}

TEST_CASE("capability_filtering::test_fetch_filter_null_pinned_version_always_compatible") {
  LoopFixture f;
  Store s = create_provider(f);
  create_unpinned(s, "inst-null", "0.0.0");
  REQUIRE(EO(s, ping("inst-null")));
  auto t = fetch(s, filter_for_range("99.0.0", "99.9.9"));
  REQUIRE(t.has_value());
  CHECK(t->item.instance == "inst-null");
}

TEST_CASE("capability_filtering::test_fetch_filter_boundary_versions") {
  LoopFixture f;
  const auto filter = filter_for_range("1.0.0", "1.9.99");
  {
    Store s = create_provider(f);
    seed_instance_with_version(s, "v1-low", "1.0.0");
    auto low = fetch(s, filter);
    REQUIRE(low.has_value());
    CHECK(low->item.instance == "v1-low");
    abandon(s, *low);

    seed_instance_with_version(s, "v1-high", "1.9.99");
    auto high = fetch(s, filter);
    REQUIRE(high.has_value());
    abandon(s, *high);
  }
  Store s2 = create_provider(f);
  seed_instance_with_version(s2, "v2-exact", "2.0.0");
  CHECK_FALSE(fetch(s2, filter).has_value());
  CHECK(fetch(s2, std::nullopt).has_value());
}

TEST_CASE("capability_filtering::test_pinned_version_stored_via_ack_metadata") {
  LoopFixture f;
  Store s = create_provider(f);
  seed_instance_with_version(s, "inst-8", "3.1.4");
  CHECK(fetch(s, filter_for_range("3.0.0", "3.9.9")).has_value());
}

TEST_CASE("capability_filtering::test_pinned_version_immutable_across_ack_cycles") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "inst-9";
  const auto filter = filter_for_range("1.0.0", "1.9.9");
  seed_instance_with_version(s, inst, "1.0.0");
  auto t = fetch(s, filter);
  REQUIRE(t.has_value());
  REQUIRE(t->item.instance == inst);
  AckArgs a;  // second turn: metadata carries no pinned version
  a.metadata = meta();
  auto r = AO(s, t->lock_token, 1, std::move(a));
  REQUIRE_MESSAGE(r, err_text(r));
  REQUIRE(EO(s, ping(inst, "ping2")));
  auto t2 = fetch(s, filter);
  REQUIRE(t2.has_value());
  CHECK(t2->item.instance == inst);
}

TEST_CASE("capability_filtering::test_continue_as_new_execution_gets_own_pinned_version") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "inst-can";
  seed_instance_with_version(s, inst, "1.0.0");
  {
    auto t = fetch(s, filter_for_range("1.0.0", "1.9.9"));
    REQUIRE(t.has_value());
    REQUIRE(t->item.instance == inst);
    AckArgs a;
    a.delta.push_back(make_event(inst, 1, 2, EventKind::OrchestrationContinuedAsNew{"{}"}));
    a.orch_items.push_back(WorkItem::ContinueAsNew{inst, "TestOrch", "{}", std::string("1.0.0"), {}, std::nullopt});
    a.metadata = meta("ContinuedAsNew", std::string("{}"));
    auto r = AO(s, t->lock_token, 1, std::move(a));
    REQUIRE_MESSAGE(r, err_text(r));
  }
  {
    auto t = fetch(s, std::nullopt);
    REQUIRE(t.has_value());
    REQUIRE(t->item.instance == inst);
    REQUIRE(t->item.messages.size() == 1);
    CHECK(t->item.messages[0].get_if<WorkItem::ContinueAsNew>() != nullptr);
    AckArgs a;
    a.delta.push_back(orchestration_started_event(inst, "2.0.0", 2));
    a.metadata = meta();
    a.metadata.pinned_duroxide_version = V("2.0.0");
    auto r = AO(s, t->lock_token, 2, std::move(a));
    REQUIRE_MESSAGE(r, err_text(r));
  }
  REQUIRE(EO(s, ping(inst)));
  auto t2 = fetch(s, filter_for_range("2.0.0", "2.9.9"));
  REQUIRE(t2.has_value());
  CHECK(t2->item.instance == inst);
  abandon(s, *t2);
  CHECK_FALSE(fetch(s, filter_for_range("1.0.0", "1.9.9")).has_value());
}

TEST_CASE("capability_filtering::test_filter_with_empty_supported_versions_returns_nothing") {
  LoopFixture f;
  Store s = create_provider(f);
  seed_instance_with_version(s, "inst-11", "1.0.0");
  CHECK_FALSE(fetch(s, DispatcherCapabilityFilter{}).has_value());
}

TEST_CASE("capability_filtering::test_concurrent_filtered_fetch_no_double_lock") {
  LoopFixture f;
  Store s = create_provider(f);
  seed_instance_with_version(s, "inst-12", "1.0.0");
  const auto filter = filter_for_range("1.0.0", "1.9.9");
  CHECK(fetch(s, filter).has_value());
  CHECK_FALSE(fetch(s, filter).has_value());
}

TEST_CASE("capability_filtering::test_ack_stores_pinned_version_via_metadata_update") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "inst-13";
  create_unpinned(s, inst, "1.2.3");
  REQUIRE(EO(s, ping(inst)));
  {
    auto t = fetch(s, std::nullopt);
    REQUIRE(t.has_value());
    REQUIRE(t->item.instance == inst);
    AckArgs a;  // a later turn backfills the pinned version
    a.metadata = meta();
    a.metadata.pinned_duroxide_version = V("1.2.3");
    auto r = AO(s, t->lock_token, 1, std::move(a));
    REQUIRE_MESSAGE(r, err_text(r));
  }
  REQUIRE(EO(s, ping(inst, "ping2")));
  auto t = fetch(s, filter_for_range("1.0.0", "1.9.9"));
  REQUIRE(t.has_value());
  CHECK(t->item.instance == inst);
}

TEST_CASE("capability_filtering::test_provider_updates_pinned_version_when_told") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "inst-14";
  seed_instance_with_version(s, inst, "1.0.0");
  {
    auto t = fetch(s, filter_for_range("1.0.0", "1.9.9"));
    REQUIRE(t.has_value());
    AckArgs a;
    a.metadata = meta();
    a.metadata.pinned_duroxide_version = V("2.0.0");
    auto r = AO(s, t->lock_token, 1, std::move(a));
    REQUIRE_MESSAGE(r, err_text(r));
  }
  REQUIRE(EO(s, ping(inst, "ping2")));
  auto t = fetch(s, filter_for_range("2.0.0", "2.0.0"));
  REQUIRE(t.has_value());
  CHECK(t->item.instance == inst);
  abandon(s, *t);
  CHECK_FALSE(fetch(s, filter_for_range("1.0.0", "1.0.0")).has_value());
}

TEST_CASE("capability_filtering::test_fetch_corrupted_history_filtered_vs_unfiltered") {
  for (int variant = 0; variant < 2; ++variant) {
    CAPTURE(variant);
    LoopFixture f;
    Store s = create_provider(f);
    const std::string inst = "inst-corrupt";
    seed_and_corrupt_history(s, inst, "1.0.0", variant);
    auto filtered = FO(s, LOCK_TIMEOUT, 0ms, filter_for_range("2.0.0", "2.9.9"));
    REQUIRE_MESSAGE(filtered, err_text(filtered));
    CHECK_FALSE(filtered->has_value());
    auto t = FO(s, LOCK_TIMEOUT, 0ms, std::nullopt);
    REQUIRE_MESSAGE(t, err_text(t));
    REQUIRE(t->has_value());
    CHECK((*t)->item.instance == inst);
    CHECK((*t)->item.history_error.has_value());
    CHECK((*t)->item.history.empty());
    auto ab = AbO(s, (*t)->lock_token, std::nullopt, true);
    CHECK_MESSAGE(ab, err_text(ab));
  }
}

TEST_CASE("capability_filtering::test_fetch_deserialization_error_increments_attempt_count") {
  for (int variant = 0; variant < 2; ++variant) {
    CAPTURE(variant);
    LoopFixture f;
    Store s = create_provider(f);
    const std::string inst = "inst-attempts";
    seed_and_corrupt_history(s, inst, "1.0.0", variant);
    for (int i = 0; i < 2; ++i) {
      auto t = fetch(s, std::nullopt, 50ms);
      REQUIRE(t.has_value());
      CHECK(t->item.history_error.has_value());
      abandon(s, *t, false);
      sleep_ms(f, 100ms);
    }
    CHECK(s.get_max_attempt_count(inst) >= 2);
  }
}

TEST_CASE("capability_filtering::test_fetch_deserialization_error_eventually_reaches_poison") {
  for (int variant = 0; variant < 2; ++variant) {
    CAPTURE(variant);
    LoopFixture f;
    Store s = create_provider(f);
    const std::string inst = "inst-poison";
    seed_and_corrupt_history(s, inst, "1.0.0", variant);
    for (int i = 0; i < 5; ++i) {
      auto t = fetch(s, std::nullopt, 50ms);
      REQUIRE(t.has_value());
      CHECK(t->item.history_error.has_value());
      abandon(s, *t, false);
      sleep_ms(f, 100ms);
    }
    CHECK(s.get_max_attempt_count(inst) >= 5);
  }
}

TEST_CASE("capability_filtering::test_fetch_filter_applied_before_history_deserialization") {
  for (int variant = 0; variant < 2; ++variant) {
    CAPTURE(variant);
    LoopFixture f;
    Store s = create_provider(f);
    const std::string inst = "inst-99";
    seed_and_corrupt_history(s, inst, "99.0.0", variant);
    auto filtered = FO(s, LOCK_TIMEOUT, 0ms, filter_for_range("1.0.0", "2.0.0"));
    REQUIRE_MESSAGE(filtered, err_text(filtered));
    CHECK_FALSE(filtered->has_value());
    auto t = fetch(s, std::nullopt);
    REQUIRE(t.has_value());
    CHECK(t->item.instance == inst);
    CHECK(t->item.history_error.has_value());
    abandon(s, *t, true);
  }
}

TEST_CASE("capability_filtering::test_fetch_multi_range_honours_every_range") {
  LoopFixture f;
  Store s = create_provider(f);
  seed_instance_with_version(s, "inst-range-a", "1.0.0");
  seed_instance_with_version(s, "inst-range-b", "3.0.0");
  seed_instance_with_version(s, "inst-range-c", "2.0.0");
  const DispatcherCapabilityFilter F{{SemverRange{V("1.0.0"), V("1.5.0")}, SemverRange{V("3.0.0"), V("3.5.0")}}};
  auto a = fetch(s, F);
  REQUIRE(a.has_value());
  CHECK(a->item.instance == "inst-range-a");
  auto b = fetch(s, F);
  REQUIRE(b.has_value());
  CHECK(b->item.instance == "inst-range-b");
  CHECK_FALSE(fetch(s, F).has_value());
  abandon(s, *a, true);
  abandon(s, *b, true);
  auto c = fetch(s, filter_for_range("2.0.0", "2.0.0"));
  REQUIRE(c.has_value());
  CHECK(c->item.instance == "inst-range-c");
}

TEST_CASE("capability_filtering::test_ack_appends_event_to_corrupted_history") {
  for (int variant = 0; variant < 2; ++variant) {
    CAPTURE(variant);
    LoopFixture f;
    Store s = create_provider(f);
    const std::string inst = "inst-poisoned";
    seed_and_corrupt_history(s, inst, "1.0.0", variant);
    auto t = fetch(s, std::nullopt);
    REQUIRE(t.has_value());
    REQUIRE(t->item.history_error.has_value());
    CHECK(t->item.history.empty());
    const OrchestrationItem& item = t->item;
    ErrorDetails details = ErrorDetails::Poison{
        4, 3, PoisonMessageType::FailedDeserialization{item.instance, item.execution_id, *item.history_error},
        *item.history_error};
    const std::string display = to_string(details);
    AckArgs a;
    a.delta.push_back(make_event(inst, item.execution_id, 99999, EventKind::OrchestrationFailed{details}));
    a.metadata = meta("Failed", display, item.orchestration_name, item.version);
    auto r = AO(s, t->lock_token, item.execution_id, std::move(a));
    REQUIRE_MESSAGE(r, err_text(r));
    auto info = mgmt::get_instance_info(s, inst);
    REQUIRE_MESSAGE(info, err_text(info));
    CHECK(info->status == "Failed");
    REQUIRE(info->output.has_value());
    CHECK_MESSAGE(contains_ci(*info->output, "deserialization failed"), *info->output);
  }
}
