// Writes a DiT test model built with the writer API, plus everything an
// independent oracle needs: OUT/model.fb, OUT/weights/<name>.npy,
// OUT/{x,t,y}.npy (inputs) and OUT/config.json.
//
// usage: make_dit_fixture OUT_DIR [--depth N] [--hidden D] [--heads H]
//                                 [--image S] [--channels C] [--batch B] [--seed S]
//                                 [--fp32-layout row-major|packed] [--no-weights 1]
// --fp32-layout: the Linear weights' storage (default row-major; packed is
// what edge-convert writes by default). --no-weights 1: no weights/*.npy
// (the memory benchmark needs only the model).
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>

#include "runtime/io/npy.h"
#include "runtime/tools/arg_reader.h"
#include "runtime/writer/dit_builder.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: make_dit_fixture OUT_DIR [--depth N] [--hidden D] [--heads H] [--image S] [--channels C] [--batch B] [--seed S]\n"
                         "                        [--fp32-layout row-major|packed] [--no-weights 1]\n");
    return 2;
  }
  const std::string dir = argv[1];
  edge::testing::DitConfig cfg;
  bool write_weights = true;
  // The options after OUT_DIR, each as `--opt value` or `--opt=value`.
  edge::cli::ArgReader r(argc - 1, argv + 1);
  while (r.Next()) {
    const std::string& name = r.arg();
    const char* value = r.Value();
    if (value == nullptr) { std::fprintf(stderr, "%s needs a value\n", name.c_str()); return 2; }
    const int v = std::atoi(value);
    if (name == "--fp32-layout") {
      if (!std::strcmp(value, "packed")) cfg.linear_weights = edge::testing::LinearWeights::kF32Packed;
      else if (std::strcmp(value, "row-major")) { std::fprintf(stderr, "--fp32-layout: row-major or packed\n"); return 2; }
    }
    else if (name == "--no-weights") write_weights = v == 0;
    else if (name == "--depth") cfg.depth = v;
    else if (name == "--hidden") cfg.hidden = v;
    else if (name == "--heads") cfg.heads = v;
    else if (name == "--image") cfg.image_size = v;
    else if (name == "--channels") cfg.in_channels = v;
    else if (name == "--batch") cfg.batch = v;
    else if (name == "--seed") cfg.seed = static_cast<uint64_t>(v);
    else { std::fprintf(stderr, "unknown option %s\n", name.c_str()); return 2; }
  }
  mkdir(dir.c_str(), 0755);
  mkdir((dir + "/weights").c_str(), 0755);
  edge::ModelWriter w;
  const auto weights = edge::testing::BuildDit(cfg, &w);
  edge::Status st = w.WriteFile(dir + "/model.fb");
  if (!st.ok()) { std::fprintf(stderr, "%s\n", st.message()); return 1; }
  for (const auto& nw : weights) {
    if (!write_weights) break;
    st = edge::WriteNpy(dir + "/weights/" + nw.name + ".npy", edge::fb::DType::F32, nw.shape, nw.values.data());
    if (!st.ok()) { std::fprintf(stderr, "%s\n", st.message()); return 1; }
  }
  std::mt19937 rng(cfg.seed + 100);
  std::normal_distribution<float> nd;
  const int64_t B = cfg.batch, C = cfg.in_channels, S = cfg.image_size;
  std::vector<float> x(size_t(B * C * S * S));
  for (float& v : x) v = nd(rng);
  std::vector<float> t(B);
  std::vector<int64_t> y(B);
  for (int64_t b = 0; b < B; ++b) {
    t[b] = 1000.f * float(b + 1) / float(B + 1) + 0.37f;
    y[b] = (b * 7 + 3) % (cfg.num_classes + 1);
  }
  if (!edge::WriteNpy(dir + "/x.npy", edge::fb::DType::F32, {B, C, S, S}, x.data()).ok() ||
      !edge::WriteNpy(dir + "/t.npy", edge::fb::DType::F32, {B}, t.data()).ok() ||
      !edge::WriteNpy(dir + "/y.npy", edge::fb::DType::I64, {B}, y.data()).ok()) {
    std::fprintf(stderr, "cannot write inputs\n");
    return 1;
  }
  FILE* f = std::fopen((dir + "/config.json").c_str(), "w");
  if (f == nullptr) return 1;
  std::fprintf(f,
               "{\"batch\": %d, \"in_channels\": %d, \"image_size\": %d, \"patch\": %d, \"hidden\": %d, "
               "\"depth\": %d, \"heads\": %d, \"num_classes\": %d, \"freq_dim\": %d, "
               "\"latent_shape\": [%d, %d, %d]}\n",
               cfg.batch, cfg.in_channels, cfg.image_size, cfg.patch, cfg.hidden, cfg.depth, cfg.heads,
               cfg.num_classes, cfg.freq_dim, cfg.in_channels, cfg.image_size, cfg.image_size);
  std::fclose(f);
  return 0;
}
