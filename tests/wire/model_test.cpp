// The non-codec behaviour of the data model: Display strings (§3.3), routing, names, versions
// and filters.
#include <doctest/doctest.h>

#include "duroxide/admin_types.h"
#include "duroxide/filters.h"
#include "duroxide/orchestration.h"
#include "duroxide/wire.h"

using namespace duroxide;

TEST_CASE("ErrorDetails Display strings are the runtime's") {
  CHECK(to_string(ErrorDetails{error_details::Infrastructure{"op", "boom", true}}) ==
        "infrastructure:op: boom");
  CHECK(to_string(ErrorDetails{error_details::Configuration{ConfigErrorKind::Nondeterminism, "Child",
                                                            "changed"}}) ==
        "nondeterministic: changed");
  CHECK(to_string(ErrorDetails{error_details::Configuration{ConfigErrorKind::Nondeterminism, "Child",
                                                            std::nullopt}}) ==
        "nondeterministic in Child");
  CHECK(to_string(ErrorDetails{error_details::Application{app_error_kind::Cancelled{"user"}, "m",
                                                          false}}) == "canceled: user");
  CHECK(to_string(ErrorDetails{error_details::Application{app_error_kind::Panicked{}, "oops",
                                                          false}}) ==
        "orchestration panicked: oops");
  CHECK(to_string(ErrorDetails{error_details::Application{app_error_kind::ActivityFailed{}, "bad",
                                                          false}}) == "bad");
  CHECK(to_string(ErrorDetails{error_details::Application{app_error_kind::OrchestrationFailed{},
                                                          "worse", true}}) == "worse");
  CHECK(to_string(ErrorDetails{error_details::Poison{
            11, 10, poison_message_type::Orchestration{"inst", 1}, "{}"}}) ==
        "poison: orchestration inst exceeded 11 attempts (max 10)");
  CHECK(to_string(ErrorDetails{error_details::Poison{
            3, 2, poison_message_type::Activity{"inst", 1, "Charge", 7}, ""}}) ==
        "poison: activity Charge#7 exceeded 3 attempts (max 2)");
  CHECK(to_string(ErrorDetails{error_details::Poison{
            1, 1, poison_message_type::FailedDeserialization{"inst", 2, "unknown variant"}, ""}}) ==
        "poison: orchestration inst history deserialization failed after 1 attempts (max 1): "
        "unknown variant");
}

TEST_CASE("ProviderError maps to ErrorDetails::Infrastructure") {
  const ErrorDetails d = to_infrastructure_error(retryable_error("ack_orchestration_item", "lost"));
  REQUIRE(d.holds<error_details::Infrastructure>());
  CHECK(*d.get_if<error_details::Infrastructure>() ==
        error_details::Infrastructure{"ack_orchestration_item", "lost", true});
  CHECK(to_string(d) == "infrastructure:ack_orchestration_item: lost");
}

TEST_CASE("routing instance and variant names") {
  CHECK(routing_instance(work_item::SubOrchCompleted{"parent", 1, 5, "r"}) == "parent");
  CHECK(routing_instance(work_item::SubOrchFailed{"parent", 1, 5, {}}) == "parent");
  CHECK(routing_instance(work_item::StartOrchestration{"child", "P", "", {}, "parent", 5, 1}) ==
        "child");
  CHECK(routing_instance(work_item::ActivityExecute{"inst", 1, 2, "A", "", {}, {}}) == "inst");
  CHECK(variant_name(work_item::QueueMessage{"i", "n", "d"}) == "QueueMessage");
  CHECK(to_string(WorkItem{work_item::CancelInstance{"i", "r"}}) ==
        R"(CancelInstance {"CancelInstance":{"instance":"i","reason":"r"}})");
}

