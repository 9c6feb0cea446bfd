// Event decoding: one flat object holding the envelope, the "type" tag and the kind's fields, in
// any order. Pass 1 finds "type" (and rejects a repeated one) without decoding anything else;
// pass 2 reads every key exactly once against the envelope and the now-known kind's schema.
#include "wire/decoder_impl.h"

namespace duroxide {

using namespace wire_detail;

namespace {

constexpr std::string_view kType = "type";

// Pass 2 for kind K. `event.kind` already holds a default K.
template <class K>
bool read_event_body(od::object& obj, Event& event, K& kind, Ctx& ctx) {
  std::uint32_t seen_envelope = 0;
  std::uint32_t seen_kind = 0;
  for (auto field_result : obj) {
    od::field field;
    if (auto e = std::move(field_result).get(field)) return ctx.fail_json(e);
    std::string_view key;
    if (!read_key(field, key, ctx)) return false;
    if (key == kType) {
      // Validated by pass 1; consume it here (never leave a string to On-Demand's skip logic,
      // see read_string).
      od::raw_json_string consumed;
      if (auto e = field.value().get_raw_json_string().get(consumed)) return ctx.fail_json(e);
      continue;
    }
    int idx = field_index<Envelope>(key);
    if (idx >= 0) {
      if (seen_envelope & (1u << idx)) {
        ctx.fail("duplicate field");
        return ctx.at(key);
      }
      seen_envelope |= 1u << idx;
      if (!read_field<Envelope>(idx, field.value(), event, ctx)) return ctx.at(key);
      continue;
    }
    idx = field_index<K>(key);
    if (idx >= 0) {
      if (seen_kind & (1u << idx)) {
        ctx.fail("duplicate field");
        return ctx.at(key);
      }
      seen_kind |= 1u << idx;
      if (!read_field<K>(idx, field.value(), kind, ctx)) return ctx.at(key);
      continue;
    }
    if (!skip_unknown(field.value(), ctx)) return ctx.at(key);
  }
  return check_required<Envelope>(seen_envelope, ctx) && check_required<K>(seen_kind, ctx);
}

}  // namespace

Result<Event> WireDecoder::decode_event(std::string_view json) {
  constexpr std::string_view kOp = "decode_event";
  Impl& s = *impl_;
  Ctx& ctx = s.ctx;
  od::document doc;
  if (!s.start(json, doc)) return fail(s.error(kOp));
  od::json_type t;
  if (auto e = doc.type().get(t)) {
    ctx.fail_json(e);
    return fail(s.error(kOp));
  }
  if (t != od::json_type::object) {
    wrong_type(ctx, "an object", t);
    return fail(s.error(kOp));
  }
  od::object root;
  if (auto e = doc.get_object().get(root)) {
    ctx.fail_json(e);
    return fail(s.error(kOp));
  }

  // Pass 1: locate "type". Keys are compared raw (an escaped spelling still matches), values are
  // skipped unread, so nothing is unescaped twice.
  int type_count = 0;
  bool ok = true;
  for (auto field_result : root) {
    od::field field;
    if (auto e = std::move(field_result).get(field)) {
      ok = ctx.fail_json(e);
      break;
    }
    if (!raw_key_equals(field.key().raw(), kType)) continue;
    if (++type_count > 1) {
      ctx.fail("duplicate field");
      ok = ctx.at(kType);
      break;
    }
    od::json_type vt;
    if (auto e = field.value().type().get(vt)) {
      ok = ctx.fail_json(e);
      break;
    }
    if (vt != od::json_type::string) {
      // serde would also take an integer variant index; Duroxide never writes one.
      wrong_type(ctx, "an event type name (a string)", vt);
      ok = ctx.at(kType);
      break;
    }
    if (!read_string(field.value(), ctx.scratch, ctx)) {
      ok = ctx.at(kType);
      break;
    }
  }
  if (ok && type_count == 0) {
    ctx.fail("missing required field");
    ok = ctx.at(kType);
  }
  if (!ok) return fail(s.error(kOp));

  Event event;
  bool known = with_alternative_named<EventKind::Variant>(ctx.scratch, [&](auto index) {
    auto& kind = event.kind.value.template emplace<decltype(index)::value>();
    bool reset_ok = false;
    if (auto e = root.reset().get(reset_ok)) {
      ok = ctx.fail_json(e);
      return;
    }
    ok = read_event_body(root, event, kind, ctx);
  });
  if (!known) {
    ctx.fail("unknown event type `" + ctx.scratch + "`, " +
             expected_variants<EventKind::Variant>());
    ctx.at(kType);
    return fail(s.error(kOp));
  }
  if (!ok || !s.finish(doc)) return fail(s.error(kOp));
  return event;
}

}  // namespace duroxide
