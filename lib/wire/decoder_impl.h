// lib/wire/decoder_impl.h — the state a WireDecoder keeps between documents.
#pragma once

#include <simdjson.h>

#include <cstddef>
#include <memory>
#include <string_view>

#include "duroxide/wire.h"
#include "wire/reader.h"

namespace duroxide {

struct WireDecoder::Impl {
  simdjson::ondemand::parser parser;
  // simdjson reads up to SIMDJSON_PADDING bytes past the document; callers' string_views carry
  // no such guarantee, so every document is copied into this buffer first (a memcpy, cheap next
  // to parsing).
  std::unique_ptr<char[]> buffer;
  std::size_t buffer_capacity = 0;
  wire_detail::Ctx ctx;

  // Resets the error state, copies `json` into the padded buffer and starts iterating. Input that
  // simdjson would read differently from serde is rejected here (a UTF-8 byte order mark).
  bool start(std::string_view json, simdjson::ondemand::document& doc);

  // Checks that nothing but whitespace follows the root value.
  bool finish(simdjson::ondemand::document& doc);

  ProviderError error(std::string_view operation) const;
};

}  // namespace duroxide
