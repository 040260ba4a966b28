#include "runtime/writer/dit_builder.h"

#include <cmath>
#include <random>

#include "runtime/quant_linear.h"

namespace edge {
namespace testing {
namespace {

class Builder {
 public:
  Builder(const DitConfig& cfg, ModelWriter* w) : cfg_(cfg), w_(w), rng_(cfg.seed) {}

  int Weight(const std::string& name, const std::vector<int64_t>& shape, float std, float mean = 0.f,
             bool packed = false) {
    size_t n = 1;
    for (int64_t d : shape) n *= static_cast<size_t>(d);
    std::normal_distribution<float> dist(mean, std);
    std::vector<float> v(n);
    for (float& x : v) x = dist(rng_);
    weights_.push_back({name, shape, v});
    return packed ? w_->AddConstantF32Packed(name, shape, v) : w_->AddConstantF32(name, shape, v);
  }
  // The same seeded FP32 values as Weight(), stored quantized.
  int QuantizedWeight(const std::string& name, int64_t N, int64_t K) {
    std::normal_distribution<float> dist(0.f, cfg_.weight_std);
    std::vector<float> v(static_cast<size_t>(N * K));
    for (float& x : v) x = dist(rng_);
    weights_.push_back({name, {N, K}, v});
    if (cfg_.linear_weights == LinearWeights::kInt8) {
      std::vector<int8_t> q(v.size());
      std::vector<float> scale(static_cast<size_t>(N));
      if (!QuantizeInt8PerChannel(v.data(), N, K, q.data(), scale.data()).ok()) return -1;
      return w_->AddInt8PerChannel(name, {N, K}, q.data(), q.size(), scale);
    }
    std::vector<uint8_t> codes(static_cast<size_t>(N * ((K + 1) / 2)));
    std::vector<uint8_t> scales(static_cast<size_t>(N * ((K + 15) / 16)));
    float tensor_scale = 1.f;
    if (!QuantizeNvfp4(v.data(), N, K, codes.data(), scales.data(), &tensor_scale).ok()) return -1;
    return w_->AddNvfp4(name, {N, K}, codes.data(), codes.size(), scales.data(), scales.size(), tensor_scale);
  }
  int Act(const std::string& name, const std::vector<int64_t>& shape) {
    return w_->AddActivation(name, shape, fb::DType::F32);
  }
  int Op(fb::OpType t, std::vector<int> in, std::vector<int> out, const OpAttrs& a = OpAttrs(),
         const std::string& name = "") {
    return w_->AddOp(t, in, out, a, name);
  }
  // y = x W^T + b
  int Linear(const std::string& name, int x, std::vector<int64_t> out_shape, int64_t in_f,
             fb::Activation act = fb::Activation::None) {
    const int64_t out_f = out_shape.back();
    const bool packed = cfg_.linear_weights == LinearWeights::kF32Packed;
    const int wt = cfg_.linear_weights == LinearWeights::kF32 || packed
                       ? Weight(name + ".weight", {out_f, in_f}, cfg_.weight_std, 0.f, packed)
                       : QuantizedWeight(name + ".weight", out_f, in_f);
    const int b = Weight(name + ".bias", {out_f}, cfg_.weight_std);
    const int y = Act(name + ".out", out_shape);
    OpAttrs a;
    a.activation = act;
    Op(fb::OpType::Linear, {x, wt, b}, {y}, a, name);
    return y;
  }

