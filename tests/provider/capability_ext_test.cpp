// conformance.md §6.5 — capability_ext: exact (major, minor, patch) comparison, every range of the
// filter honoured, inverted ranges match nothing, NULL pinned versions are always compatible.
#include <doctest/doctest.h>

#include "support/conformance_fixtures.h"

using namespace duroxide;
using namespace duroxide::test;

namespace {

std::string err_text(const auto& r) { return r ? std::string() : r.error().to_string(); }

SemVer V(const char* text) {
  auto v = SemVer::parse(text);
  REQUIRE_MESSAGE(v.has_value(), text);
  return *v;
}

DispatcherCapabilityFilter ranges(std::initializer_list<std::pair<const char*, const char*>> rs) {
  DispatcherCapabilityFilter f;
  for (auto [a, b] : rs) f.supported_duroxide_versions.push_back(SemverRange{V(a), V(b)});
  return f;
}

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

// Fetch with `filter`; when Some, checks the instance and abandons (ignore_attempt) so the next
// probe sees the same state.
bool probe(Store& s, const DispatcherCapabilityFilter& filter, const std::string& inst) {
  auto fo = FO(s, 30s, 0ms, filter);
  REQUIRE_MESSAGE(fo, err_text(fo));
  if (!fo->has_value()) return false;
  CHECK((*fo)->item.instance == inst);
  REQUIRE(AbO(s, (*fo)->lock_token, std::nullopt, true));
  return true;
}

}  // namespace

TEST_CASE("capability_ext::test_capability_filter_exact_triple_comparison") {
  LoopFixture f;
  {
    Store s = create_provider(f);
    seed_instance_with_version(s, "inst", "1.1000.0");
    CHECK_FALSE(probe(s, ranges({{"2.0.0", "2.0.0"}}), "inst"));
    CHECK_FALSE(probe(s, ranges({{"1.0.0", "1.999.999"}}), "inst"));
    CHECK(probe(s, ranges({{"1.1000.0", "1.1000.0"}}), "inst"));
  }
  Store s2 = create_provider(f);
  seed_instance_with_version(s2, "inst-patch", "0.0.1000");
  CHECK_FALSE(probe(s2, ranges({{"0.1.0", "0.1.0"}}), "inst-patch"));
}

TEST_CASE("capability_ext::test_capability_filter_three_ranges") {
  LoopFixture f;
  Store s = create_provider(f);
  seed_instance_with_version(s, "inst-3r", "2.5.0");
  CHECK(probe(s, ranges({{"1.0.0", "1.0.0"}, {"2.0.0", "2.9.9"}, {"3.0.0", "3.0.0"}}), "inst-3r"));
}

TEST_CASE("capability_ext::test_capability_filter_inverted_range_matches_nothing") {
  LoopFixture f;
  Store s = create_provider(f);
  seed_instance_with_version(s, "inst-inv", "1.0.0");
  CHECK_FALSE(probe(s, ranges({{"2.0.0", "1.0.0"}}), "inst-inv"));
  CHECK(probe(s, ranges({{"2.0.0", "1.0.0"}, {"1.0.0", "1.0.0"}}), "inst-inv"));
}

TEST_CASE("capability_ext::test_capability_filter_null_pinned_with_many_ranges") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "inst-null-many";
  REQUIRE(EO(s, start_item(inst)));
  {
    auto fo = FO(s);
    REQUIRE(fo);
    REQUIRE(fo->has_value());
    AckArgs a;
    a.delta.push_back(started_event(inst));
    a.metadata = meta();  // no pinned version
    auto r = AO(s, (*fo)->lock_token, 1, std::move(a));
    REQUIRE_MESSAGE(r, err_text(r));
  }
  REQUIRE(EO(s, external_item(inst, "ping")));
  CHECK(probe(s, ranges({{"5.0.0", "5.0.0"}, {"7.0.0", "7.1.0"}}), inst));
}

TEST_CASE("capability_ext::test_capability_filter_on_never_started_instance") {
  LoopFixture f;
  Store s = create_provider(f);
  REQUIRE(EO(s, start_item("new-inst")));
  auto fo = FO(s, 30s, 0ms, ranges({{"5.0.0", "5.0.0"}}));
  REQUIRE_MESSAGE(fo, err_text(fo));
  REQUIRE(fo->has_value());
  CHECK((*fo)->item.instance == "new-inst");
}
