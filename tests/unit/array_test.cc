// edge::Array: the fallible table of the exception-free runtime core.
#include <cstdint>
#include <utility>

#include <gtest/gtest.h>

#include "runtime/array.h"

namespace edge {
namespace {

TEST(Array, ResetFillsAndRefusalKeepsContents) {
  Array<int> a;
  ASSERT_TRUE(a.Reset(4, 7));
  EXPECT_EQ(a.size(), 4u);
  for (int v : a) EXPECT_EQ(v, 7);
  // A size whose bytes overflow is refused without touching the contents.
  EXPECT_FALSE(a.Reset(SIZE_MAX / 2));
  EXPECT_EQ(a.size(), 4u);
  EXPECT_EQ(a[3], 7);
  ASSERT_TRUE(a.Reset(0));
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(a.data(), nullptr);
}

TEST(Array, TruncateKeepsThePrefix) {
  Array<int> a;
  const int v[5] = {1, 2, 3, 4, 5};
  ASSERT_TRUE(a.Assign(v, v + 5));
  int* before = a.data();
  a.Truncate(3);
  EXPECT_EQ(a.size(), 3u);
  EXPECT_EQ(a.data(), before);  // no reallocation
  EXPECT_EQ(a.back(), 3);
  a.Truncate(9);  // never grows
  EXPECT_EQ(a.size(), 3u);
  // A truncated table still moves and frees as a whole (ASan: no leak).
  Array<int> b(std::move(a));
  EXPECT_EQ(b.size(), 3u);
  EXPECT_TRUE(a.empty());
  ASSERT_TRUE(b.Reset(2));
  EXPECT_EQ(b[0], 0);
}

TEST(Array, NestedArraysAreValueInitialized) {
  Array<Array<char>> rows;
  ASSERT_TRUE(rows.Reset(3));
  for (const Array<char>& r : rows) EXPECT_TRUE(r.empty());
  ASSERT_TRUE(rows[1].Reset(4, '-'));
  EXPECT_EQ(rows[1][3], '-');
}

}  // namespace
}  // namespace edge
