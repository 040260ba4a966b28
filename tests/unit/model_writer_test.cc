// ModelWriter: file layout, determinism, refusals, and a round trip through
// the loader of a model that uses every op type and every field.
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <dirent.h>

#include <gtest/gtest.h>

#include "runtime/model.h"
#include "runtime/model_validate.h"
#include "runtime/writer/model_writer.h"
#include "tests/unit/model_test_util.h"

namespace edge {
namespace {

using testing_util::LoadBorrowed;
using testing_util::Ramp;
using testing_util::TempPath;
using testing_util::AllOps;
using T = fb::OpType;

std::vector<int> Vec(const Array<int>& a) { return std::vector<int>(a.begin(), a.end()); }

TEST(ModelWriter, RoundTripsEveryOpTypeAndField) {
  AllOps m;
  std::vector<uint8_t> bytes;
  ASSERT_TRUE(m.w.Finish(&bytes).ok());
  auto r = LoadBorrowed(bytes);
  ASSERT_TRUE(r.ok()) << r.status().message();
  const Model& model = **r;
  EXPECT_STREQ(model.name(), "all-ops");
  EXPECT_STREQ(model.producer(), "model_writer_test 1.0");
  EXPECT_EQ(model.fb()->format_version(), kSingleGraphFormatVersion);
  EXPECT_EQ(model.file_size(), bytes.size());
  ASSERT_EQ(model.num_tensors(), m.w.num_tensors());
  ASSERT_EQ(model.num_nodes(), 29);
  EXPECT_EQ(Vec(model.inputs()), (std::vector<int>{m.x, m.t, m.ids}));
  EXPECT_EQ(Vec(model.outputs()),
            (std::vector<int>{m.acts[26], m.acts[20], m.acts[21], m.acts[19], m.acts[28]}));

  // Every op type appears exactly once, in order of the enum (Linear x3).
  std::vector<int> seen(static_cast<int>(T::MAX) + 1, 0);
  for (int i = 0; i < model.num_nodes(); ++i) {
    seen[static_cast<int>(model.node(i).type)]++;
    EXPECT_EQ(std::string(model.node(i).name), "op" + std::to_string(i));
    EXPECT_EQ(model.node(i).op, model.fb()->operators()->Get(i));
  }
  for (int k = 0; k <= static_cast<int>(T::MAX); ++k) {
    EXPECT_GE(seen[k], 1) << fb::EnumNameOpType(static_cast<T>(k));
  }

  // Tensors: names, shapes, dtypes, constants' data.
  const TensorInfo& x = model.tensor(m.x);
  EXPECT_STREQ(x.name, "x");
  EXPECT_FALSE(x.is_constant);
  EXPECT_EQ(x.data, nullptr);
  EXPECT_EQ(x.rank, 3);
  EXPECT_EQ(x.dims[0], 1);
  EXPECT_EQ(x.dims[2], 8);
  EXPECT_EQ(x.dim(-1), 8);
  EXPECT_EQ(x.num_elements, 32);
  EXPECT_EQ(x.bytes, 128u);
  EXPECT_EQ(model.tensor(m.ids).dtype, fb::DType::I32);
  const TensorInfo& W = model.tensor(m.W);
  EXPECT_TRUE(W.is_constant);
  ASSERT_NE(W.data, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(W.data) % 64, 0u);
  EXPECT_EQ(std::memcmp(W.data, Ramp(64).data(), 256), 0);
  EXPECT_EQ(W.quant, fb::QuantScheme::None);
  EXPECT_EQ(std::memcmp(model.tensor(m.Wc).data, Ramp(24).data(), 24 * 4), 0);
  EXPECT_EQ(model.tensor(m.Wc).rank, 4);
  const TensorInfo& Wq = model.tensor(m.Wq);
  EXPECT_EQ(Wq.dtype, fb::DType::I8);
  EXPECT_EQ(Wq.quant, fb::QuantScheme::Int8PerChannel);
  EXPECT_EQ(Wq.bytes, 64u);
  EXPECT_EQ(std::memcmp(Wq.data, m.q.data(), 64), 0);
  ASSERT_EQ(Wq.scale_bytes, 32u);
  EXPECT_EQ(std::memcmp(Wq.scale_data, m.qscales.data(), 32), 0);
  const TensorInfo& Wn = model.tensor(m.Wn);
  EXPECT_EQ(Wn.dtype, fb::DType::NVFP4);
  EXPECT_EQ(Wn.quant, fb::QuantScheme::NVFP4);
  EXPECT_EQ(Wn.bytes, 32u);
  EXPECT_EQ(Wn.num_elements, 64);
  EXPECT_EQ(std::memcmp(Wn.data, m.codes.data(), 32), 0);
  ASSERT_EQ(Wn.scale_bytes, 8u);
  EXPECT_EQ(std::memcmp(Wn.scale_data, m.bscales.data(), 8), 0);
  EXPECT_EQ(Wn.tensor_scale, 0.125f);
  EXPECT_EQ(Wn.block_size, 16);
  EXPECT_EQ(Wn.layout, fb::WeightLayout::RowMajor);
  EXPECT_EQ(model.FindTensor("gamma"), m.gamma);
  EXPECT_EQ(model.FindTensor("nope"), -1);
  EXPECT_EQ(model.FindTensor(nullptr), -1);
  // 15 constants (13 plain, 2 quantized) and 2 scale buffers.
  size_t want_const = 0;
  for (int i = 0; i < model.num_tensors(); ++i) {
    want_const += model.tensor(i).bytes * model.tensor(i).is_constant + model.tensor(i).scale_bytes;
  }
  EXPECT_EQ(model.constant_bytes(), want_const);

  // Operators and their options.
  auto node = [&](int i) -> const NodeInfo& { return model.node(i); };
  EXPECT_EQ(Vec(node(0).inputs), (std::vector<int>{m.x, m.W, m.bias}));
  EXPECT_EQ(Vec(node(0).outputs), (std::vector<int>{m.acts[0]}));
  EXPECT_EQ(node(0).op->options_as_LinearOptions()->activation(), fb::Activation::GeluTanh);
  EXPECT_EQ(Vec(node(1).inputs), (std::vector<int>{m.acts[0], m.Wq, -1}));
  EXPECT_EQ(node(1).op->options_as_LinearOptions()->activation(), fb::Activation::None);
  EXPECT_TRUE(node(3).op->options_as_MatMulOptions()->transpose_b());
  EXPECT_EQ(node(4).op->options_as_NormOptions()->epsilon(), 1e-6f);
  EXPECT_EQ(node(5).op->options_as_NormOptions()->epsilon(), 3e-5f);
  EXPECT_EQ(node(6).op->options_type(), fb::OpOptions::NONE);
  EXPECT_TRUE(node(8).op->options_as_GeluOptions()->approximate_tanh());
  EXPECT_EQ(node(10).op->options_as_AxisOptions()->axis(), -1);
  const auto* perm = node(16).op->options_as_TransposeOptions()->perm();
  ASSERT_EQ(perm->size(), 4u);
  EXPECT_EQ(std::vector<int>(perm->begin(), perm->end()), (std::vector<int>{0, 2, 1, 3}));
  EXPECT_EQ(node(17).op->options_as_AxisOptions()->axis(), 1);
  EXPECT_EQ(node(18).outputs.size(), 2u);
  EXPECT_EQ(node(18).op->options_as_AxisOptions()->axis(), -3);
  const auto* sl = node(19).op->options_as_SliceOptions();
  EXPECT_EQ(std::vector<int64_t>(sl->starts()->begin(), sl->starts()->end()),
            (std::vector<int64_t>{0, 0, 1, 0}));
  EXPECT_EQ(std::vector<int64_t>(sl->steps()->begin(), sl->steps()->end()),
            (std::vector<int64_t>{1, 1, 1, 2}));
  const auto* cv = node(20).op->options_as_ConvOptions();
  EXPECT_EQ(cv->kernel_h(), 3);
  EXPECT_EQ(cv->kernel_w(), 2);
  EXPECT_EQ(cv->stride_h(), 2);
  EXPECT_EQ(cv->stride_w(), 3);
  EXPECT_EQ(cv->pad_top(), 1);
  EXPECT_EQ(cv->pad_left(), 2);
  EXPECT_EQ(cv->pad_bottom(), 3);
  EXPECT_EQ(cv->pad_right(), 4);
  EXPECT_EQ(cv->dilation_h(), 2);
  EXPECT_EQ(cv->dilation_w(), 1);
  EXPECT_EQ(cv->groups(), 2);
  const auto* te = node(21).op->options_as_TimestepEmbeddingOptions();
  EXPECT_EQ(te->dim(), 8);
  EXPECT_EQ(te->max_period(), 5000.f);
  EXPECT_FALSE(te->cos_first());
  EXPECT_EQ(te->downscale_freq_shift(), 1.f);
  EXPECT_EQ(te->scale(), 1000.f);
  EXPECT_EQ(Vec(node(22).inputs), (std::vector<int>{m.ids, m.table}));
  const auto* at = node(23).op->options_as_AttentionOptions();
  EXPECT_EQ(at->num_heads(), 2);
  EXPECT_EQ(at->scale(), 0.f);
  EXPECT_EQ(at->layout(), fb::TensorLayout::BHSD);
  EXPECT_EQ(at->sparse_density(), 0.25f);
  const auto* ro = node(24).op->options_as_RopeOptions();
  EXPECT_EQ(ro->num_heads(), 2);
  EXPECT_TRUE(ro->interleaved());
  EXPECT_EQ(ro->layout(), fb::TensorLayout::BSHD);
  EXPECT_EQ(node(25).op->options_as_UnaryOptions()->kind(), fb::UnaryKind::Erf);
  EXPECT_EQ(node(26).op->options_type(), fb::OpOptions::NONE);
  const auto* gn = node(27).op->options_as_GroupNormOptions();
  EXPECT_EQ(gn->groups(), 2);
  EXPECT_EQ(gn->epsilon(), 2e-6f);
  EXPECT_EQ(gn->activation(), fb::Activation::SiLU);
  EXPECT_EQ(node(28).op->options_type(), fb::OpOptions::NONE);

  // Cache region and pipeline.
  ASSERT_EQ(model.cache_regions().size(), 1u);
  const CacheRegionInfo& cr = model.cache_regions()[0];
  EXPECT_STREQ(cr.name, "blk0");
  EXPECT_EQ(cr.first_op, 4);
  EXPECT_EQ(cr.last_op, 7);
  EXPECT_EQ(cr.input, m.acts[3]);
  EXPECT_EQ(cr.output, m.acts[7]);
  const fb::Pipeline* p = model.pipeline();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->sampler(), fb::Sampler::DDIM);
  EXPECT_EQ(p->prediction(), fb::Prediction::Epsilon);
  EXPECT_EQ(p->train_steps(), 999);
  EXPECT_EQ(p->default_steps(), 7);
  EXPECT_EQ(p->shift(), 3.f);
  EXPECT_EQ(p->guidance_scale(), 4.5f);
  EXPECT_EQ(std::vector<int64_t>(p->latent_shape()->begin(), p->latent_shape()->end()),
            (std::vector<int64_t>{2, 4, 4, 8}));
  EXPECT_EQ(p->latent_input(), m.x);
  EXPECT_EQ(p->timestep_input(), m.t);
  EXPECT_EQ(p->condition_input(), m.ids);
  EXPECT_EQ(p->output(), m.acts[26]);
  EXPECT_EQ(p->timestep_scale(), 1.f);
  EXPECT_EQ(p->num_classes(), 10);
  EXPECT_EQ(p->null_condition(), 1000);
  EXPECT_EQ(p->beta_schedule(), fb::BetaSchedule::ScaledLinear);
  EXPECT_EQ(p->beta_start(), 0.00085f);
  EXPECT_EQ(p->beta_end(), 0.012f);
  EXPECT_EQ(p->output_kind(), fb::OutputKind::Latent);
}

TEST(ModelWriter, OutputIsDeterministic) {
  std::vector<uint8_t> a, b, c;
  AllOps m1, m2;
  ASSERT_TRUE(m1.w.Finish(&a).ok());
  ASSERT_TRUE(m1.w.Finish(&b).ok());
  ASSERT_TRUE(m2.w.Finish(&c).ok());
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, c);
}

