// conformance.md §5.19 — tag_filtering: DefaultOnly, Tags, DefaultAnd, Any and None select worker
// items by tag; the tag survives abandon and ack_orchestration_item (cross-cutting rule 19).
#include <doctest/doctest.h>

#include "support/conformance_fixtures.h"

using namespace duroxide;
using namespace duroxide::test;

namespace {

const std::string kInst = "tag-inst";

WorkItem tagged_activity(const std::string& inst, uint64_t id, std::optional<std::string> tag) {
  return WorkItem::ActivityExecute{inst, 1, id, "Activity" + std::to_string(id), "input", std::nullopt, std::move(tag)};
}

const WorkItem::ActivityExecute& act(const LockedWorkItem& w) {
  const auto* ae = w.item.get_if<WorkItem::ActivityExecute>();
  REQUIRE(ae != nullptr);
  return *ae;
}

void enqueue(Store& s, uint64_t id, std::optional<std::string> tag) {
  auto r = EW(s, tagged_activity(kInst, id, std::move(tag)));
  REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
}

// A fetch with a 5 s lock and the given filter; REQUIREs success.
std::optional<LockedWorkItem> fetch(Store& s, TagFilter tags, Millis lock = 5s) {
  auto r = FW(s, lock, 0ms, std::nullopt, std::move(tags));
  REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
  return std::move(*r);
}

TagFilter tags_of(std::initializer_list<const char*> names) {
  std::set<std::string> t;
  for (const char* n : names) t.insert(n);
  return TagFilter::Tags{std::move(t)};
}

TagFilter default_and(std::initializer_list<const char*> names) {
  std::set<std::string> t;
  for (const char* n : names) t.insert(n);
  return TagFilter::DefaultAnd{std::move(t)};
}

}  // namespace

TEST_CASE("tag_filtering::test_default_only_fetches_untagged") {
  LoopFixture f;
  Store s = create_provider(f);
  enqueue(s, 1, std::nullopt);
  enqueue(s, 2, std::string("gpu"));
  enqueue(s, 3, std::nullopt);

  auto a = fetch(s, TagFilter::DefaultOnly{});
  REQUIRE(a);
  CHECK(act(*a).id == 1);
  CHECK_FALSE(act(*a).tag.has_value());
  auto b = fetch(s, TagFilter::DefaultOnly{});
  REQUIRE(b);
  CHECK(act(*b).id == 3);
  CHECK_FALSE(act(*b).tag.has_value());
  CHECK_FALSE(fetch(s, TagFilter::DefaultOnly{}).has_value());
}

TEST_CASE("tag_filtering::test_tags_fetches_only_matching") {
  LoopFixture f;
  Store s = create_provider(f);
  enqueue(s, 1, std::nullopt);
  enqueue(s, 2, std::string("gpu"));
  enqueue(s, 3, std::string("cpu"));
  enqueue(s, 4, std::string("gpu"));

  auto a = fetch(s, tags_of({"gpu"}));
  REQUIRE(a);
  CHECK(act(*a).id == 2);
  CHECK(act(*a).tag == std::optional<std::string>("gpu"));
  auto b = fetch(s, tags_of({"gpu"}));
  REQUIRE(b);
  CHECK(act(*b).id == 4);
  CHECK(act(*b).tag == std::optional<std::string>("gpu"));
  CHECK_FALSE(fetch(s, tags_of({"gpu"})).has_value());
}

TEST_CASE("tag_filtering::test_default_and_fetches_untagged_and_matching") {
  LoopFixture f;
  Store s = create_provider(f);
  enqueue(s, 1, std::nullopt);
  enqueue(s, 2, std::string("gpu"));
  enqueue(s, 3, std::string("cpu"));

  auto a = fetch(s, default_and({"gpu"}));
  REQUIRE(a);
  CHECK(act(*a).id == 1);
  CHECK_FALSE(act(*a).tag.has_value());
  auto b = fetch(s, default_and({"gpu"}));
  REQUIRE(b);
  CHECK(act(*b).id == 2);
  CHECK(act(*b).tag == std::optional<std::string>("gpu"));
  CHECK_FALSE(fetch(s, default_and({"gpu"})).has_value());
}

TEST_CASE("tag_filtering::test_none_filter_returns_nothing") {
  LoopFixture f;
  Store s = create_provider(f);
  enqueue(s, 1, std::nullopt);
  enqueue(s, 2, std::string("gpu"));
  CHECK_FALSE(fetch(s, TagFilter::None{}).has_value());
}

TEST_CASE("tag_filtering::test_multi_tag_filter") {
  LoopFixture f;
  Store s = create_provider(f);
  enqueue(s, 1, std::string("gpu"));
  enqueue(s, 2, std::string("tpu"));
  enqueue(s, 3, std::string("cpu"));
  enqueue(s, 4, std::nullopt);

  auto a = fetch(s, tags_of({"gpu", "tpu"}));
  REQUIRE(a);
  CHECK(act(*a).id == 1);
  CHECK(act(*a).tag == std::optional<std::string>("gpu"));
  auto b = fetch(s, tags_of({"gpu", "tpu"}));
  REQUIRE(b);
  CHECK(act(*b).id == 2);
  CHECK(act(*b).tag == std::optional<std::string>("tpu"));
  CHECK_FALSE(fetch(s, tags_of({"gpu", "tpu"})).has_value());
}

