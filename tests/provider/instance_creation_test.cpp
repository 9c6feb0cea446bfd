// conformance.md §5.8 — instance_creation: instances are created by ack metadata, never by enqueue;
// the metadata name and version overwrite what the fetch reports from the message.
#include <doctest/doctest.h>

#include "support/conformance_fixtures.h"

using namespace duroxide;
using namespace duroxide::test;

namespace {

std::string err_text(const Result<void>& r) { return r ? std::string() : r.error().to_string(); }

}  // namespace

TEST_CASE("instance_creation::test_instance_creation_via_metadata") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "A";

  REQUIRE(EO(s, start_item(inst)));  // the message carries version 1.0.0
  auto fo = FO(s, 30s);
  REQUIRE(fo);
  REQUIRE(fo->has_value());
  CHECK((*fo)->item.instance == inst);
  CHECK((*fo)->item.orchestration_name == "TestOrch");
  CHECK((*fo)->item.execution_id == 1);
  CHECK((*fo)->item.history.size() == 0);

  AckArgs a;
  a.delta.push_back(started_event(inst, 1, "TestOrch", "2.0.0"));
  a.metadata = meta(std::nullopt, std::nullopt, "TestOrch", "2.0.0");
  auto ack = AO(s, (*fo)->lock_token, 1, std::move(a));
  REQUIRE_MESSAGE(ack, err_text(ack));

  REQUIRE(EO(s, start_item(inst)));
  auto fo2 = FO(s, 30s);
  REQUIRE(fo2);
  REQUIRE(fo2->has_value());
  CHECK((*fo2)->item.version == "2.0.0");
  CHECK((*fo2)->item.execution_id == 1);
  CHECK((*fo2)->item.history.size() == 1);

  auto fin = AO(s, (*fo2)->lock_token, 1);
  CHECK_MESSAGE(fin, err_text(fin));
}

TEST_CASE("instance_creation::test_no_instance_creation_on_enqueue") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "B";

  REQUIRE(EO(s, start_item(inst)));
  CHECK(s.count_rows("instances", inst) == 0);  // enqueue creates nothing
  auto fo = FO(s, 30s);
  REQUIRE(fo);
  REQUIRE(fo->has_value());
  CHECK((*fo)->item.instance == inst);

  AckArgs a;
  a.delta.push_back(started_event(inst));
  a.metadata = meta();
  auto ack = AO(s, (*fo)->lock_token, 1, std::move(a));
  CHECK_MESSAGE(ack, err_text(ack));
}

TEST_CASE("instance_creation::test_null_version_handling") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string inst = "C";

  WorkItem start = WorkItem::StartOrchestration{inst, "TestOrch", "{}", std::nullopt, std::nullopt, std::nullopt, 1};
  REQUIRE(EO(s, start));
  auto fo = FO(s, 30s);
  REQUIRE(fo);
  REQUIRE(fo->has_value());
  CHECK((*fo)->item.instance == inst);

  AckArgs a;
  a.delta.push_back(started_event(inst, 1, "TestOrch", "3.0.0"));
  a.metadata = meta(std::nullopt, std::nullopt, "TestOrch", "3.0.0");
  auto ack = AO(s, (*fo)->lock_token, 1, std::move(a));
  REQUIRE_MESSAGE(ack, err_text(ack));

  REQUIRE(EO(s, start));
  auto fo2 = FO(s, 30s);
  REQUIRE(fo2);
  REQUIRE(fo2->has_value());
  CHECK((*fo2)->item.version == "3.0.0");

  auto fin = AO(s, (*fo2)->lock_token, 1);
  CHECK_MESSAGE(fin, err_text(fin));
}

TEST_CASE("instance_creation::test_sub_orchestration_instance_creation") {
  LoopFixture f;
  Store s = create_provider(f);
  const std::string parent = "parent-instance";
  const std::string child = "parent-instance::child-instance";

  REQUIRE(EO(s, WorkItem::StartOrchestration{parent, "ParentOrch", "{}", std::string("1.0.0"), std::nullopt,
                                             std::nullopt, 1}));
  auto fo = FO(s, 30s);
  REQUIRE(fo);
  REQUIRE(fo->has_value());
  CHECK((*fo)->item.instance == parent);

  AckArgs a;
  a.delta.push_back(started_event(parent, 1, "ParentOrch", "1.0.0"));
  a.delta.push_back(make_event(parent, 1, 2, EventKind::SubOrchestrationScheduled{"ChildOrch", child, "{}"}));
  a.orch_items.push_back(WorkItem::StartOrchestration{child, "ChildOrch", "{}", std::nullopt, parent, 1, 1});
  a.metadata = meta(std::nullopt, std::nullopt, "ParentOrch", "1.0.0");
  auto ack = AO(s, (*fo)->lock_token, 1, std::move(a));
  REQUIRE_MESSAGE(ack, err_text(ack));

  auto cf = FO(s, 30s);
  REQUIRE(cf);
  REQUIRE(cf->has_value());
  CHECK((*cf)->item.instance == child);
  CHECK((*cf)->item.orchestration_name == "ChildOrch");

  AckArgs c;
  c.delta.push_back(started_event(child, 1, "ChildOrch", "1.5.0"));
  c.metadata = meta(std::nullopt, std::nullopt, "ChildOrch", "1.5.0");
  c.metadata.parent_instance_id = parent;
  auto cack = AO(s, (*cf)->lock_token, 1, std::move(c));
  REQUIRE_MESSAGE(cack, err_text(cack));

  REQUIRE(EO(s, WorkItem::StartOrchestration{child, "ChildOrch", "{}", std::nullopt, std::nullopt, std::nullopt, 1}));
  auto cf2 = FO(s, 30s);
  REQUIRE(cf2);
  REQUIRE(cf2->has_value());
  CHECK((*cf2)->item.instance == child);
  CHECK((*cf2)->item.version == "1.5.0");

  auto fin = AO(s, (*cf2)->lock_token, 1);
  CHECK_MESSAGE(fin, err_text(fin));
}