TEST(ModelWriter, FileLayout) {
  AllOps m;
  std::vector<uint8_t> bytes;
  ASSERT_TRUE(m.w.Finish(&bytes).ok());
  uint32_t prefix;
  std::memcpy(&prefix, bytes.data(), 4);
  EXPECT_EQ(std::memcmp(bytes.data() + 8, "EDGE", 4), 0);
  const uint64_t data_start = (4 + uint64_t(prefix) + 63) / 64 * 64;
  EXPECT_EQ(data_start, DataSegmentOffset(prefix));
  ASSERT_LE(data_start, bytes.size());
  for (uint64_t i = 4 + prefix; i < data_start; ++i) EXPECT_EQ(bytes[i], 0) << i;
  const fb::Model* model = fb::GetSizePrefixedModel(bytes.data());
  const auto* buffers = model->buffers();
  ASSERT_EQ(buffers->size(), 17u);  // 13 plain constants + 2 quantized x 2
  uint64_t prev_end = 0;
  for (uint32_t i = 0; i < buffers->size(); ++i) {
    const uint64_t off = buffers->Get(i)->offset();
    EXPECT_EQ(off % 64, 0u);
    // In the order added, each at the next 64-byte boundary.
    EXPECT_EQ(off, (prev_end + 63) / 64 * 64) << i;
    prev_end = off + buffers->Get(i)->size();
  }
  EXPECT_EQ(data_start + prev_end, bytes.size());
  // W (the first constant) is buffer 0 at the start of the data segment.
  EXPECT_EQ(std::memcmp(bytes.data() + data_start, Ramp(64).data(), 256), 0);
  // Wq's scales are buffer 3 (W, b, Wq codes, Wq scales).
  EXPECT_EQ(std::memcmp(bytes.data() + data_start + buffers->Get(3)->offset(),
                        m.qscales.data(), 32), 0);
}