TEST_CASE("event type names use the legacy wire names for the queue kinds") {
  CHECK(event_type_name(EventKind{event_kind::QueueSubscribed{"q"}}) ==
        "ExternalSubscribedPersistent");
  CHECK(event_type_name(EventKind{event_kind::QueueEventDelivered{"q", "d"}}) ==
        "ExternalEventPersistent");
  CHECK(event_type_name(EventKind{event_kind::QueueSubscriptionCancelled{"r"}}) ==
        "ExternalSubscribedPersistentCancelled");
  CHECK(event_type_name(EventKind{event_kind::KeyValuesCleared{}}) == "KeyValuesCleared");
  Event e;
  e.kind = event_kind::OrchestrationStarted{};
  CHECK(event_type_name(e) == "OrchestrationStarted");
  CHECK(is_terminal(EventKind{event_kind::OrchestrationContinuedAsNew{"x"}}));
  CHECK(is_terminal(EventKind{event_kind::OrchestrationFailed{}}));
  CHECK_FALSE(is_terminal(EventKind{event_kind::OrchestrationCancelRequested{"x"}}));
}

TEST_CASE("SemVer parses the numeric triple and ignores pre-release/build tags") {
  CHECK(SemVer::parse("0.1.26") == SemVer{0, 1, 26});
  CHECK(SemVer::parse("1.2.3-rc.1+build.5") == SemVer{1, 2, 3});
  CHECK(SemVer::parse("18446744073709551615.0.0") == SemVer{18446744073709551615ULL, 0, 0});
  CHECK_FALSE(SemVer::parse("1.2").has_value());
  CHECK_FALSE(SemVer::parse("1.2.x").has_value());
  CHECK_FALSE(SemVer::parse("18446744073709551616.0.0").has_value());
  CHECK_FALSE(SemVer::parse("").has_value());
  CHECK(SemVer{0, 9, 99} < SemVer{0, 10, 0});
  CHECK(SemVer{1, 2, 3}.to_string() == "1.2.3");

  const DispatcherCapabilityFilter filter{{SemverRange{{0, 0, 0}, {0, 1, 26}},
                                           SemverRange{{2, 0, 0}, {1, 0, 0}}}};
  CHECK(filter.accepts({0, 1, 26}));
  CHECK_FALSE(filter.accepts({0, 1, 27}));
  CHECK_FALSE(filter.accepts({1, 5, 0}));  // the second range is empty (min > max)
}

TEST_CASE("TagFilter reference semantics") {
  const std::string gpu = "gpu", empty;
  CHECK(TagFilter{}.matches(nullptr));  // DefaultOnly is the default
  CHECK_FALSE(TagFilter{}.matches(&empty));
  CHECK(TagFilter{tag_filter::Tags{{""}}}.matches(&empty));
  CHECK_FALSE(TagFilter{tag_filter::Tags{}}.matches(nullptr));
  CHECK(TagFilter{tag_filter::DefaultAnd{{"gpu"}}}.matches(&gpu));
  CHECK(TagFilter{tag_filter::DefaultAnd{}}.matches(nullptr));
  CHECK(TagFilter{tag_filter::Any{}}.matches(&gpu));
  CHECK_FALSE(TagFilter{tag_filter::None{}}.matches(nullptr));
  CHECK(to_string(TagFilter{tag_filter::DefaultAnd{{"io", "gpu"}}}) == "DefaultAnd{gpu,io}");
}

TEST_CASE("admin and orchestration value types compare by value") {
  InstanceTree tree{"root", {"root"}};
  CHECK(tree.is_root_only());
  CHECK(tree.size() == 1);
  CHECK(QueueDepths{} == QueueDepths{0, 0, 0});
  OrchestrationItem a;
  a.history.push_back(Event{});
  a.messages.push_back(work_item::CancelInstance{"i", "r"});
  a.kv_snapshot["k"] = KvEntry{"v", 5};
  OrchestrationItem b = a;
  CHECK(a == b);
  b.kv_snapshot["k"].last_updated_at_ms = 6;
  CHECK_FALSE(a == b);
  CHECK(ExecutionMetadata{} == ExecutionMetadata{});
}
