#include "converter/cache_calibrate.h"

#include <algorithm>
#include <atomic>
#include <thread>
#include <cmath>
#include <memory>

#include "converter/generation.h"
#include "converter/ir.h"
#include "runtime/delta_cache.h"
#include "runtime/model.h"
#include "runtime/pipeline.h"
#include "runtime/session.h"

namespace edge {
namespace conv {
namespace {

void Check(const Status& st, const std::string& what) { CheckStatus(st, "cache calibration", what); }

GenRunner MakeRunner(const Model* m, PrecisionOverride p) {
  SessionOptions so;
  so.num_threads = 1;  // fixed reduction order
  so.precision = p;
  return MakeGenRunner(m, so, "cache calibration");
}

// Least-squares y ~ c0*x^2 + c1*x + c2 (normal equations in double, Gaussian
// elimination with partial pivoting). Empty when the fit is degenerate.
std::vector<float> FitQuadratic(const std::vector<double>& x, const std::vector<double>& y) {
  if (x.size() < 3) return {};
  double A[3][4] = {};
  for (size_t i = 0; i < x.size(); ++i) {
    const double f[3] = {x[i] * x[i], x[i], 1.0};
    for (int r = 0; r < 3; ++r) {
      for (int c = 0; c < 3; ++c) A[r][c] += f[r] * f[c];
      A[r][3] += f[r] * y[i];
    }
  }
  for (int col = 0; col < 3; ++col) {
    int piv = col;
    for (int r = col + 1; r < 3; ++r)
      if (std::fabs(A[r][col]) > std::fabs(A[piv][col])) piv = r;
    if (std::fabs(A[piv][col]) < 1e-12) return {};
    for (int c = 0; c < 4; ++c) std::swap(A[col][c], A[piv][c]);
    for (int r = 0; r < 3; ++r) {
      if (r == col) continue;
      const double k = A[r][col] / A[col][col];
      for (int c = 0; c < 4; ++c) A[r][c] -= k * A[col][c];
    }
  }
  std::vector<float> c(3);
  for (int r = 0; r < 3; ++r) {
    c[r] = static_cast<float>(A[r][3] / A[r][r]);
    if (!std::isfinite(c[r])) return {};
  }
  return c;
}

}  // namespace

void ProbeCacheSignals(Pipeline* pipeline, const GenerateOptions& g, float* out, CacheCalibrationInfo* info) {
  GenerateOptions p = g;
  p.cache.probe = true;
  Check(pipeline->Generate(p, out), "probe run");
  const int steps = g.steps;
  const CacheStats& cs = pipeline->stats().cache;
  std::vector<double> xs, ys;
  info->mag_ratios.assign(steps, 1.f);
  for (int t = 0; t < steps && t < static_cast<int>(cs.probe_count.size()); ++t) {
    const int cnt = cs.probe_count[t];
    if (cnt <= 0) continue;
    info->mag_ratios[t] = static_cast<float>(std::max(1e-6, cs.probe_mag[t] / cnt));
    if (t >= 1) {
      xs.push_back(cs.probe_tea_rel[t] / cnt);
      ys.push_back(cs.probe_resid_rel[t] / cnt);
    }
  }
  info->tea_poly = FitQuadratic(xs, ys);
}

CacheCalibReport CalibrateCache(const std::vector<uint8_t>& image, const CacheCalibOptions& o) {
  auto mr = Model::LoadBuffer(image.data(), image.size(), false);
  Check(mr.status(), "loading the model");
  std::unique_ptr<Model> model = std::move(mr.value());
  const fb::Pipeline* meta = model->pipeline();
  if (meta == nullptr)
    Fail(kExitUsage, "--cache-calibrate runs the sampler: give pipeline metadata (--roles, --sampler ...)");
  if (model->cache_regions().empty())
    Fail(kExitUsage, "--cache-calibrate: the model has no cache regions (see --block-prefix)");
  if (o.targets.empty()) Fail(kExitUsage, "--cache-calibrate: no PSNR target");
  const int steps = meta->default_steps();
  const int num_classes = meta->num_classes();
  std::vector<int64_t> classes = o.classes;
  if (classes.empty()) {
    for (int c = 0; c < std::min(std::max(num_classes, 1), 8); ++c) classes.push_back(num_classes > 0 ? c : 0);
  }
  // Seeds start at 1000 so evaluation seeds 0.. stay unseen.
  GenerateOptions g = CalibrationSet(*model, classes, o.seeds, 1000, "--cache-calib-classes");

  CacheCalibReport rep;
  rep.info.steps = steps;
  GenRunner ref = MakeRunner(model.get(), PrecisionOverride::kFp32);
  const size_t n = size_t(g.num_samples) * ref.pipeline->latent_elements();
  std::vector<float> want(n), got(n);
  Check(ref.pipeline->Generate(g, want.data()), "FP32 reference");
  rep.generations += 1;
  const double peak = PsnrPeak(meta, want);

  // Probe: signals with every block computed.
  ProbeCacheSignals(ref.pipeline.get(), g, got.data(), &rep.info);
  rep.generations += 1;

  const CachePolicy policies[] = {CachePolicy::kTdc, CachePolicy::kFirstBlock, CachePolicy::kTeaCache,
                                  CachePolicy::kMagCache, CachePolicy::kStatic, CachePolicy::kTaylor};
  // Geometric grid, 2^(1/2) apart, 0.02 .. 0.32, each with 2 and 4 skips in a row.
  std::vector<float> grid;
  for (int i = 0; i < 9; ++i) grid.push_back(static_cast<float>(0.02 * std::pow(2.0, 0.5 * i)));
  std::vector<CacheCalibPoint> jobs;
  for (CachePolicy pol : policies) {
    if (pol == CachePolicy::kStatic) {
      for (int k = 2; k <= 6; ++k) {
        CacheCalibPoint pt;
        pt.policy = static_cast<int>(pol);
        pt.threshold = static_cast<float>(k);
        pt.max_skips = -1;
        jobs.push_back(pt);
      }
      continue;
    }
    for (int ms : {2, 4}) {
      for (float v : grid) {
        CacheCalibPoint pt;
        pt.policy = static_cast<int>(pol);
        pt.threshold = v;
        pt.max_skips = ms;
        jobs.push_back(pt);
      }
    }
  }
  // Grid points are independent generations: each worker owns a session
  // (one thread each), so the results do not depend on the worker count.
  const int num_regions = static_cast<int>(model->cache_regions().size());
  auto run_jobs = [&](std::vector<CacheCalibPoint>* list) {
    const int workers = std::max(1, std::min<int>(o.threads, static_cast<int>(list->size())));
    std::atomic<size_t> next{0};
    std::vector<std::string> errors(workers);
    auto work = [&](int w) {
      GenRunner cand = MakeRunner(model.get(), PrecisionOverride::kAsStored);
      std::vector<float> out(n);
      for (size_t j = next++; j < list->size(); j = next++) {
        CacheCalibPoint& pt = (*list)[j];
        const CachePolicy pol = static_cast<CachePolicy>(pt.policy);
        GenerateOptions c = g;
        c.cache.policy = pol;
        c.cache.tea_poly = rep.info.tea_poly;
        c.cache.mag_ratios = rep.info.mag_ratios;
        c.cache.max_skips = pt.max_skips >= 0 ? pt.max_skips : 2;
        c.cache.block_thresholds = pt.block_thresholds;
        if (pol == CachePolicy::kStatic) c.cache.interval = static_cast<int>(pt.threshold);
        else c.cache.threshold = pt.threshold;
        Status st = cand.pipeline->Generate(c, out.data());
        if (!st.ok()) {
          errors[w] = std::string("policy ") + CachePolicyName(pol) + ": " + st.message();
          return;
        }
        const GenerateStats& gs = cand.pipeline->stats();
        const double total = double(gs.blocks_computed + gs.blocks_skipped);
        pt.psnr = static_cast<float>(Psnr(want.data(), out.data(), n, peak));
        pt.skip_fraction = total > 0 ? static_cast<float>(gs.blocks_skipped / total) : 0.f;
      }
    };
    std::vector<std::thread> pool;
    for (int w = 1; w < workers; ++w) pool.emplace_back(work, w);
    work(0);
    for (std::thread& t : pool) t.join();
    for (const std::string& e : errors)
      if (!e.empty()) Fail(kExitConvert, "cache calibration: " + e);
    rep.generations += static_cast<int>(list->size());
  };
  run_jobs(&jobs);
  rep.grid = jobs;
  for (CachePolicy pol : policies) {
    std::vector<CacheCalibPoint> pts;
    for (const CacheCalibPoint& pt : jobs)
      if (pt.policy == static_cast<int>(pol)) pts.push_back(pt);
    for (float target : o.targets) {
      CachePolicyCalibrationInfo e;
      e.policy = static_cast<int>(pol);
      e.target_psnr = target;
      e.threshold = 0.f;
      e.psnr = 99.f;
      e.skip_fraction = 0.f;
      for (const CacheCalibPoint& pt : pts) {
        if (pt.psnr >= target && pt.skip_fraction > e.skip_fraction) {
          e.threshold = pt.threshold;
          e.psnr = pt.psnr;
          e.skip_fraction = pt.skip_fraction;
          e.max_skips = pt.max_skips;
        }
      }
      rep.info.policies.push_back(e);
    }
  }

  // Per-block thresholds (tdc, taylor): from the chosen global threshold,
  // try doubling each block's own threshold (all blocks in parallel); keep
  // the doublings that alone still meet the target and skip more, then check
  // them together; if the set fails, keep the single best one.
  // All entries' tries run as one batch, then all combinations as another.
  std::vector<size_t> refined;
  std::vector<CacheCalibPoint> tries;
  for (size_t k = 0; k < rep.info.policies.size(); ++k) {
    const CachePolicyCalibrationInfo& e = rep.info.policies[k];
    if ((e.policy != static_cast<int>(CachePolicy::kTdc) && e.policy != static_cast<int>(CachePolicy::kTaylor)) ||
        e.threshold <= 0.f || num_regions < 2)
      continue;
    refined.push_back(k);
    for (int b = 0; b < num_regions; ++b) {
      CacheCalibPoint pt;
      pt.policy = e.policy;
      pt.threshold = e.threshold;
      pt.max_skips = e.max_skips;
      pt.block_thresholds.assign(num_regions, e.threshold);
      pt.block_thresholds[b] *= 2.f;
      tries.push_back(pt);
    }
  }
  if (!tries.empty()) run_jobs(&tries);
  std::vector<CacheCalibPoint> combined;
  std::vector<int> kept(refined.size(), 0), best(refined.size(), -1);
  for (size_t r = 0; r < refined.size(); ++r) {
    const CachePolicyCalibrationInfo& e = rep.info.policies[refined[r]];
    std::vector<float> all(num_regions, e.threshold);
    for (int b = 0; b < num_regions; ++b) {
      const CacheCalibPoint& pt = tries[r * num_regions + b];
      if (pt.psnr >= e.target_psnr && pt.skip_fraction > e.skip_fraction) {
        all[b] *= 2.f;
        kept[r] += 1;
        if (best[r] < 0 || pt.skip_fraction > tries[r * num_regions + best[r]].skip_fraction) best[r] = b;
      }
    }
    CacheCalibPoint c;
    c.policy = e.policy;
    c.threshold = e.threshold;
    c.max_skips = e.max_skips;
    c.block_thresholds = all;
    combined.push_back(c);
  }
  std::vector<CacheCalibPoint> to_check;
  for (size_t r = 0; r < refined.size(); ++r)
    if (kept[r] > 1) to_check.push_back(combined[r]);
  if (!to_check.empty()) run_jobs(&to_check);
  size_t next_check = 0;
  for (size_t r = 0; r < refined.size(); ++r) {
    if (kept[r] == 0) continue;
    CachePolicyCalibrationInfo& e = rep.info.policies[refined[r]];
    const CacheCalibPoint* pick = &tries[r * num_regions + best[r]];
    if (kept[r] > 1) {
      const CacheCalibPoint& c = to_check[next_check++];
      if (c.psnr >= e.target_psnr && c.skip_fraction >= pick->skip_fraction) pick = &c;
    }
    e.block_thresholds = pick->block_thresholds;
    e.psnr = pick->psnr;
    e.skip_fraction = pick->skip_fraction;
    rep.grid.push_back(*pick);
  }
  // Entries ordered by target (the first target first), then policy, so the
  // runtime's default target is the first one given.
  std::stable_sort(rep.info.policies.begin(), rep.info.policies.end(),
                   [&](const CachePolicyCalibrationInfo& a, const CachePolicyCalibrationInfo& b) {
                     const auto ia = std::find(o.targets.begin(), o.targets.end(), a.target_psnr);
                     const auto ib = std::find(o.targets.begin(), o.targets.end(), b.target_psnr);
                     return ia < ib;
                   });
  return rep;
}

}  // namespace conv
}  // namespace edge