TEST(ModelWriter, EmptyModelLoads) {
  ModelWriter w;
  std::vector<uint8_t> bytes;
  ASSERT_TRUE(w.Finish(&bytes).ok());
  auto r = LoadBorrowed(bytes);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ((*r)->num_tensors(), 0);
  EXPECT_EQ((*r)->num_nodes(), 0);
  EXPECT_STREQ((*r)->name(), "");
  EXPECT_STREQ((*r)->producer(), "edge");
  EXPECT_EQ((*r)->pipeline(), nullptr);
  EXPECT_EQ((*r)->constant_bytes(), 0u);
}

TEST(ModelWriter, RefusesConstantsThatDoNotMatchTheirShape) {
  {
    ModelWriter w;
    std::vector<float> v(5);
    w.AddConstantF32("short", {2, 3}, v);
    std::vector<uint8_t> out;
    Status s = w.Finish(&out);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(std::strstr(s.message(), "'short': 20 data bytes given, shape needs 24"), nullptr)
        << s.message();
  }
  {
    ModelWriter w;
    std::vector<int8_t> q(8);
    w.AddInt8PerChannel("q", {2, 4}, q.data(), q.size(), {1.f});
    std::vector<uint8_t> out;
    Status s = w.Finish(&out);
    EXPECT_NE(std::strstr(s.message(), "scale bytes given"), nullptr) << s.message();
  }
  {
    ModelWriter w;
    std::vector<uint8_t> codes(2 * 9), sc(2 * 2);
    // [2, 17]: 9 bytes per row, 2 blocks per row.
    w.AddNvfp4("n", {2, 17}, codes.data(), codes.size(), sc.data(), sc.size(), 1.f);
    std::vector<uint8_t> out;
    EXPECT_TRUE(w.Finish(&out).ok());
    w.AddNvfp4("m", {2, 17}, codes.data(), codes.size() - 1, sc.data(), sc.size(), 1.f);
    EXPECT_FALSE(w.Finish(&out).ok());
  }
  {
    ModelWriter w;
    std::vector<float> v(1);
    w.AddConstantF32("neg", {-1}, v);
    std::vector<uint8_t> out;
    EXPECT_FALSE(w.Finish(&out).ok());
  }
}

