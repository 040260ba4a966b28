// Multi-graph model files (format 2): a denoiser and a decoder in one file,
// the links between graphs, the shared arena, tiled decoding, and one
// malformed file per rejection branch of the links and graph tables.
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <unistd.h>

#include "runtime/cond_encoder.h"
#include "runtime/decoder.h"
#include "runtime/edge.h"
#include "runtime/model.h"
#include "runtime/pipeline.h"
#include "runtime/session.h"
#include "runtime/shared_arena.h"
#include "runtime/writer/model_writer.h"
#include "tests/unit/model_test_util.h"

namespace edge {
namespace {

using testing_util::LoadBorrowed;
using testing_util::MalformedCase;
using T = fb::OpType;

// A latent model small enough to reason about. The denoiser predicts
// v = x * k; the decoder upsamples its [1, C, th, tw] input 2x (nearest,
// through Concat copies) and runs a ks x ks Conv2d (C -> 3, zero padding).
struct LatentSpec {
  int C = 2, H = 8, W = 8;     // latent
  int th = 8, tw = 8;          // decoder input (== latent: no tiling)
  int ks = 1;                  // decoder conv kernel
  int overlap = 2;
  int decoder_c = -1;          // decoder input channels (-1: C)
  bool link = true;
};

std::vector<float> Wave(size_t n, float phase) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = 0.5f * std::sin(0.37f * static_cast<float>(i) + phase);
  return v;
}

// Graph 1: the decoder, into `w` (current graph). Returns {input, output}.
std::pair<int, int> AddDecoder(ModelWriter& w, const LatentSpec& s) {
  const int C = s.decoder_c > 0 ? s.decoder_c : s.C, h = s.th, wd = s.tw;
  const int z = w.AddActivation("z", {1, C, h, wd});
  const int r1 = w.AddActivation("r1", {1, C, h, wd, 1});
  const int c1 = w.AddActivation("c1", {1, C, h, wd, 2});
  const int r2 = w.AddActivation("r2", {1, C, h, 1, 2 * wd});
  const int c2 = w.AddActivation("c2", {1, C, h, 2, 2 * wd});
  const int up = w.AddActivation("up", {1, C, 2 * h, 2 * wd});
  const int k = w.AddConstantF32("conv.w", {3, C, s.ks, s.ks}, Wave(size_t(3) * C * s.ks * s.ks, 0.3f));
  const int b = w.AddConstantF32("conv.b", {3}, {0.1f, -0.2f, 0.05f});
  const int out = w.AddActivation("pixels", {1, 3, 2 * h, 2 * wd});
  OpAttrs cat;
  w.AddOp(T::Reshape, {z}, {r1});
  cat.axis = 4;
  w.AddOp(T::Concat, {r1, r1}, {c1}, cat);
  w.AddOp(T::Reshape, {c1}, {r2});
  cat.axis = 3;
  w.AddOp(T::Concat, {r2, r2}, {c2}, cat);
  w.AddOp(T::Reshape, {c2}, {up});
  OpAttrs conv;
  conv.kernel_h = conv.kernel_w = s.ks;
  conv.pad_top = conv.pad_left = conv.pad_bottom = conv.pad_right = s.ks / 2;
  w.AddOp(T::Conv2d, {up, k, b}, {out}, conv, "conv");
  w.SetInputs({z});
  w.SetOutputs({out});
  return {z, out};
}

void AddDenoiser(ModelWriter& w, const LatentSpec& s, int* latent) {
  const int x = w.AddActivation("x", {1, s.C, s.H, s.W});
  const int t = w.AddActivation("t", {1});
  const int k = w.AddConstantF32("k", {1}, {-0.75f});
  const int v = w.AddActivation("v", {1, s.C, s.H, s.W});
  w.AddOp(T::Mul, {x, k}, {v});
  w.SetInputs({x, t});
  w.SetOutputs({v});
  PipelineInfo p;
  p.latent_input = x;
  p.timestep_input = t;
  p.output = v;
  p.latent_shape = {s.C, s.H, s.W};
  p.default_steps = 4;
  p.output_kind = fb::OutputKind::Latent;
  p.decode_tile_overlap = s.overlap;
  w.SetPipeline(p);
  *latent = x;
}

std::vector<uint8_t> Finish(const ModelWriter& w) {
  std::vector<uint8_t> out;
  Status st = w.Finish(&out);
  EXPECT_TRUE(st.ok()) << st.message();
  return out;
}

std::vector<uint8_t> MakeLatentModel(const LatentSpec& s) {
  ModelWriter w;
  int x = -1;
  AddDenoiser(w, s, &x);
  const int g = w.AddGraph("decoder");
  const auto io = AddDecoder(w, s);
  w.SelectGraph(0);
  if (s.link) w.AddLink(0, x, g, io.first);
  return Finish(w);
}

// An embedding-conditioned denoiser (condition input c [1, 3, 4]) with its
// stored null embedding of `null_elems` floats (out_of_range: a tensor index
// past the end). encoder >= 0 adds graph 1 'cond_encoder' feeding c from
// ids [1, 3] of that DType: I64/I32 through an Embedding of the [10, 4] table
// 0.25 * i; F32 (no token ids) through a Copy of a [1, 3, 4] input.
std::vector<uint8_t> EmbeddingModel(int null_elems, bool out_of_range, int encoder = -1) {
  ModelWriter w;
  // With an encoder graph the prediction depends on the condition (v = x + c,
  // broadcast over the latent's channels), so that prompts show in the output.
  const int64_t lh = encoder >= 0 ? 3 : 4;
  const int x = w.AddActivation("x", {1, 2, lh, 4});
  const int t = w.AddActivation("t", {1});
  const int c = w.AddActivation("c", {1, 3, 4});
  const int v = w.AddActivation("v", {1, 2, lh, 4});
  if (encoder >= 0) {
    const int c4 = w.AddActivation("c4", {1, 1, 3, 4});
    w.AddOp(T::Reshape, {c}, {c4});
    w.AddOp(T::Add, {x, c4}, {v});
  } else {
    w.AddOp(T::Copy, {x}, {v});
  }
  w.SetInputs({x, t, c});
  w.SetOutputs({v});
  const int nul = w.AddConstantF32("null", {null_elems}, std::vector<float>(null_elems, 0.f));
  PipelineInfo p;
  p.latent_input = x;
  p.timestep_input = t;
  p.condition_input = c;
  p.output = v;
  p.latent_shape = {2, lh, 4};
  p.null_condition_tensor = out_of_range ? 99 : nul;
  w.SetPipeline(p);
  if (encoder >= 0) {
    const fb::DType dt = static_cast<fb::DType>(encoder);
    const int g = w.AddGraph("cond_encoder");
    const int e = w.AddActivation("e", {1, 3, 4});
    if (dt == fb::DType::F32) {
      const int f = w.AddActivation("f", {1, 3, 4});
      w.AddOp(T::Copy, {f}, {e});
      w.SetInputs({f});
    } else {
      const int ids = w.AddActivation("ids", {1, 3}, dt);
      std::vector<float> table(40);
      for (size_t i = 0; i < table.size(); ++i) table[i] = 0.25f * static_cast<float>(i);
      w.AddOp(T::Embedding, {ids, w.AddConstantF32("table", {10, 4}, table)}, {e});
      w.SetInputs({ids});
    }
    w.SetOutputs({e});
    w.SelectGraph(0);
    w.AddLink(g, e, 0, c);
  }
  return Finish(w);
}

// The C API's view of a model: written to a temporary file and loaded (the
// file is unlinked at once; the mapping keeps it). Null on failure.
edge_model* LoadThroughFile(const std::vector<uint8_t>& bytes) {
  char path[] = "/tmp/edge_multi_graph_XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) return nullptr;
  const bool written = write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size());
  close(fd);
  edge_model* m = nullptr;
  if (!written || edge_model_load(path, &m) != EDGE_OK) m = nullptr;
  unlink(path);
  return m;
}

