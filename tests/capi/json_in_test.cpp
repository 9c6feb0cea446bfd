// Unit tests of the C API's JSON reading (c-api.md §4.1, §5) and result text helpers.
#include <doctest/doctest.h>

#include <string>

#include "capi/json_in.h"
#include "capi/json_out.h"
#include "capi/result.h"

using namespace duroxide;
using namespace duroxide::capi;

namespace {
std::string reason(std::string_view text) {
  auto r = parse_json(text, "op", "p");
  return r ? std::string() : r.error().message;
}
}  // namespace

TEST_CASE("parser accepts RFC 8259 texts and keeps raw spans") {
  auto v = parse_json(" {\"a\":[1,2,{\"b\":null}],\"c\":\"x\\u00e9\\ud83d\\ude00\"} ", "op", "p");
  REQUIRE(v);
  CHECK(v->kind == JVal::Kind::kObject);
  CHECK(v->find("a")->items.size() == 3);
  CHECK(v->find("a")->items[2].raw == "{\"b\":null}");
  CHECK(v->find("c")->str == "x\xC3\xA9\xF0\x9F\x98\x80");
  auto big = parse_json("[18446744073709551615,9007199254740993,18446744073709551616,-1,1.0,1e2]", "op", "p");
  REQUIRE(big);
  CHECK(big->items[0].is_uint);
  CHECK(big->items[0].uint == 18446744073709551615ull);
  CHECK(big->items[1].uint == 9007199254740993ull);
  CHECK_FALSE(big->items[2].is_uint);
  CHECK_FALSE(big->items[3].is_uint);
  CHECK_FALSE(big->items[4].is_uint);
  CHECK_FALSE(big->items[5].is_uint);
}

TEST_CASE("parser rejects what §4.1 rejects") {
  for (const char* bad : {"\xEF\xBB\xBF{}", "{\"a\":1,}", "[1,]", "{'a':1}", "NaN", "Infinity", "01", "[01]",
                          "\"\\x\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"a\tb\"", "{} x",
                          "/*c*/{}", "{\"a\":1,\"a\":2}", "{\"o\":{\"k\":1,\"k\":1}}", "", "  ", "\"\xC3\"",
                          "\"\xED\xA0\x80\"", "\"\xC0\xAF\"", "tru", "{\"a\" 1}", "[1 2]", "-", "1.", "1e"}) {
    CAPTURE(bad);
    CHECK_FALSE(reason(bad).empty());
    CHECK(reason(bad).starts_with("Invalid argument: p: "));
  }
}

