#include <cstring>

#include "wire/decoder_impl.h"

namespace duroxide {

bool WireDecoder::Impl::start(std::string_view json, simdjson::ondemand::document& doc) {
  ctx.message.clear();
  ctx.path.clear();
  if (json.size() >= 3 && static_cast<unsigned char>(json[0]) == 0xEF &&
      static_cast<unsigned char>(json[1]) == 0xBB && static_cast<unsigned char>(json[2]) == 0xBF)
    return ctx.fail("invalid JSON: a byte order mark is not allowed");
  const std::size_t needed = json.size() + simdjson::SIMDJSON_PADDING;
  if (needed > buffer_capacity) {
    std::size_t cap = buffer_capacity < 4096 ? 4096 : buffer_capacity;
    while (cap < needed) cap *= 2;
    buffer.reset(new (std::nothrow) char[cap]);
    if (!buffer) {
      buffer_capacity = 0;
      return ctx.fail("out of memory");
    }
    buffer_capacity = cap;
  }
  if (!json.empty()) std::memcpy(buffer.get(), json.data(), json.size());
  std::memset(buffer.get() + json.size(), 0, simdjson::SIMDJSON_PADDING);
  if (auto e = parser.iterate(buffer.get(), json.size(), buffer_capacity).get(doc))
    return ctx.fail_json(e);
  return true;
}

bool WireDecoder::Impl::finish(simdjson::ondemand::document& doc) {
  // simdjson 3.0 has no document::at_end(); current_location() reports OUT_OF_BOUNDS exactly when
  // the iterator is alive and past the last token.
  const char* where = nullptr;
  if (doc.current_location().get(where) == simdjson::OUT_OF_BOUNDS) return true;
  return ctx.fail("invalid JSON: trailing characters after the document");
}

ProviderError WireDecoder::Impl::error(std::string_view operation) const {
  return permanent_error(std::string(operation), ctx.full_message());
}

WireDecoder::WireDecoder() : impl_(std::make_unique<Impl>()) {}
WireDecoder::~WireDecoder() = default;
WireDecoder::WireDecoder(WireDecoder&&) noexcept = default;
WireDecoder& WireDecoder::operator=(WireDecoder&&) noexcept = default;

Result<WorkItem> decode_work_item(std::string_view json) {
  WireDecoder decoder;
  return decoder.decode_work_item(json);
}

Result<Event> decode_event(std::string_view json) {
  WireDecoder decoder;
  return decoder.decode_event(json);
}

}  // namespace duroxide
