#include "hierarchy/messages.h"

namespace cohort::hierarchy {
namespace {

enum class Type : uint8_t { kAggregate = 1, kAck = 2 };

}  // namespace

wire::Bytes EncodeMessage(const Message& m) {
  wire::Bytes out;
  wire::Writer w(&out);
  if (const auto* a = std::get_if<AggregateMsg>(&m)) {
    w.U8(static_cast<uint8_t>(Type::kAggregate));
    w.U64(a->incarnation);
    w.U64(a->seq);
    w.Raw(Encode(a->aggregate));
  } else {
    const auto& k = std::get<AggregateAckMsg>(m);
    w.U8(static_cast<uint8_t>(Type::kAck));
    w.U64(k.incarnation);
    w.U64(k.seq);
  }
  return out;
}

std::optional<Message> DecodeMessage(wire::ByteView bytes) {
  wire::Reader r(bytes);
  uint8_t type = 0;
  uint64_t incarnation = 0, seq = 0;
  if (!r.U8(&type) || !r.U64(&incarnation) || !r.U64(&seq)) return std::nullopt;
  if (type == static_cast<uint8_t>(Type::kAck)) {
    if (!r.done()) return std::nullopt;
    return AggregateAckMsg{incarnation, seq};
  }
  if (type != static_cast<uint8_t>(Type::kAggregate)) return std::nullopt;
  auto aggregate = Decode(r.Rest());
  if (!aggregate) return std::nullopt;
  return AggregateMsg{incarnation, seq, std::move(*aggregate)};
}

}  // namespace cohort::hierarchy