TEST_CASE("UTF-8 validation follows RFC 3629") {
  CHECK(valid_utf8("plain"));
  CHECK(valid_utf8("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"));
  CHECK_FALSE(valid_utf8("\xC0\x80"));          // overlong
  CHECK_FALSE(valid_utf8("\xED\xA0\x80"));      // surrogate
  CHECK_FALSE(valid_utf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  CHECK_FALSE(valid_utf8("\xE2\x82"));          // truncated
  CHECK_FALSE(valid_utf8("\x80"));
}

TEST_CASE("shape readers: strict keys, required members, paths in messages") {
  {
    Reader r("ack_orchestration_item");
    r.metadata("metadata", "{\"status\":\"Completed\",\"extra\":1}");
    REQUIRE(r.failed());
    auto e = r.take_error();
    CHECK(e.operation == "ack_orchestration_item");
    CHECK(e.sqlstate == "QD008");
    CHECK_FALSE(e.retryable);
    CHECK(e.message == "Invalid argument: metadata: unknown key \"extra\"");
  }
  {
    Reader r("ack_orchestration_item");
    auto md = r.metadata("metadata", "{\"status\":null,\"output\":\"\",\"pinned_duroxide_version\":\"1.2.3-rc.1+b.5\"}");
    REQUIRE_FALSE(r.failed());
    CHECK_FALSE(md.status);
    CHECK(md.output == std::string());
    CHECK(md.pinned_duroxide_version == SemVer{1, 2, 3});
  }
  for (const char* v : {"01.2.3", "1.2", "1.2.3-", "1.2.3+a..b", "9223372036854775808.0.0", "x"}) {
    Reader r("op");
    std::string text = std::string("{\"pinned_duroxide_version\":\"") + v + "\"}";
    r.metadata("metadata", text.c_str());
    CAPTURE(v);
    CHECK(r.failed());
  }
  {
    Reader r("ack_orchestration_item");
    r.events("history_delta", "[{\"event_id\":1,\"source_event_id\":null,\"instance_id\":\"i\",\"execution_id\":1,"
                              "\"timestamp_ms\":1,\"duroxide_version\":\"0.1.26\",\"type\":\"Nope\"}]");
    REQUIRE(r.failed());
    CHECK(r.take_error().message.starts_with("Invalid argument: history_delta[0]: "));
  }
  {
    Reader r("op");
    auto ids = r.activity_ids("cancelled_activities",
                              "[{\"instance\":\"i\",\"execution_id\":1,\"activity_id\":18446744073709551615}]");
    REQUIRE_FALSE(r.failed());
    CHECK(ids.at(0).activity_id == 18446744073709551615ull);
  }
  {
    Reader r("op");
    r.activity_ids("cancelled_activities", "[{\"instance\":\"i\",\"execution_id\":1}]");
    REQUIRE(r.failed());
    CHECK(r.take_error().message == "Invalid argument: cancelled_activities[0].activity_id: missing required member");
  }
  {
    Reader r("op");
    r.activity_ids("cancelled_activities", "[{\"instance\":\"a\\u0000b\",\"execution_id\":1,\"activity_id\":2}]");
    CHECK(r.failed());
  }
  {
    Reader r("op");
    auto f = r.tag_filter("tag_filter", "{\"mode\":\"default_and\",\"tags\":[\"gpu\",\"gpu\",\"large\"]}");
    REQUIRE_FALSE(r.failed());
    REQUIRE(f.get_if<TagFilter::DefaultAnd>());
    CHECK(f.get_if<TagFilter::DefaultAnd>()->tags.size() == 2);
  }
  for (const char* bad : {"{\"mode\":\"any\",\"tags\":[]}", "{\"mode\":\"tags\"}", "{\"mode\":\"all\"}", "{}",
                          "{\"mode\":\"tags\",\"tags\":[1]}", "[]"}) {
    Reader r("op");
    r.tag_filter("tag_filter", bad);
    CAPTURE(bad);
    CHECK(r.failed());
  }
  {
    Reader r("op");
    CHECK(r.tag_filter("tag_filter", "null").get_if<TagFilter::DefaultOnly>());
    CHECK(r.tag_filter("tag_filter", "{\"mode\":\"any\",\"tags\":null}").get_if<TagFilter::Any>());
    CHECK_FALSE(r.failed());
  }
  {
    Reader r("op");
    auto s = r.session("session", "{\"owner_id\":\"w\",\"lock_timeout_ms\":18446744073709551615}");
    REQUIRE(s);
    CHECK(s->lock_timeout.count() == INT64_MAX);
  }
  {
    Reader r("op");
    auto f = r.instance_filter("filter", "{\"instance_ids\":[],\"completed_before\":5,\"limit\":4294967295}");
    REQUIRE_FALSE(r.failed());
    CHECK(f.instance_ids->empty());
    CHECK(f.limit == 4294967295u);
    r.instance_filter("filter", "{\"limit\":4294967296}");
    CHECK(r.failed());
  }
  {
    Reader r("op");
    auto o = r.prune_options("options", "{\"keep_last\":2}");
    CHECK(o.keep_last == 2u);
    CHECK_FALSE(o.completed_before);
    auto c = r.capability_filter("filter", "{\"supported_duroxide_versions\":[{\"min\":\"0.0.0\",\"max\":\"18446744073709551615.0.0\"}]}");
    REQUIRE(c);
    CHECK(c->supported_duroxide_versions.at(0).max.major == 18446744073709551615ull);
    CHECK_FALSE(r.failed());
  }
  {
    Reader r("op");
    CHECK(r.opt_duration("delay_ms", -1) == std::nullopt);
    CHECK(r.opt_duration("delay_ms", 0) == Millis(0));
    CHECK_FALSE(r.failed());
    r.opt_duration("delay_ms", -2);
    CHECK(r.failed());
  }
  {
    Reader r("op");
    r.str("instance", "\xFF");
    REQUIRE(r.failed());
    CHECK(r.take_error().message == "Invalid argument: instance: invalid UTF-8");
  }
}

TEST_CASE("output texts: key order and escaping") {
  std::string o;
  out::custom_status(o, CustomStatus{std::string("{\"stage\":2}"), 3});
  CHECK(o == "{\"status\":\"{\\\"stage\\\":2}\",\"version\":3}");
  o.clear();
  out::kv_map(o, {{"b", ""}, {"a", "1"}, {"\xC3\xA9", "x"}, {"Z", "\x01"}});
  CHECK(o == "{\"Z\":\"\\u0001\",\"a\":\"1\",\"b\":\"\",\"\xC3\xA9\":\"x\"}");
  o.clear();
  out::execution_info(o, ExecutionInfo{1, "Completed", "done", 1700000000000, 1700000000050, 2});
  CHECK(o == "{\"execution_id\":1,\"status\":\"Completed\",\"output\":\"done\",\"started_at\":1700000000000,"
             "\"completed_at\":1700000000050,\"event_count\":2}");
  o.clear();
  out::queue_depths(o, QueueDepths{2, 5, 0});
  CHECK(o == "{\"orchestrator_queue\":2,\"worker_queue\":5,\"timer_queue\":0}");
  o.clear();
  out::fetched_work_item(o, std::nullopt);
  CHECK(o == "null");
  CHECK(escape_message(std::string("a\0b", 3)) == "a\\u0000b");
  CHECK(escape_message("") == "unknown error");
  CHECK(clean_sqlstate("40001") == "40001");
  CHECK(clean_sqlstate("4000") == "");
  CHECK(clean_sqlstate("4000a") == "");
}
