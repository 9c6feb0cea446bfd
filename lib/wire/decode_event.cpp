// Event decoding: one flat object holding the envelope, the "type" tag and the kind's fields, in
// any order.
//
// Fast path (the canonical order, and jsonb's, which puts "type" early): one pass; envelope keys
// are read as they come, "type" selects the kind, the kind's fields follow. If a key that is
// neither envelope nor "type" shows up before "type", the kind is not known yet, so the decoder
// starts over with two passes: pass 1 only looks for "type" (keys compared raw, values skipped),
// pass 2 reads every key against the envelope and the now-known kind.
#include <array>

#include "wire/decoder_impl.h"

namespace duroxide {

using namespace wire_detail;

namespace {

constexpr std::string_view kType = "type";

// Type-erased access to the kinds, so the single field loop can serve all 26 of them.
struct KindOps {
  // Reads `key` if it is a field of the kind; sets `matched` to false (and succeeds) otherwise.
  bool (*read_field)(std::string_view key, od::value& v, EventKind& kind, std::uint32_t& seen,
                     bool& matched, Ctx& ctx);
  bool (*check_required)(std::uint32_t seen, Ctx& ctx);
};

template <class K>
bool kind_read_field(std::string_view key, od::value& v, EventKind& kind, std::uint32_t& seen,
                     bool& matched, Ctx& ctx) {
  const int idx = field_index<K>(key);
  matched = idx >= 0;
  if (!matched) return true;
  if (seen & (1u << idx)) return ctx.fail("duplicate field");
  seen |= 1u << idx;
  return read_field<K>(idx, v, std::get<K>(kind.value), ctx);
}

template <std::size_t... I>
constexpr auto make_kind_ops(std::index_sequence<I...>) {
  return std::array<KindOps, sizeof...(I)>{
      KindOps{&kind_read_field<std::variant_alternative_t<I, EventKind::Variant>>,
              &check_required<std::variant_alternative_t<I, EventKind::Variant>>}...};
}
constexpr auto kKindOps =
    make_kind_ops(std::make_index_sequence<std::variant_size_v<EventKind::Variant>>{});

// Index of the kind whose wire name is `name`, or -1; emplaces that kind into `kind`.
int select_kind(std::string_view name, EventKind& kind) {
  int index = -1;
  with_alternative_named<EventKind::Variant>(name, [&](auto i) {
    kind.value.template emplace<decltype(i)::value>();
    index = static_cast<int>(decltype(i)::value);
  });
  return index;
}

bool unknown_type(Ctx& ctx) {
  ctx.fail("unknown event type `" + ctx.scratch + "`, " + expected_variants<EventKind::Variant>());
  return ctx.at(kType);
}

// Reads the "type" value (a string naming a kind) into ctx.scratch.
bool read_type_name(od::value& v, Ctx& ctx) {
  od::json_type t;
  if (auto e = v.type().get(t)) return ctx.fail_json(e);
  if (t != od::json_type::string) {
    // serde would also take an integer variant index; Duroxide never writes one.
    wrong_type(ctx, "an event type name (a string)", t);
    return ctx.at(kType);
  }
  if (!read_string(v, ctx.scratch, ctx)) return ctx.at(kType);
  return true;
}

enum class Outcome { Ok, Failed, NeedKindFirst };

// The field loop. With `kind_index` >= 0 the kind is known (pass 2 of the fallback) and "type"
// keys are consumed unread; with -1 the loop learns the kind from "type" and gives up with
// NeedKindFirst at the first kind/unknown key that precedes it.
Outcome read_fields(od::object& obj, Event& event, int kind_index, Ctx& ctx) {
  std::uint32_t seen_envelope = 0;
  std::uint32_t seen_kind = 0;
  const bool kind_preset = kind_index >= 0;
  std::string key_storage;
  for (auto field_result : obj) {
    od::field field;
    if (auto e = std::move(field_result).get(field)) return ctx.fail_json(e), Outcome::Failed;
    std::string_view key;
    if (!read_key(field, key, key_storage, ctx)) return Outcome::Failed;
    const int env = field_index<Envelope>(key);
    if (env >= 0) {
      if (seen_envelope & (1u << env)) {
        ctx.fail("duplicate field");
        return ctx.at(key), Outcome::Failed;
      }
      seen_envelope |= 1u << env;
      if (!read_field<Envelope>(env, field.value(), event, ctx)) return ctx.at(key), Outcome::Failed;
      continue;
    }
    if (key == kType) {
      if (kind_preset) {
        // Pass 1 validated it. Consume it anyway: a string must never be left to On-Demand's
        // skip logic (see read_string).
        od::raw_json_string consumed;
        if (auto e = field.value().get_raw_json_string().get(consumed))
          return ctx.fail_json(e), Outcome::Failed;
        continue;
      }
      if (kind_index >= 0) {
        ctx.fail("duplicate field");
        return ctx.at(kType), Outcome::Failed;
      }
      if (!read_type_name(field.value(), ctx)) return Outcome::Failed;
      kind_index = select_kind(ctx.scratch, event.kind);
      if (kind_index < 0) return unknown_type(ctx), Outcome::Failed;
      continue;
    }
    if (kind_index < 0) return Outcome::NeedKindFirst;
    bool matched = false;
    if (!kKindOps[static_cast<std::size_t>(kind_index)].read_field(key, field.value(), event.kind,
                                                                   seen_kind, matched, ctx))
      return ctx.at(key), Outcome::Failed;
    if (!matched && !skip_unknown(field.value(), ctx)) return ctx.at(key), Outcome::Failed;
  }
  if (kind_index < 0) {
    ctx.fail("missing required field");
    return ctx.at(kType), Outcome::Failed;
  }
  if (!check_required<Envelope>(seen_envelope, ctx) ||
      !kKindOps[static_cast<std::size_t>(kind_index)].check_required(seen_kind, ctx))
    return Outcome::Failed;
  return Outcome::Ok;
}

// Fallback pass 1: finds the one "type" key and selects the kind. Keys are compared raw (an
// escaped spelling still matches) and values skipped unread; pass 2 validates everything.
int find_kind(od::object& obj, EventKind& kind, Ctx& ctx) {
  int type_count = 0;
  for (auto field_result : obj) {
    od::field field;
    if (auto e = std::move(field_result).get(field)) return ctx.fail_json(e), -1;
    if (!raw_key_equals(field.key().raw(), kType)) continue;
    if (++type_count > 1) {
      ctx.fail("duplicate field");
      return ctx.at(kType), -1;
    }
    if (!read_type_name(field.value(), ctx)) return -1;
  }
  if (type_count == 0) {
    ctx.fail("missing required field");
    return ctx.at(kType), -1;
  }
  const int index = select_kind(ctx.scratch, kind);
  if (index < 0) unknown_type(ctx);
  return index;
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

  Event event;
  Outcome outcome = read_fields(root, event, -1, ctx);
  if (outcome == Outcome::NeedKindFirst) {
    event = Event{};
    bool ignored = false;
    if (auto e = root.reset().get(ignored)) {
      ctx.fail_json(e);
      return fail(s.error(kOp));
    }
    const int kind_index = find_kind(root, event.kind, ctx);
    if (kind_index < 0) return fail(s.error(kOp));
    if (auto e = root.reset().get(ignored)) {
      ctx.fail_json(e);
      return fail(s.error(kOp));
    }
    outcome = read_fields(root, event, kind_index, ctx);
  }
  if (outcome != Outcome::Ok || !s.finish(doc)) return fail(s.error(kOp));
  return event;
}

}  // namespace duroxide
