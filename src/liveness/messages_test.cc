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
      RowMsg{}, RowRequestMsg{}};
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
  // A row never lists a path that is up, nor a state beyond the enum.
  for (uint8_t state : {uint8_t{1}, uint8_t{3}, uint8_t{200}}) {
    Bytes row = Encode(RowMsg{1, 1, {{Ep(1, 2), Ep(3, 4), PathState::kDown}}});
    row.back() = state;
    EXPECT_FALSE(Decode(row).has_value()) << int(state);
  }
  // A count larger than what follows allocates nothing and fails.
  Bytes row = Encode(RowMsg{1, 1, {}});
  row[row.size() - 2] = 0xff;
  row[row.size() - 1] = 0xff;
  EXPECT_FALSE(Decode(row).has_value());
}

}  // namespace
}  // namespace cohort::liveness