// LoadThroughFile and a session on graph 0 with default options; null on
// failure (*model is then freed and null).
edge_session* OpenThroughFile(const std::vector<uint8_t>& bytes, edge_model** model) {
  *model = LoadThroughFile(bytes);
  if (*model == nullptr) return nullptr;
  edge_session_options so;
  edge_session_options_default(&so);
  edge_session* sess = nullptr;
  if (edge_session_create(*model, &so, &sess) != EDGE_OK) {
    edge_model_free(*model);
    *model = nullptr;
  }
  return sess;
}

// Generates `n` samples and decodes them; returns the pixels.
std::vector<float> GenerateAndDecode(const Model& m, int n, bool shared, DecodeStats* stats, size_t* arena = nullptr) {
  SessionOptions so;
  so.external_arena = shared;
  auto den = Session::Create(&m, so);
  EXPECT_TRUE(den.ok()) << den.status().message();
  const GraphLinkInfo* link = m.decoder_link();
  EXPECT_NE(link, nullptr);
  auto dec = Session::Create(m.graph(link->to_graph), so);
  EXPECT_TRUE(dec.ok()) << dec.status().message();
  SharedArena arena_storage;
  if (shared) {
    Session* both[2] = {den.value().get(), dec.value().get()};
    Status st = arena_storage.Bind(both, 2, 0);
    EXPECT_TRUE(st.ok()) << st.message();
    if (arena) *arena = arena_storage.bytes();
  }
  auto pipe = Pipeline::Create(den.value().get());
  EXPECT_TRUE(pipe.ok()) << pipe.status().message();
  GenerateOptions g;
  g.num_samples = n;
  g.seed = 7;
  std::vector<float> lat(size_t(n) * pipe.value()->latent_elements());
  Status st = pipe.value()->Generate(g, lat.data());
  EXPECT_TRUE(st.ok()) << st.message();
  auto d = Decoder::Create(m, dec.value().get(), *link, pipe.value()->latent_shape(), -1);
  EXPECT_TRUE(d.ok()) << d.status().message();
  const size_t P = d.value()->output_elements();
  std::vector<float> px(size_t(n) * P);
  for (int k = 0; k < n; ++k) {
    st = d.value()->Decode(lat.data() + size_t(k) * pipe.value()->latent_elements(), px.data() + size_t(k) * P);
    EXPECT_TRUE(st.ok()) << st.message();
  }
  if (stats) *stats = d.value()->stats();
  return px;
}

