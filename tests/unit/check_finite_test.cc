// SessionOptions::check_finite: a NaN/Inf produced inside the network (not
// given as an input) is reported as kNumericError naming the op that first
// produced it; off, Invoke() does not look; a finite run is unaffected.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/edge.h"
#include "runtime/model.h"
#include "runtime/session.h"
#include "runtime/writer/model_writer.h"
#include "tests/unit/model_test_util.h"

namespace edge {
namespace {

// x [1, 8] -> op 0 Mul(x, x) = sq -> op 1 Sub(sq, sq) = d -> op 2 Add(d, c) = out.
// |x| >= 2e19 overflows op 0 to Inf, and op 1 turns Inf into NaN.
struct SquareModel {
  std::vector<uint8_t> bytes;
  std::unique_ptr<Model> model;
  int x = -1, out = -1;
};

void MakeSquare(SquareModel* t) {
  ModelWriter w;
  t->x = w.AddActivation("x", {1, 8});
  const int c = w.AddConstantF32("c", {8}, std::vector<float>(8, 1.f));
  const int sq = w.AddActivation("sq", {1, 8});
  const int d = w.AddActivation("d", {1, 8});
  t->out = w.AddActivation("out", {1, 8});
  w.AddOp(fb::OpType::Mul, {t->x, t->x}, {sq}, OpAttrs(), "square");
  w.AddOp(fb::OpType::Sub, {sq, sq}, {d}, OpAttrs(), "difference");
  w.AddOp(fb::OpType::Add, {d, c}, {t->out}, OpAttrs(), "offset");
  w.SetInputs({t->x});
  w.SetOutputs({t->out});
  ASSERT_TRUE(w.Finish(&t->bytes).ok());
  auto m = Model::LoadBuffer(t->bytes.data(), t->bytes.size(), true);
  ASSERT_TRUE(m.ok()) << m.status().message();
  t->model = std::move(m.value());
}

Status RunWith(const Model* model, int x, bool check, float value) {
  SessionOptions o;
  o.check_finite = check;
  auto s = Session::Create(model, o);
  if (!s.ok()) return s.status();
  std::vector<float> in(8, 0.5f);
  in[5] = value;
  EDGE_RETURN_IF_ERROR(s.value()->SetInput(x, in.data(), in.size() * sizeof(float)));
  return s.value()->Invoke();
}

TEST(CheckFinite, NamesTheOpThatFirstProducedANonFiniteValue) {
  SquareModel t;
  MakeSquare(&t);
  const Status st = RunWith(t.model.get(), t.x, true, 3e19f);
  ASSERT_EQ(st.code(), StatusCode::kNumericError) << st.message();
  const std::string msg = st.message();
  EXPECT_NE(msg.find("graph output 'out'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("op 0 'square' (Mul) first produced Inf"), std::string::npos) << msg;
  EXPECT_NE(msg.find("output 'sq' at element 5"), std::string::npos) << msg;
}

TEST(CheckFinite, OffByDefaultAndFiniteRunsPass) {
  SquareModel t;
  MakeSquare(&t);
  EXPECT_FALSE(SessionOptions().check_finite);
  EXPECT_TRUE(RunWith(t.model.get(), t.x, false, 3e19f).ok());  // not looked at
  const Status fine = RunWith(t.model.get(), t.x, true, 3.f);
  EXPECT_TRUE(fine.ok()) << fine.message();
}

// The C API: edge_session_options.check_finite (0 by default), through a
// model read into memory (edge_model_load_in_memory).
TEST(CheckFinite, CApiReportsNumericError) {
  SquareModel t;
  MakeSquare(&t);
  const std::string path = testing_util::TempPath("check_finite.fb");
  FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(std::fwrite(t.bytes.data(), 1, t.bytes.size(), f), t.bytes.size());
  std::fclose(f);
  edge_model* m = nullptr;
  ASSERT_EQ(edge_model_load_in_memory(path.c_str(), &m), EDGE_OK) << edge_last_error();
  std::remove(path.c_str());  // read into memory: the file is no longer needed
  std::vector<float> in(8, 0.5f);
  in[2] = -3e19f;
  for (int check : {0, 1}) {
    edge_session_options o;
    edge_session_options_default(&o);
    EXPECT_EQ(o.check_finite, 0);
    o.check_finite = check;
    edge_session* s = nullptr;
    ASSERT_EQ(edge_session_create(m, &o, &s), EDGE_OK) << edge_last_error();
    ASSERT_EQ(edge_session_set_input(s, "x", in.data(), in.size() * sizeof(float)), EDGE_OK);
    const edge_status st = edge_session_invoke(s);
    if (check) {
      EXPECT_EQ(st, EDGE_NUMERIC_ERROR);
      EXPECT_NE(std::string(edge_last_error()).find("op 0 'square' (Mul)"), std::string::npos) << edge_last_error();
    } else {
      EXPECT_EQ(st, EDGE_OK);
    }
    edge_session_free(s);
  }
  edge_model_free(m);
}

}  // namespace
}  // namespace edge