bool TempFilesLeft(const std::string& dir, const std::string& stem) {
  DIR* d = opendir(dir.c_str());
  if (!d) return false;
  bool found = false;
  while (dirent* e = readdir(d)) {
    if (std::string(e->d_name).find(stem + ".tmp.") == 0) found = true;
  }
  closedir(d);
  return found;
}

TEST(ModelWriter, WriteFileIsAtomicAndLoads) {
  AllOps m;
  const std::string path = TempPath("all.fb");
  ASSERT_TRUE(m.w.WriteFile(path).ok());
  std::vector<uint8_t> bytes;
  ASSERT_TRUE(m.w.Finish(&bytes).ok());
  auto r = Model::LoadFile(path.c_str());
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ((*r)->file_size(), bytes.size());
  EXPECT_EQ((*r)->num_nodes(), 29);
  const std::string dir = path.substr(0, path.rfind('/'));
  const std::string stem = path.substr(path.rfind('/') + 1);
  EXPECT_FALSE(TempFilesLeft(dir, stem));
  // Overwrites an existing file.
  ModelWriter empty;
  ASSERT_TRUE(empty.WriteFile(path).ok());
  auto r2 = Model::LoadFile(path.c_str());
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ((*r2)->num_nodes(), 0);
  unlink(path.c_str());

  // Failure: nothing is left behind, and the error says why.
  Status s = m.w.WriteFile(TempPath("missing-dir/x.fb"));
  EXPECT_EQ(s.code(), StatusCode::kIoError);
  // Rename onto a directory fails after the temp file was written: it must be removed.
  const std::string dpath = TempPath("dir.fb");
  ASSERT_EQ(mkdir(dpath.c_str(), 0755), 0);
  ASSERT_TRUE(mkdir((dpath + "/keep").c_str(), 0755) == 0);
  s = m.w.WriteFile(dpath);
  EXPECT_EQ(s.code(), StatusCode::kIoError);
  EXPECT_FALSE(TempFilesLeft(dir, dpath.substr(dpath.rfind('/') + 1)));
  rmdir((dpath + "/keep").c_str());
  rmdir(dpath.c_str());
  // A failed Finish writes nothing.
  ModelWriter bad;
  bad.AddConstantF32("b", {3}, {1.f});
  const std::string bpath = TempPath("bad.fb");
  EXPECT_EQ(bad.WriteFile(bpath).code(), StatusCode::kInvalidArgument);
  EXPECT_NE(access(bpath.c_str(), F_OK), 0);
}