TEST(MultiGraph, WrittenAndLoaded) {
  LatentSpec s;
  auto r = LoadBorrowed(MakeLatentModel(s));
  ASSERT_TRUE(r.ok()) << r.status().message();
  const Model& m = *r.value();
  EXPECT_EQ(m.fb()->format_version(), kFormatVersion);
  ASSERT_EQ(m.num_graphs(), 2);
  EXPECT_STREQ(m.graph_name(), "denoiser");
  EXPECT_EQ(m.graph(0), &m);
  EXPECT_EQ(m.FindGraph("decoder"), 1);
  EXPECT_EQ(m.FindGraph("encoder"), -1);
  EXPECT_EQ(m.graph(2), nullptr);
  const Model& d = *m.graph(1);
  EXPECT_STREQ(d.graph_name(), "decoder");
  EXPECT_EQ(d.pipeline(), nullptr);  // a view runs as a plain graph
  EXPECT_NE(m.pipeline(), nullptr);
  EXPECT_EQ(d.num_nodes(), 6);
  EXPECT_EQ(d.num_tensors(), 9);
  EXPECT_STREQ(d.tensor(d.outputs()[0]).name, "pixels");
  ASSERT_EQ(m.links().size(), 1u);
  const GraphLinkInfo* l = m.decoder_link();
  ASSERT_NE(l, nullptr);
  EXPECT_TRUE(l->sampled_latent);
  EXPECT_EQ(l->to_graph, 1);
  EXPECT_EQ(l->to_tensor, d.inputs()[0]);
  // Each graph counts its own constants.
  EXPECT_EQ(m.constant_bytes(), 4u);
  EXPECT_EQ(d.constant_bytes(), 4u * (3 * 2 + 3));
}

TEST(MultiGraph, SingleGraphFilesStayVersion1) {
  ModelWriter w;
  int x = -1;
  AddDenoiser(w, LatentSpec(), &x);
  auto r = LoadBorrowed(Finish(w));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r.value()->fb()->format_version(), kSingleGraphFormatVersion);
  EXPECT_EQ(r.value()->num_graphs(), 1);
  EXPECT_EQ(r.value()->decoder_link(), nullptr);
}

TEST(MultiGraph, EqualWeightsAreStoredOnce) {
  ModelWriter w;
  const std::vector<float> tied = Wave(256, 1.f);
  const int a = w.AddConstantF32("emb", {16, 16}, tied);
  const int y = w.AddActivation("y", {16, 16});
  w.AddOp(T::Copy, {a}, {y});
  w.SetOutputs({y});
  w.AddGraph("decoder");
  const int b = w.AddConstantF32("emb_tied", {16, 16}, tied);
  const int c = w.AddConstantF32("other", {16, 16}, Wave(256, 2.f));
  const int z = w.AddActivation("z", {16, 16});
  w.AddOp(T::Add, {b, c}, {z});
  w.SetOutputs({z});
  auto r = LoadBorrowed(Finish(w));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r.value()->fb()->buffers()->size(), 2u);
  EXPECT_EQ(r.value()->tensor(a).data, r.value()->graph(1)->tensor(b).data);
  EXPECT_NE(r.value()->graph(1)->tensor(b).data, r.value()->graph(1)->tensor(c).data);
}

