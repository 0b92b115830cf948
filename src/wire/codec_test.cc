#include "wire/codec.h"

#include <gtest/gtest.h>

namespace cohort::wire {
namespace {

TEST(CodecTest, RoundTrip) {
  Bytes b;
  Writer w(&b);
  w.U8(7);
  w.U16(0xbeef);
  w.U32(0xdeadbeef);
  w.U64(0x0123456789abcdefULL);
  const uint8_t blob[] = {1, 2, 3};
  w.Blob(blob);
  Reader r(b);
  uint8_t a = 0;
  uint16_t c = 0;
  uint32_t d = 0;
  uint64_t e = 0;
  ByteView f;
  ASSERT_TRUE(r.U8(&a) && r.U16(&c) && r.U32(&d) && r.U64(&e) && r.Blob(16, &f));
  EXPECT_TRUE(r.done());
  EXPECT_EQ(a, 7);
  EXPECT_EQ(c, 0xbeef);
  EXPECT_EQ(d, 0xdeadbeefu);
  EXPECT_EQ(e, 0x0123456789abcdefULL);
  EXPECT_EQ(Bytes(f.begin(), f.end()), Bytes({1, 2, 3}));
}

TEST(CodecTest, TruncatedInputFailsAndStaysFailed) {
  const Bytes b = {1, 2, 3};
  Reader r(b);
  uint32_t v = 0;
  EXPECT_FALSE(r.U32(&v));
  uint8_t x = 0;
  EXPECT_FALSE(r.U8(&x));  // sticky
  EXPECT_FALSE(r.ok());
}

TEST(CodecTest, BlobLengthIsBounded) {
  Bytes b;
  Writer w(&b);
  w.U32(1000);
  b.resize(b.size() + 10);
  Reader r(b);
  ByteView v;
  EXPECT_FALSE(r.Blob(100, &v));  // longer than allowed
  Reader r2(b);
  EXPECT_FALSE(r2.Blob(5000, &v));  // longer than what is there
}

TEST(CodecTest, TextAndListsRoundTripAndAHostileCountFails) {
  Bytes b;
  Writer w(&b);
  w.Text("movies/a.mp4");
  w.List(std::vector<uint16_t>{3, 5, 8}, [](Writer& ww, uint16_t v) { ww.U16(v); });
  Reader r(b);
  std::string text;
  std::vector<uint16_t> list;
  auto u16 = [](Reader& rr, uint16_t* v) { return rr.U16(v); };
  ASSERT_TRUE(r.Text(64, &text));
  ASSERT_TRUE(r.List(8, &list, u16));
  EXPECT_TRUE(r.done());
  EXPECT_EQ(text, "movies/a.mp4");
  EXPECT_EQ(list, (std::vector<uint16_t>{3, 5, 8}));
  // Over its bound; a count the input cannot fill (nothing is allocated for it); too long.
  EXPECT_FALSE(Reader(b).Text(4, &text));
  Reader over(ByteView(b).subspan(16));
  EXPECT_FALSE(over.List(2, &list, u16));
  Bytes huge;
  Writer(&huge).U32(0xffffffff);
  Reader hostile(huge);
  EXPECT_FALSE(hostile.List(UINT32_MAX, &list, u16));
  EXPECT_FALSE(hostile.ok());
}

TEST(CodecTest, TrailingBytesAreNotDone) {
  const Bytes b = {1, 2};
  Reader r(b);
  uint8_t x = 0;
  ASSERT_TRUE(r.U8(&x));
  EXPECT_TRUE(r.ok());
  EXPECT_FALSE(r.done());
}

}  // namespace
}  // namespace cohort::wire
