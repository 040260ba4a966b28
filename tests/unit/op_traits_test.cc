// The op traits table: one complete row per schema op type, none beyond it.
#include <gtest/gtest.h>

#include "runtime/op_traits.h"

namespace edge {
namespace {

TEST(OpTraits, OneRowPerOpType) {
  for (int k = 0; k <= static_cast<int>(fb::OpType::MAX); ++k) {
    const fb::OpType type = static_cast<fb::OpType>(k);
    const OpTraits* t = FindOpTraits(type);
    ASSERT_NE(t, nullptr) << fb::EnumNameOpType(type);
    EXPECT_EQ(t->type, type);
    EXPECT_GE(t->min_in, 1) << fb::EnumNameOpType(type);
    EXPECT_LE(t->min_in, t->max_in) << fb::EnumNameOpType(type);
    EXPECT_GE(t->min_out, 1) << fb::EnumNameOpType(type);
    EXPECT_LE(t->min_out, t->max_out) << fb::EnumNameOpType(type);
    EXPECT_NE(t->kernel, nullptr) << fb::EnumNameOpType(type);
    EXPECT_EQ(GetOpKernel(type), t->kernel);
  }
  const fb::OpType beyond = static_cast<fb::OpType>(static_cast<int>(fb::OpType::MAX) + 1);
  EXPECT_EQ(FindOpTraits(beyond), nullptr);
  EXPECT_EQ(GetOpKernel(beyond), nullptr);
}

}  // namespace
}  // namespace edge