// Untiled decoding against an independent loop over the model's definition.
TEST(MultiGraph, DecodeMatchesReference) {
  LatentSpec s;
  s.ks = 3;
  auto r = LoadBorrowed(MakeLatentModel(s));
  ASSERT_TRUE(r.ok()) << r.status().message();
  DecodeStats st;
  const std::vector<float> px = GenerateAndDecode(*r.value(), 1, false, &st);
  EXPECT_EQ(st.tiles, 1);
  // The latent: flow Euler with v = -0.75 x over 4 steps from seed 7's noise.
  SessionOptions so;
  auto den = Session::Create(r.value().get(), so);
  ASSERT_TRUE(den.ok());
  auto pipe = Pipeline::Create(den.value().get());
  ASSERT_TRUE(pipe.ok());
  GenerateOptions g;
  g.seed = 7;
  std::vector<float> lat(pipe.value()->latent_elements());
  ASSERT_TRUE(pipe.value()->Generate(g, lat.data()).ok());
  const int C = s.C, H = 2 * s.H, W = 2 * s.W;
  const std::vector<float> k = Wave(size_t(3) * C * 9, 0.3f);
  const float bias[3] = {0.1f, -0.2f, 0.05f};
  double worst = 0;
  for (int o = 0; o < 3; ++o) {
    for (int y = 0; y < H; ++y) {
      for (int x = 0; x < W; ++x) {
        double acc = bias[o];
        for (int c = 0; c < C; ++c) {
          for (int dy = -1; dy <= 1; ++dy) {
            for (int dx = -1; dx <= 1; ++dx) {
              const int yy = y + dy, xx = x + dx;
              if (yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
              acc += k[((o * C + c) * 3 + dy + 1) * 3 + dx + 1] * lat[(c * s.H + yy / 2) * s.W + xx / 2];
            }
          }
        }
        worst = std::max(worst, std::fabs(acc - px[(o * H + y) * W + x]));
      }
    }
  }
  EXPECT_LT(worst, 1e-5);
}

// A pointwise decoder (1x1 conv after nearest upsampling) sees nothing
// across tile borders, so tiles must reproduce the whole decode exactly up
// to the rounding of the blend (weights sum to 1).
TEST(MultiGraph, TiledDecodeOfPointwiseDecoderEqualsWhole) {
  // 8x8 in 4x4 tiles, overlap 2: origins 0, 2, 4 (ramps meet exactly);
  // 9x7 in 4x4 tiles, overlap 1: origins 0, 3, 5 and 0, 3 (the last tile
  // is pulled back to the edge, so neighbours share more than the overlap).
  struct Geometry { int H, W, overlap, tiles_h, tiles_w; };
  for (const Geometry& geo : {Geometry{8, 8, 2, 3, 3}, Geometry{9, 7, 1, 3, 2}}) {
    LatentSpec whole;
    whole.H = whole.th = geo.H;
    whole.W = whole.tw = geo.W;
    whole.overlap = geo.overlap;
    LatentSpec tiled = whole;
    tiled.th = tiled.tw = 4;
    auto a = LoadBorrowed(MakeLatentModel(whole));
    auto b = LoadBorrowed(MakeLatentModel(tiled));
    ASSERT_TRUE(a.ok() && b.ok());
    DecodeStats sa, sb;
    const std::vector<float> pa = GenerateAndDecode(*a.value(), 2, false, &sa);
    const std::vector<float> pb = GenerateAndDecode(*b.value(), 2, false, &sb);
    EXPECT_EQ(sa.tiles, 1);
    EXPECT_EQ(sb.tiles_h, geo.tiles_h);
    EXPECT_EQ(sb.tiles_w, geo.tiles_w);
    ASSERT_EQ(pa.size(), pb.size());
    for (size_t i = 0; i < pa.size(); ++i) ASSERT_NEAR(pa[i], pb[i], 1e-6) << geo.H << "x" << geo.W << " at " << i;
  }
}

// A 3x3 decoder sees zero padding at tile borders: tiles differ from the
// whole decode near the seams only, and the blend keeps that small.
TEST(MultiGraph, TiledDecodeOf3x3DecoderStaysClose) {
  LatentSpec whole;
  whole.H = whole.W = 12;
  whole.th = whole.tw = 12;
  whole.ks = 3;
  LatentSpec tiled = whole;
  tiled.th = tiled.tw = 6;  // origins 0, 4, 6
  auto a = LoadBorrowed(MakeLatentModel(whole));
  auto b = LoadBorrowed(MakeLatentModel(tiled));
  ASSERT_TRUE(a.ok() && b.ok());
  DecodeStats sb;
  const std::vector<float> pa = GenerateAndDecode(*a.value(), 1, false, nullptr);
  const std::vector<float> pb = GenerateAndDecode(*b.value(), 1, false, &sb);
  EXPECT_EQ(sb.tiles, 9);
  double se = 0, peak = 0;
  int differ = 0;
  for (size_t i = 0; i < pa.size(); ++i) {
    se += (pa[i] - pb[i]) * (pa[i] - pb[i]);
    peak = std::max(peak, std::fabs(double(pa[i])));
    differ += pa[i] != pb[i];
  }
  const double psnr = 10 * std::log10(peak * peak / (se / pa.size()));
  EXPECT_GT(psnr, 30.0);
  EXPECT_GT(differ, 0);  // the seams are real: this is not a whole decode
}

TEST(MultiGraph, SharedArenaIsTheLargestPlanAndGivesTheSameOutput) {
  LatentSpec s;
  s.ks = 3;
  auto r = LoadBorrowed(MakeLatentModel(s));
  ASSERT_TRUE(r.ok());
  size_t arena = 0;
  const std::vector<float> own = GenerateAndDecode(*r.value(), 2, false, nullptr);
  const std::vector<float> shared = GenerateAndDecode(*r.value(), 2, true, nullptr, &arena);
  EXPECT_EQ(own, shared);
  SessionOptions so;
  auto den = Session::Create(r.value().get(), so);
  auto dec = Session::Create(r.value()->graph(1), so);
  ASSERT_TRUE(den.ok() && dec.ok());
  EXPECT_EQ(arena, std::max(den.value()->arena_bytes(), dec.value()->arena_bytes()));
  EXPECT_LT(arena, den.value()->arena_bytes() + dec.value()->arena_bytes());
}

TEST(MultiGraph, ExternalArenaMisuseIsAnError) {
  LatentSpec s;
  auto r = LoadBorrowed(MakeLatentModel(s));
  ASSERT_TRUE(r.ok());
  SessionOptions so;
  so.external_arena = true;
  auto dec = Session::Create(r.value()->graph(1), so);
  ASSERT_TRUE(dec.ok());
  Status st = dec.value()->Invoke();
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(st.message()).find("no arena is bound"), std::string::npos);
  std::vector<uint8_t> small(64);
  st = dec.value()->UseArena(small.data(), 1);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  SessionOptions own;
  auto s2 = Session::Create(r.value()->graph(1), own);
  ASSERT_TRUE(s2.ok());
  st = s2.value()->UseArena(small.data(), small.size());
  EXPECT_NE(std::string(st.message()).find("its own arena"), std::string::npos);
  // A capped shared arena is refused before anything is allocated.
  SharedArena shared;
  auto den = Session::Create(r.value().get(), so);
  ASSERT_TRUE(den.ok());
  Session* both[2] = {den.value().get(), dec.value().get()};
  st = shared.Bind(both, 2, 1);
  EXPECT_EQ(st.code(), StatusCode::kOutOfMemory);
}

