// conformance.md §5.5 — custom_status: derived from the last CustomStatusUpdated event of an ack's
// delta; the version goes up by one per ack carrying such an event; get(inst, v) is Some only when
// the stored version is greater than v (cross-cutting rule 16).
#include <doctest/doctest.h>

#include "support/conformance_fixtures.h"

using namespace duroxide;
using namespace duroxide::test;

namespace {

WorkItem poke_item(const std::string& inst) { return external_item(inst, "poke"); }

Event status_event(const std::string& inst, uint64_t event_id, std::optional<std::string> status) {
  return make_event(inst, 1, event_id, EventKind::CustomStatusUpdated{std::move(status)});
}

// A poke, FO(30 s), then AO(exec 1, delta, metadata).
void ack_with_metadata(Store& s, const std::string& inst, std::vector<Event> delta, ExecutionMetadata m = meta()) {
  REQUIRE(EO(s, poke_item(inst)));
  auto fo = FO(s, 30s);
  REQUIRE(fo);
  REQUIRE(fo->has_value());
  REQUIRE((*fo)->item.instance == inst);
  AckArgs a;
  a.delta = std::move(delta);
  a.metadata = std::move(m);
  auto r = AO(s, (*fo)->lock_token, 1, std::move(a));
  REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
}

void set_status(Store& s, const std::string& inst, uint64_t event_id, std::optional<std::string> status) {
  std::vector<Event> d;
  d.push_back(status_event(inst, event_id, std::move(status)));
  ack_with_metadata(s, inst, std::move(d));
}

Result<std::optional<CustomStatus>> GET(Store& s, const std::string& inst, uint64_t last_seen) {
  return await<std::optional<CustomStatus>>(s.loop(), [&](auto cb) { s->get_custom_status(inst, last_seen, std::move(cb)); });
}

}  // namespace

TEST_CASE("custom_status::test_custom_status_set") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "cs-set";
  create_instance(s, inst);
  set_status(s, inst, 100, std::string("progress"));
  auto g = GET(s, inst, 0);
  REQUIRE(g);
  REQUIRE(g->has_value());
  CHECK((*g)->status == std::optional<std::string>("progress"));
  CHECK((*g)->version == 1);
}

TEST_CASE("custom_status::test_custom_status_clear") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "cs-clear";
  create_instance(s, inst);
  set_status(s, inst, 100, std::string("temp"));
  auto g1 = GET(s, inst, 0);
  REQUIRE(g1);
  REQUIRE(g1->has_value());
  CHECK((*g1)->status == std::optional<std::string>("temp"));

  set_status(s, inst, 101, std::nullopt);
  auto g2 = GET(s, inst, 0);
  REQUIRE(g2);
  REQUIRE(g2->has_value());
  CHECK_FALSE((*g2)->status.has_value());
  CHECK((*g2)->version == 2);
}

TEST_CASE("custom_status::test_custom_status_none_preserves") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "cs-preserve";
  create_instance(s, inst);
  set_status(s, inst, 100, std::string("keep-me"));
  ack_with_metadata(s, inst, {});
  auto g = GET(s, inst, 0);
  REQUIRE(g);
  REQUIRE(g->has_value());
  CHECK((*g)->status == std::optional<std::string>("keep-me"));
  CHECK((*g)->version == 1);
}

TEST_CASE("custom_status::test_custom_status_version_increments") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "cs-versions";
  create_instance(s, inst);

  set_status(s, inst, 100, std::string("a"));
  auto g1 = GET(s, inst, 0);
  REQUIRE(g1);
  REQUIRE(g1->has_value());
  CHECK((*g1)->status == std::optional<std::string>("a"));
  CHECK((*g1)->version == 1);

  set_status(s, inst, 101, std::string("b"));
  auto g2 = GET(s, inst, 0);
  REQUIRE(g2);
  REQUIRE(g2->has_value());
  CHECK((*g2)->status == std::optional<std::string>("b"));
  CHECK((*g2)->version == 2);

  set_status(s, inst, 102, std::nullopt);
  auto g3 = GET(s, inst, 0);
  REQUIRE(g3);
  REQUIRE(g3->has_value());
  CHECK_FALSE((*g3)->status.has_value());
  CHECK((*g3)->version == 3);
}

TEST_CASE("custom_status::test_custom_status_polling_no_change") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "cs-poll";
  create_instance(s, inst);
  set_status(s, inst, 100, std::string("v1"));
  auto seen = GET(s, inst, 1);
  REQUIRE(seen);
  CHECK_FALSE(seen->has_value());
  auto fresh = GET(s, inst, 0);
  REQUIRE(fresh);
  REQUIRE(fresh->has_value());
  CHECK((*fresh)->status == std::optional<std::string>("v1"));
  CHECK((*fresh)->version == 1);
}

TEST_CASE("custom_status::test_custom_status_nonexistent_instance") {
  LoopFixture f;
  Store s = create_provider(f);
  auto g = GET(s, "does-not-exist", 0);
  REQUIRE_MESSAGE(g, (g ? "" : g.error().to_string()));
  CHECK_FALSE(g->has_value());
}

TEST_CASE("custom_status::test_custom_status_default_on_new_instance") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "cs-fresh";
  create_instance(s, inst);
  auto g = GET(s, inst, 0);
  REQUIRE(g);
  CHECK_FALSE(g->has_value());
}
