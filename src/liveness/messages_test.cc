#include "liveness/messages.h"

#include <gtest/gtest.h>

namespace cohort::liveness {
namespace {

Endpoint Ep(uint32_t ip, uint16_t port) { return Endpoint{ip, port}; }

TEST(LivenessMessagesTest, RoundTrip) {
  const std::vector<Message> all = {
      HeartbeatMsg{Ep(0x0a010001, 7000), Ep(0x0a010002, 7000), 300, 1700000000000, 42},
      RowMsg{17,
             3,
             {{Ep(1, 2), Ep(3, 4), PathState::kDown}, {Ep(5, 6), Ep(7, 8), PathState::kUnknown}}},
      RowMsg{},
      RowMsg{2,
             9,
             {{Ep(1, 2), Ep(3, 4), PathState::kUp}},
             {{Ep(3, 4), PathState::kDown}, {Ep(0x0a020001, 7000), PathState::kUnknown}}},
      RowRequestMsg{},
      ProbeMsg{Ep(0x0a010002, 7000), Ep(0x0a010001, 7001)}};
  for (const Message& m : all) {
    auto back = Decode(Encode(m));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, m);
  }
}

TEST(LivenessMessagesTest, RefusesWhatIsNotAMessage) {
  EXPECT_FALSE(Decode({}).has_value());
  EXPECT_FALSE(Decode(Bytes{9}).has_value());
  Bytes hb = Encode(HeartbeatMsg{});
  hb.push_back(0);  // trailing byte
  EXPECT_FALSE(Decode(hb).has_value());
  hb.resize(hb.size() - 2);  // cut short
  EXPECT_FALSE(Decode(hb).has_value());
  Bytes probe = Encode(ProbeMsg{Ep(1, 2), Ep(3, 4)});
  probe.pop_back();
  EXPECT_FALSE(Decode(probe).has_value());
  // A row's path is unknown, up or down, nothing beyond.
  for (uint8_t state : {uint8_t{3}, uint8_t{200}}) {
    Bytes row = Encode(RowMsg{1, 1, {{Ep(1, 2), Ep(3, 4), PathState::kDown}}});
    row[row.size() - 3] = state;  // the entry's state, before the empty list of defaults
    EXPECT_FALSE(Decode(row).has_value()) << int(state);
  }
  // An adapter's default is unknown or down (up goes without saying), nothing beyond.
  for (uint8_t state : {uint8_t{1}, uint8_t{3}, uint8_t{200}}) {
    Bytes row = Encode(RowMsg{1, 1, {}, {{Ep(1, 2), PathState::kDown}}});
    row.back() = state;
    EXPECT_FALSE(Decode(row).has_value()) << int(state);
  }
  // A count larger than what follows allocates nothing and fails: entries, then defaults.
  for (size_t at : {size_t{4}, size_t{2}}) {
    Bytes row = Encode(RowMsg{1, 1, {}});
    row[row.size() - at] = 0xff;
    row[row.size() - at + 1] = 0xff;
    EXPECT_FALSE(Decode(row).has_value()) << at;
  }
}

}  // namespace
}  // namespace cohort::liveness