TEST(MultiGraph, DecoderRefusesAnOverlapAsLargeAsTheTile) {
  LatentSpec s;
  s.th = s.tw = 4;
  auto r = LoadBorrowed(MakeLatentModel(s));
  ASSERT_TRUE(r.ok());
  SessionOptions so;
  auto dec = Session::Create(r.value()->graph(1), so);
  ASSERT_TRUE(dec.ok());
  Array<int64_t> shape;
  const int64_t dims[3] = {s.C, s.H, s.W};
  ASSERT_TRUE(shape.Assign(dims, dims + 3));
  auto d = Decoder::Create(*r.value(), dec.value().get(), *r.value()->decoder_link(), shape, 4);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(std::string(d.status().message()).find("overlap 4 must be smaller"), std::string::npos);
}

TEST(MultiGraph, CApiOpensGraphsAndDecodes) {
  LatentSpec s;
  s.ks = 3;
  s.th = s.tw = 4;  // tiled
  const std::vector<uint8_t> bytes = MakeLatentModel(s);
  edge_model* m = LoadThroughFile(bytes);
  ASSERT_NE(m, nullptr) << edge_last_error();
  EXPECT_EQ(edge_model_num_graphs(m), 2);
  EXPECT_STREQ(edge_model_graph_name(m, 0), "denoiser");
  EXPECT_STREQ(edge_model_graph_name(m, 1), "decoder");
  EXPECT_EQ(edge_model_graph_name(m, 2), nullptr);
  edge_session_options so;
  edge_session_options_default(&so);
  edge_session* sess = nullptr;
  EXPECT_EQ(edge_session_create_graph(m, "encoder", &so, &sess), EDGE_INVALID_ARGUMENT);
  ASSERT_EQ(edge_session_create(m, &so, &sess), EDGE_OK) << edge_last_error();
  const size_t P = edge_decoded_elements(sess);
  EXPECT_EQ(P, size_t(3) * 2 * s.H * 2 * s.W);
  edge_generate_options g;
  edge_generate_options_default(&g);
  g.num_samples = 2;
  g.seed = 7;
  std::vector<float> px(2 * P);
  EXPECT_EQ(edge_generate_decoded(sess, &g, px.data(), px.size() - 1), EDGE_INVALID_ARGUMENT);
  ASSERT_EQ(edge_generate_decoded(sess, &g, px.data(), px.size()), EDGE_OK) << edge_last_error();
  auto r = LoadBorrowed(bytes);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(px, GenerateAndDecode(*r.value(), 2, false, nullptr));
  edge_session_free(sess);

  // One graph by name: the decoder alone.
  ASSERT_EQ(edge_session_create_graph(m, "decoder", &so, &sess), EDGE_OK) << edge_last_error();
  EXPECT_EQ(edge_decoded_elements(sess), 0u);  // no pipeline on a graph view
  std::vector<float> z(size_t(s.C) * s.th * s.tw, 0.25f);
  ASSERT_EQ(edge_session_set_input(sess, "z", z.data(), z.size() * sizeof(float)), EDGE_OK) << edge_last_error();
  ASSERT_EQ(edge_session_invoke(sess), EDGE_OK) << edge_last_error();
  const void* out = nullptr;
  size_t out_bytes = 0;
  ASSERT_EQ(edge_session_get_output(sess, "pixels", &out, &out_bytes), EDGE_OK) << edge_last_error();
  EXPECT_EQ(out_bytes, size_t(3) * 2 * s.th * 2 * s.tw * sizeof(float));
  edge_session_free(sess);
  edge_model_free(m);
}

}  // namespace

