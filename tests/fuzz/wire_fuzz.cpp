// tests/fuzz/wire_fuzz.cpp — libFuzzer target for both wire decoders.
//
// Every input is fed to decode_work_item and decode_event. Besides "no crash, no sanitizer
// report", each accepted input must satisfy:
//  * the input is well-formed JSON by an independent validator (simdjson's DOM parser), so the
//    On-Demand decoder never accepts malformed text in parts it skipped;
//  * encode(v) decodes again, to a value equal to v (round trip);
//  * encoding is stable: encode(decode(encode(v))) == encode(v).
// A violation aborts, which libFuzzer records as a crash with the input saved.
#include <simdjson.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "duroxide/wire.h"

namespace {

[[noreturn]] void violation(const char* what, std::string_view input, const std::string& detail) {
  std::fprintf(stderr, "wire_fuzz: %s\ninput (%zu bytes): %.*s\ndetail: %s\n", what, input.size(),
               static_cast<int>(input.size() < 2000 ? input.size() : 2000), input.data(),
               detail.c_str());
  std::abort();
}

bool valid_json(std::string_view input) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(input);
  simdjson::dom::element root;
  return parser.parse(padded).get(root) == simdjson::SUCCESS;
}

template <class T, class Decode>
void check(std::string_view input, Decode decode) {
  duroxide::WireDecoder decoder;
  duroxide::Result<T> first = decode(decoder, input);
  if (!first) {
    if (first.error().retryable || first.error().message.empty())
      violation("decode error is not a permanent error with a message", input,
                first.error().to_string());
    return;
  }
  if (!valid_json(input)) violation("accepted input that is not valid JSON", input, "");
  const std::string text = duroxide::encode(*first);
  duroxide::Result<T> second = decode(decoder, text);
  if (!second) violation("encoding of a decoded value does not decode", input, text);
  if (!(*second == *first)) violation("round trip changed the value", input, text);
  const std::string again = duroxide::encode(*second);
  if (again != text) violation("encoding is not stable", input, text + "\n" + again);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  check<duroxide::WorkItem>(input, [](duroxide::WireDecoder& d, std::string_view s) {
    return d.decode_work_item(s);
  });
  check<duroxide::Event>(input, [](duroxide::WireDecoder& d, std::string_view s) {
    return d.decode_event(s);
  });
  return 0;
}