TEST_CASE("tag_filtering::test_tag_round_trip_preservation") {
  LoopFixture f;
  Store s = create_provider(f);
  enqueue(s, 1, std::string("gpu"));
  auto a = fetch(s, tags_of({"gpu"}));
  REQUIRE(a);
  CHECK(act(*a).tag == std::optional<std::string>("gpu"));
  CHECK(act(*a).name == "Activity1");
}

TEST_CASE("tag_filtering::test_any_filter_fetches_everything") {
  LoopFixture f;
  Store s = create_provider(f);
  enqueue(s, 1, std::nullopt);
  enqueue(s, 2, std::string("gpu"));
  enqueue(s, 3, std::string("cpu"));
  for (int i = 0; i < 3; ++i) {
    CAPTURE(i);
    CHECK(fetch(s, TagFilter::Any{}).has_value());
  }
  CHECK_FALSE(fetch(s, TagFilter::Any{}).has_value());
}

TEST_CASE("tag_filtering::test_tag_survives_abandon_and_refetch") {
  LoopFixture f;
  Store s = create_provider(f);
  enqueue(s, 1, std::string("gpu"));
  enqueue(s, 2, std::nullopt);

  auto a = fetch(s, tags_of({"gpu"}));
  REQUIRE(a);
  CHECK(act(*a).id == 1);
  auto ab = AbW(s, a->lock_token);
  REQUIRE_MESSAGE(ab, (ab ? "" : ab.error().to_string()));

  auto b = fetch(s, tags_of({"gpu"}));
  REQUIRE(b);
  CHECK(act(*b).id == 1);
  CHECK(act(*b).tag == std::optional<std::string>("gpu"));
  CHECK(b->attempt_count >= 2);
  CHECK(b->lock_token != a->lock_token);

  auto c = fetch(s, TagFilter::DefaultOnly{});
  REQUIRE(c);
  CHECK(act(*c).id == 2);
  CHECK_FALSE(act(*c).tag.has_value());
}

TEST_CASE("tag_filtering::test_multi_runtime_tag_isolation") {
  LoopFixture f;
  Store s = create_provider(f);
  enqueue(s, 1, std::nullopt);
  enqueue(s, 2, std::string("gpu"));
  enqueue(s, 3, std::string("cpu"));
  enqueue(s, 4, std::string("fpga"));
  enqueue(s, 5, std::string("gpu"));

  auto d = fetch(s, TagFilter::DefaultOnly{}, 30s);
  REQUIRE(d);
  CHECK(act(*d).id == 1);
  CHECK_FALSE(fetch(s, TagFilter::DefaultOnly{}, 30s).has_value());

  std::set<uint64_t> gc;
  for (int i = 0; i < 2; ++i) {
    auto w = fetch(s, tags_of({"gpu", "cpu"}), 30s);
    REQUIRE(w);
    gc.insert(act(*w).id);
  }
  CHECK(gc == std::set<uint64_t>{2, 3});

  auto cf = fetch(s, tags_of({"cpu", "fpga"}), 30s);
  REQUIRE(cf);
  CHECK(act(*cf).id == 4);
  CHECK(act(*cf).tag == std::optional<std::string>("fpga"));
  CHECK_FALSE(fetch(s, tags_of({"cpu", "fpga"}), 30s).has_value());

  auto any = fetch(s, TagFilter::Any{}, 30s);
  REQUIRE(any);
  CHECK(act(*any).id == 5);
  CHECK_FALSE(fetch(s, TagFilter::Any{}, 30s).has_value());
}

TEST_CASE("tag_filtering::test_tag_preserved_through_ack_orchestration_item") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "tag-ack-inst";
  REQUIRE(EO(s, start_item(inst)));
  auto fo = FO(s, 30s);
  REQUIRE(fo);
  REQUIRE(fo->has_value());
  AckArgs a;
  a.delta.push_back(started_event(inst));
  a.worker_items.push_back(WorkItem::ActivityExecute{inst, 1, 10, "GpuWork", "input", std::nullopt, std::string("gpu")});
  a.worker_items.push_back(WorkItem::ActivityExecute{inst, 1, 11, "CpuWork", "input", std::nullopt, std::nullopt});
  a.metadata = meta();
  auto ack = AO(s, (*fo)->lock_token, 1, std::move(a));
  REQUIRE_MESSAGE(ack, (ack ? "" : ack.error().to_string()));

  auto d1 = fetch(s, TagFilter::DefaultOnly{});
  REQUIRE(d1);
  CHECK(act(*d1).name == "CpuWork");
  CHECK_FALSE(act(*d1).tag.has_value());
  auto aw = AW(s, d1->lock_token);
  REQUIRE_MESSAGE(aw, (aw ? "" : aw.error().to_string()));

  CHECK_FALSE(fetch(s, TagFilter::DefaultOnly{}).has_value());

  auto g = fetch(s, tags_of({"gpu"}));
  REQUIRE(g);
  CHECK(act(*g).name == "GpuWork");
  CHECK(act(*g).tag == std::optional<std::string>("gpu"));
}