namespace testing_util {

// One malformed multi-graph file per rejection branch of the graph table
// and the links (model_validate.cc), each with its message.
std::vector<MalformedCase> MultiGraphMalformedCases() {
  std::vector<MalformedCase> cases;
  auto add = [&](const std::string& what, std::vector<uint8_t> bytes, const std::string& msg) {
    cases.push_back({what, std::move(bytes), msg});
  };
  // Builds the two-graph model, letting `edit` change the writer before the
  // link is added (or add links itself when spec.link is false).
  auto make = [](const LatentSpec& s, void (*edit)(ModelWriter&, int x, std::pair<int, int> dec)) {
    ModelWriter w;
    int x = -1;
    AddDenoiser(w, s, &x);
    w.AddGraph("decoder");
    const auto io = AddDecoder(w, s);
    w.SelectGraph(0);
    if (s.link) w.AddLink(0, x, 1, io.first);
    if (edit) edit(w, x, io);
    return Finish(w);
  };
  LatentSpec s;
  add("link to graph 5", make(s, [](ModelWriter& w, int x, std::pair<int, int> d) { w.AddLink(0, x, 5, d.first); }),
      "link 1: graph index 0 or 5 out of range (2 graphs)");
  add("link to itself", make(s, [](ModelWriter& w, int x, std::pair<int, int>) { w.AddLink(0, 1, 0, x); }),
      "link 1: links graph 0 to itself");
  add("link tensor out of range", make(s, [](ModelWriter& w, int, std::pair<int, int>) { w.AddLink(0, 99, 1, 0); }),
      "link 1: tensor index 99 or 0 out of range");
  LatentSpec nolink = s;
  nolink.link = false;
  add("source is not an output",
      make(nolink, [](ModelWriter& w, int x, std::pair<int, int> d) { w.AddLink(1, d.first, 0, 1); }),
      "link 0: source tensor 0 'z' of graph 1 is not a graph output");
  add("destination is not an input",
      make(nolink, [](ModelWriter& w, int x, std::pair<int, int> d) { w.AddLink(0, x, 1, d.second); }),
      "link 0: destination tensor 8 'pixels' of graph 1 is not a graph input");
  add("input fed twice", make(s, [](ModelWriter& w, int x, std::pair<int, int> d) { w.AddLink(0, x, 1, d.first); }),
      "link 1: input 'z' of graph 1 is fed twice");
  LatentSpec wrong_c = s;
  wrong_c.decoder_c = 3;
  add("shape mismatch", make(wrong_c, nullptr),
      "link 0: shape mismatch at the graph boundary: 'x' of graph 0 (F32, rank 4) cannot feed 'z' of graph 1");
  add("cycle", make(nolink, [](ModelWriter& w, int, std::pair<int, int>) {
        // Graph 2 subsamples the pixels back to the latent's shape; 1 -> 2 -> 1
        // and nothing feeds either from graph 0.
        w.AddGraph("post");
        const int a = w.AddActivation("a", {1, 3, 16, 16});
        const int b = w.AddActivation("b", {1, 2, 8, 8});
        OpAttrs sl;
        sl.starts = {0, 0, 0, 0};
        sl.steps = {1, 1, 2, 2};
        w.AddOp(T::Slice, {a}, {b}, sl);
        w.SetInputs({a});
        w.SetOutputs({b});
        w.SelectGraph(0);
        w.AddLink(1, 8, 2, a);
        w.AddLink(2, b, 1, 0);
      }),
      "links: graph 1 lies on a cycle of links");
  add("too many links", make(s, [](ModelWriter& w, int x, std::pair<int, int> d) {
        for (int i = 0; i < 64; ++i) w.AddLink(0, x, 1, d.first);
      }),
      "links: 65 links, at most 64");
  add("too many graphs", make(s, [](ModelWriter& w, int, std::pair<int, int>) {
        for (int i = 0; i < 16; ++i) w.AddGraph("g" + std::to_string(i));
        w.SelectGraph(0);
      }),
      "graphs: 17 further graphs, at most 16");
  add("unnamed graph", make(s, [](ModelWriter& w, int, std::pair<int, int>) {
        w.AddGraph("");
        w.SelectGraph(0);
      }),
      "graph 2 has no name");
  add("name used twice", make(s, [](ModelWriter& w, int, std::pair<int, int>) {
        w.AddGraph("decoder");
        w.SelectGraph(0);
      }),
      "graph 2: the name 'decoder' is used twice");
  add("graph named like the main graph", make(s, [](ModelWriter& w, int, std::pair<int, int>) {
        w.AddGraph("denoiser");
        w.SelectGraph(0);
      }),
      "graph 2: the name 'denoiser' is used twice");
  add("version 1 with graphs", make(s, [](ModelWriter& w, int, std::pair<int, int>) {
        w.SetFormatVersionForTesting(1);
      }),
      "format version 1 holds one graph, but the file has 1 more graphs and 1 links");
  add("bad op in a further graph", make(s, [](ModelWriter& w, int, std::pair<int, int>) {
        w.SelectGraph(1);
        w.SetOutputs({42});
        w.SelectGraph(0);
      }),
      "graph 1 'decoder': graph output 0: tensor index 42 out of range (9 tensors)");
  add("condition encoder without token ids", EmbeddingModel(12, false, static_cast<int>(fb::DType::F32)),
      "link 0: the condition encoder (graph 1) must take one input, of token ids (I64 or I32)");
  add("null embedding out of range", EmbeddingModel(12, true), "pipeline: null_condition_tensor 99 out of range (5 tensors)");
  add("null embedding of the wrong size", EmbeddingModel(5, false),
      "pipeline: null_condition_tensor 'null' must be an F32 constant of one sample of an F32 condition input");
  {
    auto r = LoadBorrowed(EmbeddingModel(12, false));
    EXPECT_TRUE(r.ok()) << "the well-formed null embedding: " << r.status().message();
  }
  LatentSpec big_overlap = s;
  big_overlap.overlap = 5000;
  add("decode tile overlap", make(big_overlap, nullptr), "pipeline: decode_tile_overlap 5000 out of range [0, 1024]");
  return cases;
}

}  // namespace testing_util