TEST(ModelWriter, PackedLayoutsUsePaddedPanels) {
  // Int8 [N=5, K=6] packed N16K4: 16 x 8 bytes; NVFP4 [5, 70] N16K64: 16 x 80 / 2
  // (K padded to 16, see ops/quant_gemm.h).
  size_t bytes = 0;
  const int64_t a[2] = {5, 6}, b[2] = {5, 70};
  ASSERT_TRUE(ConstantStorageBytes(fb::DType::I8, fb::WeightLayout::PackedInt8N16K4, a, 2, &bytes));
  EXPECT_EQ(bytes, 128u);
  ASSERT_TRUE(
      ConstantStorageBytes(fb::DType::NVFP4, fb::WeightLayout::PackedNvfp4N16K64, b, 2, &bytes));
  EXPECT_EQ(bytes, 640u);
  EXPECT_FALSE(ConstantStorageBytes(fb::DType::F32, fb::WeightLayout::PackedInt8N16K4, a, 2, &bytes));
  ModelWriter w;
  std::vector<int8_t> q(128);
  const int wq = w.AddInt8PerChannel("wq", {5, 6}, q.data(), q.size(), Ramp(5, 1.f),
                                     fb::WeightLayout::PackedInt8N16K4);
  const int x = w.AddActivation("x", {3, 6});
  const int y = w.AddActivation("y", {3, 5});
  w.AddOp(T::Linear, {x, wq}, {y});
  w.SetInputs({x});
  w.SetOutputs({y});
  std::vector<uint8_t> out;
  ASSERT_TRUE(w.Finish(&out).ok());
  auto r = LoadBorrowed(out);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ((*r)->tensor(wq).layout, fb::WeightLayout::PackedInt8N16K4);
  EXPECT_EQ((*r)->tensor(wq).bytes, 128u);
  EXPECT_EQ((*r)->tensor(wq).scale_bytes, 20u);
}

TEST(StorageBytes, DtypesAndOverflow) {
  size_t n = 0;
  const int64_t d[3] = {2, 3, 5};
  ASSERT_TRUE(StorageBytes(fb::DType::F32, d, 3, &n));
  EXPECT_EQ(n, 120u);
  ASSERT_TRUE(StorageBytes(fb::DType::F16, d, 3, &n));
  EXPECT_EQ(n, 60u);
  ASSERT_TRUE(StorageBytes(fb::DType::I64, d, 3, &n));
  EXPECT_EQ(n, 240u);
  ASSERT_TRUE(StorageBytes(fb::DType::NVFP4, d, 3, &n));
  EXPECT_EQ(n, 18u);  // 6 rows x ceil(5/2)
  ASSERT_TRUE(StorageBytes(fb::DType::U8, d, 0, &n));
  EXPECT_EQ(n, 1u);  // scalar
  const int64_t big[3] = {int64_t(1) << 40, int64_t(1) << 40, 0};
  EXPECT_FALSE(StorageBytes(fb::DType::F32, big, 3, &n));
  const int64_t neg[1] = {-4};
  EXPECT_FALSE(StorageBytes(fb::DType::F32, neg, 1, &n));
  EXPECT_FALSE(StorageBytes(static_cast<fb::DType>(99), d, 3, &n));
  EXPECT_EQ(DTypeSize(fb::DType::NVFP4), 0u);
  EXPECT_STREQ(DTypeName(fb::DType::I8), "I8");
  EXPECT_STREQ(DTypeName(static_cast<fb::DType>(99)), "unknown");
}

}  // namespace
}  // namespace edge
