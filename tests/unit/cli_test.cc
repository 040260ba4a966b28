// edge-run's argument reader and JSON writer (runtime/tools/).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "runtime/tools/arg_reader.h"
#include "runtime/tools/json_writer.h"

namespace {

using edge::cli::ArgReader;
using edge::cli::JsonWriter;

struct Argv {
  explicit Argv(std::vector<std::string> a) : args(std::move(a)) {
    for (std::string& s : args) ptrs.push_back(&s[0]);
  }
  int argc() const { return static_cast<int>(ptrs.size()); }
  char** argv() { return ptrs.data(); }
  std::vector<std::string> args;
  std::vector<char*> ptrs;
};

TEST(ArgReader, BothValueFormsAndPositionals) {
  Argv a({"prog", "m.fb", "--steps", "3", "--seed=7", "--input=x=a=b.npy", "--out=", "dir/a=b", "-o=x"});
  ArgReader r(a.argc(), a.argv());
  ASSERT_TRUE(r.Next());
  EXPECT_EQ(r.arg(), "m.fb");
  EXPECT_FALSE(r.is_option());
  ASSERT_TRUE(r.Next());
  EXPECT_EQ(r.arg(), "--steps");
  EXPECT_STREQ(r.Value(), "3");
  ASSERT_TRUE(r.Next());
  EXPECT_EQ(r.arg(), "--seed");
  EXPECT_STREQ(r.Value(), "7");
  ASSERT_TRUE(r.Next());
  EXPECT_EQ(r.arg(), "--input");  // split at the first '=' only
  EXPECT_STREQ(r.Value(), "x=a=b.npy");
  ASSERT_TRUE(r.Next());
  EXPECT_EQ(r.arg(), "--out");  // "--out=": an empty value, not the next argument
  EXPECT_STREQ(r.Value(), "");
  ASSERT_TRUE(r.Next());
  EXPECT_EQ(r.arg(), "dir/a=b");  // positionals keep their '='
  ASSERT_TRUE(r.Next());
  EXPECT_EQ(r.arg(), "-o=x");  // short options do not split
  EXPECT_TRUE(r.is_option());
  EXPECT_FALSE(r.Next());
}

TEST(ArgReader, MissingAndIgnoredValues) {
  Argv a({"prog", "--once=1", "--quiet", "--steps"});
  ArgReader r(a.argc(), a.argv());
  ASSERT_TRUE(r.Next());
  EXPECT_TRUE(r.value_ignored());  // a flag given a value
  ASSERT_TRUE(r.Next());
  EXPECT_FALSE(r.value_ignored());
  ASSERT_TRUE(r.Next());
  EXPECT_EQ(r.Value(), nullptr);  // the last argument has no value after it
  EXPECT_FALSE(r.Next());
}

std::string Written(void (*write)(JsonWriter&)) {
  char* buf = nullptr;
  size_t len = 0;
  FILE* f = open_memstream(&buf, &len);
  JsonWriter j(f);
  write(j);
  std::fclose(f);
  std::string s(buf, len);
  std::free(buf);
  return s;
}

TEST(JsonWriter, CommasNestingAndEscapes) {
  EXPECT_EQ(Written([](JsonWriter& j) {
              j.BeginObject().Key("a").Int(-1).Key("b").BeginArray();
              j.BeginObject().Key("x").Bool(true).EndObject().BeginObject().EndObject().Uint(3).EndArray();
              j.Key("c").BeginArray().EndArray().Key("d").String("q\"\\\n\x01").EndObject();
            }),
            "{\"a\":-1,\"b\":[{\"x\":true},{},3],\"c\":[],\"d\":\"q\\\"\\\\\\u000a\\u0001\"}");
}

TEST(JsonWriter, NumbersAndPrefixes) {
  EXPECT_EQ(Written([](JsonWriter& j) {
              j.BeginArray().Number(1.5, "%.3f").Number(0.25, "%g").Number(1.0 / 0.0, "%g");
              j.Number(std::nan(""), "%.3f").StringN("abcdef", 3).StringN("", 0).EndArray();
            }),
            "[1.500,0.25,null,null,\"abc\",\"\"]");
}

}  // namespace