namespace {

// The condition-encoder stage: graph 1 (token ids -> Embedding) feeds the
// denoiser's condition input; prompts are zero-padded, long ones refused.
TEST(MultiGraph, CondEncoderEncodesPaddedPrompts) {
  for (fb::DType dt : {fb::DType::I64, fb::DType::I32}) {
    const std::vector<uint8_t> bytes = EmbeddingModel(12, false, static_cast<int>(dt));
    auto r = LoadBorrowed(bytes);
    ASSERT_TRUE(r.ok()) << r.status().message();
    const Model& m = *r.value();
    const GraphLinkInfo* link = m.cond_encoder_link();
    ASSERT_NE(link, nullptr);
    EXPECT_EQ(link->from_graph, 1);
    EXPECT_EQ(m.decoder_link(), nullptr);
    auto s = Session::Create(m.graph(1), SessionOptions());
    ASSERT_TRUE(s.ok()) << s.status().message();
    auto enc = CondEncoder::Create(m, s.value().get(), *link);
    ASSERT_TRUE(enc.ok()) << enc.status().message();
    EXPECT_EQ(enc.value()->max_tokens(), 3u);
    ASSERT_EQ(enc.value()->output_elements(), 12u);
    const int64_t prompt[2] = {7, 2};
    std::vector<float> out(12, -1.f);
    ASSERT_TRUE(enc.value()->Encode(prompt, 2, out.data()).ok());
    for (int k = 0; k < 3; ++k) {
      const int id = k == 0 ? 7 : k == 1 ? 2 : 0;  // padded with id 0
      for (int j = 0; j < 4; ++j) EXPECT_EQ(out[size_t(k) * 4 + j], 0.25f * float(id * 4 + j)) << k << "," << j;
    }
    const int64_t too_long[4] = {1, 2, 3, 4};
    Status st = enc.value()->Encode(too_long, 4, out.data());
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(std::string(st.message()).find("a prompt of 4 tokens"), std::string::npos) << st.message();
    const int64_t bad[1] = {10};
    EXPECT_FALSE(enc.value()->Encode(bad, 1, out.data()).ok()) << "an id outside the table";
    if (dt == fb::DType::I32) {
      const int64_t huge[1] = {int64_t(1) << 40};
      EXPECT_EQ(enc.value()->Encode(huge, 1, out.data()).code(), StatusCode::kInvalidArgument);
    }
  }
}

// The C API's prompt stage: token ids give the same latents as the
// embeddings the encoder computes, one prompt serves every sample, and
// misuse is refused.
TEST(MultiGraph, CApiGeneratesFromPromptTokens) {
  const std::vector<uint8_t> bytes = EmbeddingModel(12, false, static_cast<int>(fb::DType::I64));
  edge_model* m = nullptr;
  edge_session* sess = OpenThroughFile(bytes, &m);
  ASSERT_NE(sess, nullptr) << edge_last_error();
  const size_t L = edge_latent_elements(sess);
  ASSERT_EQ(L, 24u);

  const int64_t p0[2] = {7, 2}, p1[1] = {3};
  const int64_t* prompts[2] = {p0, p1};
  const size_t lengths[2] = {2, 1};
  edge_generate_options g;
  edge_generate_options_default(&g);
  g.num_samples = 2;
  g.seed = 3;
  g.prompt_tokens = prompts;
  g.prompt_lengths = lengths;
  g.num_prompts = 2;
  std::vector<float> from_tokens(2 * L);
  ASSERT_EQ(edge_generate(sess, &g, from_tokens.data(), from_tokens.size()), EDGE_OK) << edge_last_error();

  // The same through precomputed embeddings (the encoder run by hand).
  auto r = LoadBorrowed(bytes);
  ASSERT_TRUE(r.ok()) << r.status().message();
  auto es = Session::Create(r.value()->graph(1), SessionOptions());
  ASSERT_TRUE(es.ok());
  auto enc = CondEncoder::Create(*r.value(), es.value().get(), *r.value()->cond_encoder_link());
  ASSERT_TRUE(enc.ok());
  std::vector<float> cond(24);
  ASSERT_TRUE(enc.value()->Encode(p0, 2, cond.data()).ok());
  ASSERT_TRUE(enc.value()->Encode(p1, 1, cond.data() + 12).ok());
  edge_generate_options gc;
  edge_generate_options_default(&gc);
  gc.num_samples = 2;
  gc.seed = 3;
  gc.condition = cond.data();
  std::vector<float> from_cond(2 * L);
  ASSERT_EQ(edge_generate(sess, &gc, from_cond.data(), from_cond.size()), EDGE_OK) << edge_last_error();
  EXPECT_EQ(from_tokens, from_cond);

  // One prompt for both samples: both take the first prompt's embedding.
  g.num_prompts = 1;
  std::vector<float> shared(2 * L);
  ASSERT_EQ(edge_generate(sess, &g, shared.data(), shared.size()), EDGE_OK) << edge_last_error();
  std::copy(cond.begin(), cond.begin() + 12, cond.begin() + 12);
  ASSERT_EQ(edge_generate(sess, &gc, from_cond.data(), from_cond.size()), EDGE_OK) << edge_last_error();
  EXPECT_EQ(shared, from_cond);
  EXPECT_NE(shared, from_tokens) << "the second sample's prompt must change its latents";

  // Misuse.
  g.num_prompts = 3;
  EXPECT_EQ(edge_generate(sess, &g, shared.data(), shared.size()), EDGE_INVALID_ARGUMENT);
  EXPECT_NE(std::string(edge_last_error()).find("3 prompts for 2 samples"), std::string::npos) << edge_last_error();
  g.num_prompts = 2;
  g.condition = cond.data();
  EXPECT_EQ(edge_generate(sess, &g, shared.data(), shared.size()), EDGE_INVALID_ARGUMENT);
  g.condition = nullptr;
  const int64_t too_long[4] = {1, 2, 3, 4};
  const int64_t* long_prompts[2] = {too_long, p1};
  const size_t long_lengths[2] = {4, 1};
  g.prompt_tokens = long_prompts;
  g.prompt_lengths = long_lengths;
  EXPECT_EQ(edge_generate(sess, &g, shared.data(), shared.size()), EDGE_INVALID_ARGUMENT);
  EXPECT_NE(std::string(edge_last_error()).find("a prompt of 4 tokens"), std::string::npos) << edge_last_error();
  g.prompt_lengths = nullptr;
  EXPECT_EQ(edge_generate(sess, &g, shared.data(), shared.size()), EDGE_INVALID_ARGUMENT);
  edge_session_free(sess);
  edge_model_free(m);
}

// A model without an encoder graph refuses prompts.
TEST(MultiGraph, CApiPromptsNeedAnEncoderGraph) {
  const std::vector<uint8_t> bytes = EmbeddingModel(12, false);
  edge_model* m = nullptr;
  edge_session* sess = OpenThroughFile(bytes, &m);
  ASSERT_NE(sess, nullptr) << edge_last_error();
  const int64_t p0[1] = {1};
  const int64_t* prompts[1] = {p0};
  const size_t lengths[1] = {1};
  edge_generate_options g;
  edge_generate_options_default(&g);
  g.prompt_tokens = prompts;
  g.prompt_lengths = lengths;
  g.num_prompts = 1;
  std::vector<float> out(edge_latent_elements(sess));
  EXPECT_EQ(edge_generate(sess, &g, out.data(), out.size()), EDGE_UNSUPPORTED);
  EXPECT_NE(std::string(edge_last_error()).find("no condition-encoder graph"), std::string::npos) << edge_last_error();
  edge_session_free(sess);
  edge_model_free(m);
}

TEST(MultiGraph, MalformedFilesAreRejectedWithTheirMessage) {
  for (const MalformedCase& c : testing_util::MultiGraphMalformedCases()) {
    auto r = LoadBorrowed(c.bytes);
    ASSERT_FALSE(r.ok()) << c.what;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidModel) << c.what;
    EXPECT_NE(std::string(r.status().message()).find(c.message), std::string::npos)
        << c.what << ": got \"" << r.status().message() << "\"";
  }
}

}  // namespace
}  // namespace edge
