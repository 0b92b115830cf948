#include "transport/messages.h"

#include <gtest/gtest.h>

namespace cohort::transport {
namespace {

NodeEntry Entry(NodeId id, int addresses) {
  NodeEntry e{id, 1000u + id, 3, {}};
  for (int i = 0; i < addresses; ++i) {
    e.addresses.push_back(AddressInfo{Endpoint{0x0a000001u + static_cast<uint32_t>(i), 7000},
                                      0xffffff00, 1500, AdapterType::kEthernet, Cos::kVideo});
  }
  return e;
}

template <typename T>
T RoundTrip(const T& m) {
  auto back = Decode(Encode(m));
  EXPECT_TRUE(back.has_value());
  EXPECT_TRUE(std::holds_alternative<T>(*back));
  return std::get<T>(*back);
}

TEST(MessagesTest, RoundTripEveryKind) {
  EXPECT_EQ(RoundTrip(ProbeMsg{42}).req, 42u);
  EXPECT_EQ(RoundTrip(ProbeAckMsg{43}).req, 43u);
  EXPECT_EQ(RoundTrip(EchoMsg{1, {1, 2, 3}}).payload, (Bytes{1, 2, 3}));
  EXPECT_EQ(RoundTrip(EchoReplyMsg{2, {}}).payload, Bytes{});
  TableSyncMsg sync{9, Entry(3, 2), 77, true, {{1, 5, 6}, {2, 7, 8}}};
  auto s = RoundTrip(sync);
  EXPECT_EQ(s.sender, sync.sender);
  EXPECT_EQ(s.digest, 77u);
  EXPECT_TRUE(s.full);
  EXPECT_EQ(s.summary, sync.summary);
  auto light = RoundTrip(TableSyncMsg{10, Entry(3, 1), 78, false, {}});
  EXPECT_FALSE(light.full);
  TableSyncReplyMsg reply{9, {Entry(1, 1), Entry(2, 3)}, {{4, 4, 4}}};
  auto r = RoundTrip(reply);
  EXPECT_EQ(r.entries, reply.entries);
  EXPECT_EQ(r.summary, reply.summary);
  EXPECT_EQ(RoundTrip(TablePushMsg{{Entry(7, 2)}}).entries.size(), 1u);
  auto d = RoundTrip(DataMsg{5, {9, 9}});
  EXPECT_EQ(d.channel, 5);
  auto f = RoundTrip(FragmentMsg{77, 1, 3, {1, 2}});
  EXPECT_EQ(f.message_id, 77u);
  EXPECT_EQ(f.index, 1);
  EXPECT_EQ(f.count, 3);
}

TEST(MessagesTest, RejectsMalformed) {
  EXPECT_FALSE(Decode(Bytes{}));
  EXPECT_FALSE(Decode(Bytes{0}));    // unknown kind
  EXPECT_FALSE(Decode(Bytes{200}));  // unknown kind
  Bytes probe = Encode(ProbeMsg{1});
  probe.push_back(0);  // trailing byte
  EXPECT_FALSE(Decode(probe));
  // A digest-only sync must not carry a summary.
  EXPECT_FALSE(Decode(Encode(TableSyncMsg{9, Entry(3, 2), 1, false, {{1, 2, 3}}})));
  Bytes sync = Encode(TableSyncMsg{9, Entry(3, 2), 1, true, {}});
  for (size_t n = 0; n < sync.size(); ++n) {
    EXPECT_FALSE(Decode(ByteView(sync).first(n))) << "truncated to " << n;
  }
  // An entry with node id 0 or no address is refused.
  EXPECT_FALSE(Decode(Encode(TablePushMsg{{Entry(0, 1)}})));
  EXPECT_FALSE(Decode(Encode(TablePushMsg{{Entry(5, 0)}})));
  // A fragment whose index is not below its count.
  EXPECT_FALSE(Decode(Encode(FragmentMsg{1, 3, 3, {1}})));
  EXPECT_FALSE(Decode(Encode(FragmentMsg{1, 0, 1, {1}})));
  // A huge claimed count must not allocate: the decoder checks it against the bytes left.
  Bytes push = {static_cast<uint8_t>(Kind::kTablePush), 0xff, 0xff, 0xff, 0xff};
  EXPECT_FALSE(Decode(push));
}

}  // namespace
}  // namespace cohort::transport
