#include "converter/mixed_rank.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <memory>
#include <thread>

#include "converter/generation.h"
#include "converter/ir.h"
#include "converter/correlation.h"
#include "runtime/model.h"

namespace edge {
namespace conv {
namespace {

constexpr const char* kContext = "mixed-precision ranking";

struct Job {
  std::vector<uint8_t> image;
  std::unique_ptr<Model> model;
  std::vector<float> out;
};

void Generate(Job* j, const GenerateOptions& g, size_t elems) {
  SessionOptions so;
  so.num_threads = 1;  // fixed reduction order
  GenRunner r = MakeGenRunner(j->model.get(), so, kContext);
  j->out.assign(elems, 0.f);
  CheckStatus(r.pipeline->Generate(g, j->out.data()), kContext, "generation");
}

void Load(Job* j) {
  auto mr = Model::LoadBuffer(j->image.data(), j->image.size(), false);
  CheckStatus(mr.status(), kContext, "loading the model");
  j->model = std::move(mr.value());
}

}  // namespace

OutputRankResult RankByOutput(const std::function<std::vector<uint8_t>(int)>& image_with,
                              std::vector<LinearLayer>* layers, const std::vector<int>& listed,
                              const QuantOptions& o) {
  const auto wall0 = std::chrono::steady_clock::now();
  OutputRankResult res;
  Job ref;
  ref.image = image_with(-1);
  Load(&ref);
  const fb::Pipeline* meta = ref.model->pipeline();
  if (meta == nullptr) Fail(kExitUsage, "--mixed-rank output needs pipeline metadata (or use --mixed-rank error)");
  std::vector<int64_t> classes = o.calib_classes;
  const int num_classes = meta->num_classes();
  if (classes.empty())
    for (int c = 0; c < std::min(std::max(num_classes, 1), 4); ++c) classes.push_back(num_classes > 0 ? c : 0);
  const GenerateOptions g = CalibrationSet(*ref.model, classes, o.calib_seeds, 1000, "--calib-classes");
  {
    SessionOptions so;
    so.num_threads = 1;
    GenRunner r = MakeGenRunner(ref.model.get(), so, kContext);
    ref.out.assign(size_t(g.num_samples) * r.pipeline->latent_elements(), 0.f);
    CheckStatus(r.pipeline->Generate(g, ref.out.data()), kContext, "FP32 reference");
  }
  const size_t elems = ref.out.size();
  const double peak = PsnrPeak(meta, ref.out);
  res.generations = 1;
  res.samples = g.num_samples;

  // Batches of --calib-threads layers: images are built here (the graph is
  // not shared across threads), generations run in parallel.
  const size_t workers = size_t(std::max(1, o.calib_threads));
  for (size_t first = 0; first < listed.size(); first += workers) {
    const size_t n = std::min(workers, listed.size() - first);
    std::vector<Job> jobs(n);
    for (size_t j = 0; j < n; ++j) {
      jobs[j].image = image_with(static_cast<int>(first + j));
      Load(&jobs[j]);
    }
    std::atomic<size_t> next{0};
    auto work = [&]() {
      for (size_t j = next++; j < n; j = next++) Generate(&jobs[j], g, elems);
    };
    std::vector<std::thread> pool;
    for (size_t w = 1; w < n; ++w) pool.emplace_back(work);
    work();
    for (std::thread& t : pool) t.join();
    for (size_t j = 0; j < n; ++j) {
      LinearLayer& l = (*layers)[listed[first + j]];
      double se = 0;
      for (size_t i = 0; i < elems; ++i) {
        const double d = double(ref.out[i]) - double(jobs[j].out[i]);
        se += d * d;
      }
      l.out_mse = se / double(elems);
      l.out_psnr = Psnr(ref.out.data(), jobs[j].out.data(), elems, peak);
      ++res.generations;
    }
  }
  std::vector<double> cost, own;
  for (int i : listed) {
    cost.push_back((*layers)[i].out_mse);
    own.push_back((*layers)[i].err_nvfp4);
  }
  res.spearman_vs_error = Spearman(cost, own);
  res.layers = listed;
  std::stable_sort(res.layers.begin(), res.layers.end(),
                   [&](int a, int b) { return (*layers)[a].out_mse < (*layers)[b].out_mse; });
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  return res;
}

}  // namespace conv
}  // namespace edge
