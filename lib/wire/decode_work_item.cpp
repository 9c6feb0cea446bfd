// WorkItem decoding: the root is an externally tagged enum, {"<Variant>":{...}}.
#include "wire/decoder_impl.h"

namespace duroxide {

using namespace wire_detail;

Result<WorkItem> WireDecoder::decode_work_item(std::string_view json) {
  constexpr std::string_view kOp = "decode_work_item";
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
    wrong_type(ctx, "an object {\"<Variant>\":{...}}", t);
    return fail(s.error(kOp));
  }
  od::object root;
  if (auto e = doc.get_object().get(root)) {
    ctx.fail_json(e);
    return fail(s.error(kOp));
  }
  WorkItem item;
  if (!read_tagged_object(root, item, ctx) || !s.finish(doc)) return fail(s.error(kOp));
  return item;
}

}  // namespace duroxide
