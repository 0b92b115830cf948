#include "transport/fragment.h"

#include <algorithm>

namespace cohort::transport {

std::vector<Bytes> Fragment(ByteView message, uint32_t message_id, size_t limit) {
  CHECK(limit > kFragmentHeaderSize);
  const size_t chunk = limit - kFragmentHeaderSize;
  const size_t count = (message.size() + chunk - 1) / chunk;
  CHECK(count >= 2 && count <= kMaxFragments);
  std::vector<Bytes> out;
  out.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    FragmentMsg f;
    f.message_id = message_id;
    f.index = static_cast<uint16_t>(i);
    f.count = static_cast<uint16_t>(count);
    const auto piece = message.subspan(i * chunk, std::min(chunk, message.size() - i * chunk));
    f.chunk.assign(piece.begin(), piece.end());
    out.push_back(Encode(f));
  }
  return out;
}

std::optional<Bytes> Reassembler::Add(Instant now, NodeId sender, Incarnation incarnation,
                                      const FragmentMsg& f) {
  const Key key{sender, incarnation, f.message_id};
  auto it = pending_.find(key);
  if (it == pending_.end()) {
    // Make room by dropping the oldest partial messages.
    while (pending_.size() >= kMaxPending || bytes_pending_ + f.chunk.size() > kMaxBytesPending) {
      auto oldest = std::min_element(pending_.begin(), pending_.end(), [](auto& a, auto& b) {
        return a.second.first_seen < b.second.first_seen;
      });
      if (oldest == pending_.end()) return std::nullopt;
      Erase(oldest);
    }
    it = pending_.emplace(key, Partial{now, f.count, 0, {}}).first;
  }
  Partial& p = it->second;
  if (p.count != f.count || p.pieces.count(f.index)) return std::nullopt;  // bogus or dup
  if (p.bytes + f.chunk.size() > kMaxMessageSize) {
    Erase(it);
    return std::nullopt;
  }
  p.bytes += f.chunk.size();
  bytes_pending_ += f.chunk.size();
  p.pieces.emplace(f.index, f.chunk);
  if (p.pieces.size() < p.count) return std::nullopt;
  Bytes whole;
  whole.reserve(p.bytes);
  for (auto& [index, piece] : p.pieces) whole.insert(whole.end(), piece.begin(), piece.end());
  Erase(it);
  return whole;
}

void Reassembler::Erase(std::map<Key, Partial>::iterator it) {
  bytes_pending_ -= it->second.bytes;
  pending_.erase(it);
}

void Reassembler::Expire(Instant now) {
  for (auto it = pending_.begin(); it != pending_.end();) {
    auto next = std::next(it);
    if (now - it->second.first_seen >= timeout_) Erase(it);
    it = next;
  }
}

Instant Reassembler::NextExpiry() const {
  Instant next = Instant::Max();
  for (const auto& [key, p] : pending_) next = std::min(next, p.first_seen + timeout_);
  return next;
}

}  // namespace cohort::transport