  std::vector<NamedWeight> Build() {
    const DitConfig& c = cfg_;
    const int64_t B = c.batch, C = c.in_channels, H = c.image_size, P = c.patch, D = c.hidden;
    const int64_t hp = H / P, N = hp * hp;
    const int64_t Cout = c.learn_sigma ? 2 * C : C;

    const int x = Act("x", {B, C, H, H});
    const int t = Act("t", {B});
    const int y = w_->AddActivation("y", {B}, fb::DType::I64);

    // Patch embedding: Conv2d stride P -> [B, D, hp, hp] -> tokens [B, N, D].
    const int pw = Weight("x_embedder.proj.weight", {D, C, P, P}, c.weight_std);
    const int pb = Weight("x_embedder.proj.bias", {D}, c.weight_std);
    const int conv = Act("patch.conv", {B, D, hp, hp});
    OpAttrs ca;
    ca.kernel_h = ca.kernel_w = ca.stride_h = ca.stride_w = static_cast<int>(P);
    Op(fb::OpType::Conv2d, {x, pw, pb}, {conv}, ca, "x_embedder.proj");
    const int flat = Act("patch.flat", {B, D, N});
    Op(fb::OpType::Reshape, {conv}, {flat}, OpAttrs(), "patch.flatten");
    const int tok = Act("patch.tokens", {B, N, D});
    OpAttrs tp;
    tp.perm = {0, 2, 1};
    Op(fb::OpType::Transpose, {flat}, {tok}, tp, "patch.transpose");
    const int pos = Weight("pos_embed", {1, N, D}, 0.5f);
    int h = Act("x0", {B, N, D});
    Op(fb::OpType::Add, {tok, pos}, {h}, OpAttrs(), "pos_add");

    // Conditioning: timestep MLP + class embedding.
    const int tf = Act("t_freq", {B, c.freq_dim});
    OpAttrs te;
    te.dim = c.freq_dim;
    Op(fb::OpType::TimestepEmbedding, {t}, {tf}, te, "t_embedder.freq");
    const int t1 = Linear("t_embedder.mlp.0", tf, {B, D}, c.freq_dim, fb::Activation::SiLU);
    const int temb = Linear("t_embedder.mlp.2", t1, {B, D}, D);
    const int table = Weight("y_embedder.embedding_table.weight", {c.num_classes + 1, D}, 0.5f);
    const int yemb = Act("y_emb", {B, D});
    Op(fb::OpType::Embedding, {y, table}, {yemb}, OpAttrs(), "y_embedder");
    const int csum = Act("c", {B, D});
    Op(fb::OpType::Add, {temb, yemb}, {csum}, OpAttrs(), "c_add");
    const int cact = Act("c_silu", {B, D});
    Op(fb::OpType::SiLU, {csum}, {cact}, OpAttrs(), "c_silu");

    for (int blk = 0; blk < c.depth; ++blk) {
      const std::string p = "blocks." + std::to_string(blk);
      const int first_op = w_->num_ops();
      const int x_in = h;
      const int mod = Linear(p + ".adaLN_modulation.1", cact, {B, 6 * D}, D);
      std::vector<int> parts;
      const char* names[6] = {"shift_msa", "scale_msa", "gate_msa", "shift_mlp", "scale_mlp", "gate_mlp"};
      for (int i = 0; i < 6; ++i) parts.push_back(Act(p + "." + names[i], {B, D}));
      OpAttrs sa;
      sa.axis = 1;
      Op(fb::OpType::Split, {mod}, parts, sa, p + ".split");

      OpAttrs ln;
      ln.epsilon = 1e-6f;
      const int n1 = Act(p + ".norm1", {B, N, D});
      Op(fb::OpType::LayerNorm, {x_in, -1, -1}, {n1}, ln, p + ".norm1");
      const int m1 = Act(p + ".mod1", {B, N, D});
      Op(fb::OpType::Modulate, {n1, parts[0], parts[1]}, {m1}, OpAttrs(), p + ".mod1");
      const int qkv = Linear(p + ".attn.qkv", m1, {B, N, 3 * D}, D);
      const int q = Act(p + ".q", {B, N, D}), k = Act(p + ".k", {B, N, D}), v = Act(p + ".v", {B, N, D});
      OpAttrs sq;
      sq.axis = 2;
      Op(fb::OpType::Split, {qkv}, {q, k, v}, sq, p + ".qkv_split");
      const int att = Act(p + ".attn.out", {B, N, D});
      OpAttrs aa;
      aa.num_heads = c.heads;
      aa.scale = 1.f / std::sqrt(float(D / c.heads));
      aa.token_reuse = c.token_reuse;
      Op(fb::OpType::Attention, {q, k, v}, {att}, aa, p + ".attn");
      const int proj = Linear(p + ".attn.proj", att, {B, N, D}, D);
      const int x1 = Act(p + ".x1", {B, N, D});
      Op(fb::OpType::GatedResidual, {x_in, parts[2], proj}, {x1}, OpAttrs(), p + ".res1");

      const int n2 = Act(p + ".norm2", {B, N, D});
      Op(fb::OpType::LayerNorm, {x1, -1, -1}, {n2}, ln, p + ".norm2");
      const int m2 = Act(p + ".mod2", {B, N, D});
      Op(fb::OpType::Modulate, {n2, parts[3], parts[4]}, {m2}, OpAttrs(), p + ".mod2");
      const int f1 = Linear(p + ".mlp.fc1", m2, {B, N, c.mlp_ratio * D}, D, fb::Activation::GeluTanh);
      const int f2 = Linear(p + ".mlp.fc2", f1, {B, N, D}, c.mlp_ratio * D);
      const int x2 = Act(p + ".x2", {B, N, D});
      Op(fb::OpType::GatedResidual, {x1, parts[5], f2}, {x2}, OpAttrs(), p + ".res2");
      w_->AddCacheRegion(p, first_op, w_->num_ops() - 1, x_in, x2);
      h = x2;
    }

    // Final layer: adaLN modulation + linear, then unpatchify.
    const int fmod = Linear("final_layer.adaLN_modulation.1", cact, {B, 2 * D}, D);
    const int fshift = Act("final.shift", {B, D}), fscale = Act("final.scale", {B, D});
    OpAttrs sa;
    sa.axis = 1;
    Op(fb::OpType::Split, {fmod}, {fshift, fscale}, sa, "final.split");
    OpAttrs ln;
    ln.epsilon = 1e-6f;
    const int fn = Act("final.norm", {B, N, D});
    Op(fb::OpType::LayerNorm, {h, -1, -1}, {fn}, ln, "final.norm");
    const int fm = Act("final.mod", {B, N, D});
    Op(fb::OpType::Modulate, {fn, fshift, fscale}, {fm}, OpAttrs(), "final.mod");
    const int lin = Linear("final_layer.linear", fm, {B, N, P * P * Cout}, D);
    const int r6 = Act("unpatch.r6", {B, hp, hp, P, P, Cout});
    Op(fb::OpType::Reshape, {lin}, {r6}, OpAttrs(), "unpatch.reshape");
    const int tr = Act("unpatch.t", {B, Cout, hp, P, hp, P});
    OpAttrs up;
    up.perm = {0, 5, 1, 3, 2, 4};
    Op(fb::OpType::Transpose, {r6}, {tr}, up, "unpatch.transpose");
    const int out = Act("out", {B, Cout, H, H});
    Op(fb::OpType::Reshape, {tr}, {out}, OpAttrs(), "unpatch.out");

    w_->SetInputs({x, t, y});
    w_->SetOutputs({out});
    w_->SetName("dit-test");
    if (c.with_pipeline) {
      PipelineInfo pi;
      pi.latent_shape = {C, H, H};
      pi.latent_input = x;
      pi.timestep_input = t;
      pi.condition_input = y;
      pi.output = out;
      pi.num_classes = c.num_classes;
      pi.null_condition = c.num_classes;
      pi.guidance_scale = 1.f;
      pi.default_steps = 20;
      w_->SetPipeline(pi);
    }
    return weights_;
  }

 private:
  DitConfig cfg_;
  ModelWriter* w_;
  std::mt19937_64 rng_;
  std::vector<NamedWeight> weights_;
};

}  // namespace

std::vector<NamedWeight> BuildDit(const DitConfig& cfg, ModelWriter* w) {
  Builder b(cfg, w);
  return b.Build();
}

DitConfig DitB2Config() {
  DitConfig c;
  c.batch = 1;
  c.in_channels = 4;
  c.image_size = 64;
  c.patch = 2;
  c.hidden = 768;
  c.depth = 12;
  c.heads = 12;
  c.num_classes = 1000;
  c.learn_sigma = true;
  c.weight_std = 0.02f;
  return c;
}

}  // namespace testing
}  // namespace edge
