#include "converter/tune.h"

#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <thread>

#include "converter/cache_calibrate.h"
#include "converter/generation.h"
#include "converter/ir.h"
#include "converter/tune_cost.h"
#include "runtime/delta_cache.h"
#include "runtime/model.h"

namespace edge {
namespace conv {
namespace {

constexpr const char* kContext = "tuning";

double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

// Threshold ladder of the dynamic cache policies, 2^(1/2) apart (the
// --cache-calibrate grid, one step longer); static: intervals 2..6.
std::vector<float> CacheLadder(int policy) {
  std::vector<float> l;
  if (policy == static_cast<int>(CachePolicy::kStatic)) {
    for (int k = 2; k <= 6; ++k) l.push_back(static_cast<float>(k));
  } else {
    for (int i = 0; i < 10; ++i) l.push_back(static_cast<float>(0.02 * std::pow(2.0, 0.5 * i)));
  }
  return l;
}

bool SameKnobs(const TuneConfig& a, const TuneConfig& b) {
  return a.weights == b.weights && a.attention == b.attention && a.err_tol == b.err_tol &&
         a.cache_policy == b.cache_policy && a.cache_threshold == b.cache_threshold && a.max_skips == b.max_skips &&
         a.guidance_interval == b.guidance_interval && a.guidance_warmup == b.guidance_warmup &&
         a.guidance_order == b.guidance_order && a.token_reuse == b.token_reuse;
}

class Evaluator {
 public:
  Evaluator(const std::function<const std::vector<uint8_t>&(int)>& image, const TuneOptions& o,
            const IsaThroughput& thr)
      : image_(image), o_(o), thr_(thr) {}

  const Model& model(int w) {
    if (!models_[w]) {
      const std::vector<uint8_t>& img = image_(w);
      auto mr = Model::LoadBuffer(img.data(), img.size(), false);
      CheckStatus(mr.status(), kContext, "loading the model");
      models_[w] = std::move(mr.value());
      work_[w] = CountWork(*models_[w]);
    }
    return *models_[w];
  }
  const GraphWork& work(int w) {
    model(w);
    return work_[w];
  }

  // Sets the sample set. Its FP32 reference (and, for the cache policies that
  // need them, the probe signals, recorded by the same run: a probe run
  // computes every block, so its output is the reference) is computed by the
  // next RunAll, beside that batch's other runs, and stands for the baseline
  // (FP32, no approximation) as well.
  void SetSet(const GenerateOptions& g, bool probe, CacheCalibrationInfo* signals) {
    set_ = g;
    measured_.clear();
    have_ref_ = false;
    probe_ = probe;
    signals_ = signals;
    per_sample_ = 0;
  }

  // Sets the sample set and computes its FP32 reference now, alone, timed
  // in thread CPU time (the held-back measurement).
  void SetTimedSet(const GenerateOptions& g, CacheCalibrationInfo* signals, double* ref_cpu) {
    SetSet(g, false, nullptr);
    Output ref = Produce(TuneConfig(), false);
    *ref_cpu = ref.cpu;
    TakeReference(&ref);
    signals_ = signals;
  }

  // Runs `c` alone on the set (its reference computed) and fills its
  // results; returns the CPU seconds.
  double Run(TuneConfig* c) {
    Output o = Produce(*c, false);
    Score(c, o);
    return o.cpu;
  }

  // Independent runs in parallel, one session (one thread) each: results do
  // not depend on the worker count.
  // A configuration measured before on this set takes that result (the
  // runs are deterministic); returns how many of `list` ran now.
  size_t RunAll(const std::vector<TuneConfig*>& list) {
    std::vector<TuneConfig*> todo;
    for (TuneConfig* c : list) {
      const TuneConfig* seen = Measured(*c);
      if (seen != nullptr) {
        const std::string step = c->step;
        *c = *seen;
        c->step = step;
      } else if (std::none_of(todo.begin(), todo.end(), [&](const TuneConfig* t) { return SameKnobs(*t, *c); })) {
        todo.push_back(c);
        model(c->weights);  // load on this thread
      }
    }
    // Job 0 of a batch without a reference computes it (the baseline's run).
    TuneConfig ref_config;
    const bool with_ref = !have_ref_;
    std::vector<const TuneConfig*> jobs;
    if (with_ref) {
      jobs.push_back(&ref_config);
      model(0);
    }
    for (TuneConfig* c : todo)
      if (!(with_ref && SameKnobs(*c, ref_config))) jobs.push_back(c);
    std::vector<Output> outs(jobs.size());
    const int workers = std::max(1, std::min<int>(o_.threads, static_cast<int>(jobs.size())));
    std::atomic<size_t> next{0};
    auto work = [&]() {
      for (size_t j = next++; j < jobs.size(); j = next++) outs[j] = Produce(*jobs[j], with_ref && j == 0 && probe_);
    };
    std::vector<std::thread> pool;
    for (int w = 1; w < workers; ++w) pool.emplace_back(work);
    work();
    for (std::thread& t : pool) t.join();
    size_t first = 0;
    if (with_ref) {
      ref_config.step = "baseline";
      TakeReference(&outs[0]);
      Score(&ref_config, outs[0]);
      measured_.push_back(ref_config);
      first = 1;
    }
    for (size_t j = first; j < jobs.size(); ++j) {
      TuneConfig* c = const_cast<TuneConfig*>(jobs[j]);
      Score(c, outs[j]);
      measured_.push_back(*c);
    }
    for (TuneConfig* c : list) {  // duplicates within `list`, and the baseline
      const std::string step = c->step;
      *c = *Measured(*c);
      c->step = step;
    }
    return jobs.size();
  }

  const TuneConfig* Measured(const TuneConfig& c) const {
    for (const TuneConfig& m : measured_)
      if (SameKnobs(m, c)) return &m;
    return nullptr;
  }

  int generations() const { return generations_; }

 private:
  // One generation of a configuration on the set, before scoring.
  struct Output {
    std::vector<float> out;
    int graph_runs = 0;
    int64_t blocks_computed = 0, blocks_skipped = 0;
    bool guidance_applied = false;
    AttentionSparseOptions::Stats st;
    std::vector<double> rows, rows_total;  // token reuse: query rows computed / all, per step
    double cpu = 0;
  };

  // A cache policy reads the probe signals of the set (set by the reference
  // run, which runs before any cache configuration: the search takes a cache
  // only after the first batch).
  Output Produce(const TuneConfig& c, bool probe) {
    Output o;
    GenerateOptions g = set_;
    o.rows.assign(size_t(std::max(g.steps, 1)), 0.0);
    o.rows_total.assign(o.rows.size(), 0.0);
    TokenReuseOptions::Stats ts;
    ts.step_rows = o.rows.data();
    ts.step_total = o.rows_total.data();
    ts.steps = static_cast<int>(o.rows.size());
    GenRunner r = Runner(c, &o.st, &ts);
    CacheOptions& co = g.cache;
    co.policy = static_cast<CachePolicy>(c.cache_policy);
    co.max_skips = c.max_skips;
    if (co.policy != CachePolicy::kNone && (!have_ref_ || signals_ == nullptr))
      Fail(kExitConvert, "tuning: a cache configuration ran before the set's probe signals");
    if (signals_ != nullptr && co.policy != CachePolicy::kNone) {
      co.tea_poly = signals_->tea_poly;
      co.mag_ratios = signals_->mag_ratios;
    }
    if (co.policy == CachePolicy::kStatic) co.interval = static_cast<int>(c.cache_threshold);
    else if (co.policy != CachePolicy::kNone) co.threshold = c.cache_threshold;
    g.guidance_reuse.interval = c.guidance_interval;
    g.guidance_reuse.warmup_steps = c.guidance_warmup;
    g.guidance_reuse.order = c.guidance_order;
    o.out.assign(size_t(g.num_samples) * r.pipeline->latent_elements(), 0.f);
    const double t0 = ThreadCpuSeconds();
    if (probe) {
      ProbeCacheSignals(r.pipeline.get(), g, o.out.data(), signals_);
      signals_->steps = g.steps;
    } else {
      CheckStatus(r.pipeline->Generate(g, o.out.data()), kContext, DescribeConfig(c));
    }
    o.cpu = ThreadCpuSeconds() - t0;
    const GenerateStats& gs = r.pipeline->stats();
    o.graph_runs = gs.graph_runs;
    o.blocks_computed = gs.blocks_computed;
    o.blocks_skipped = gs.blocks_skipped;
    o.guidance_applied = gs.guidance_reuse.interval > 1;
    ++generations_;
    return o;
  }

  void TakeReference(Output* ref) {
    per_sample_ = ref->out.size() / size_t(std::max(set_.num_samples, 1));
    ref_ = ref->out;  // the run stays scorable: it is the baseline's too
    peak_ = PsnrPeak(model(0).pipeline(), ref_);
    have_ref_ = true;
  }

  void Score(TuneConfig* c, const Output& o) {
    const GenerateOptions& g = set_;
    c->psnr = static_cast<float>(Psnr(ref_.data(), o.out.data(), o.out.size(), peak_));
    c->worst_psnr = 99.f;
    for (int i = 0; i < g.num_samples; ++i) {
      const size_t off = size_t(i) * per_sample_;
      c->worst_psnr = std::min(
          c->worst_psnr, static_cast<float>(Psnr(ref_.data() + off, o.out.data() + off, per_sample_, peak_)));
    }
    const double total = double(o.blocks_computed + o.blocks_skipped);
    c->skip_fraction = total > 0 ? static_cast<float>(o.blocks_skipped / total) : 0.f;
    c->exact_fraction = o.st.total_pairs > 0 ? static_cast<float>(o.st.exact_pairs / o.st.total_pairs) : 1.f;
    double computed = 0, all_rows = 0;
    for (size_t i = 0; i < o.rows.size(); ++i) {
      computed += o.rows[i];
      all_rows += o.rows_total[i];
    }
    c->rows_fraction = all_rows > 0 ? static_cast<float>(computed / all_rows) : 1.f;
    c->guidance_applied = o.guidance_applied;
    RunShape rs;
    rs.graph_runs = o.graph_runs;
    rs.skip_fraction = c->skip_fraction;
    rs.attention_int8 = c->attention == 1;
    rs.clusters = c->err_tol > 0.f && o.st.total_pairs > 0;
    rs.exact_fraction = c->exact_fraction;
    rs.token_reuse = c->token_reuse > 0.f && all_rows > 0;
    rs.rows_fraction = c->rows_fraction;
    c->seconds = PredictSeconds(work(c->weights), thr_, rs);
    c->ok = c->psnr >= o_.target_psnr + o_.margin_db;
  }

  GenRunner Runner(const TuneConfig& c, AttentionSparseOptions::Stats* st = nullptr,
                   TokenReuseOptions::Stats* ts = nullptr) {
    SessionOptions so;
    so.num_threads = 1;
    so.attention_precision = c.attention;
    so.attention_sparse.mode = c.err_tol > 0.f ? 2 : 0;
    so.attention_sparse.err_tol = c.err_tol;
    so.attention_sparse.stats = st;
    so.token_reuse.threshold = c.token_reuse;  // 0: off, whatever the image stores
    so.token_reuse.stats = ts;
    return MakeGenRunner(&model(c.weights), so, kContext);
  }

  const std::function<const std::vector<uint8_t>&(int)>& image_;
  const TuneOptions& o_;
  const IsaThroughput& thr_;
  std::unique_ptr<Model> models_[3];
  GraphWork work_[3];
  GenerateOptions set_;
  std::vector<float> ref_;
  size_t per_sample_ = 0;
  double peak_ = 2.0;
  CacheCalibrationInfo* signals_ = nullptr;  // probe signals of the set (written by its reference run)
  bool have_ref_ = false, probe_ = false;
  std::vector<TuneConfig> measured_;  // on the current set
  std::atomic<int> generations_{0};
};


}  // namespace

std::string DescribeConfig(const TuneConfig& c) {
  static const char* const kWeights[] = {"fp32", "int8", "nvfp4"};
  std::string s = std::string(kWeights[std::clamp(c.weights, 0, 2)]) + " weights, " +
                  (c.attention == 1 ? "int8" : "fp32") + " attention";
  char b[64];
  if (c.err_tol > 0.f) {
    std::snprintf(b, sizeof b, ", clusters err-tol %g", double(c.err_tol));
    s += b;
  }
  if (c.token_reuse > 0.f) {
    std::snprintf(b, sizeof b, ", token reuse %g", double(c.token_reuse));
    s += b;
  }
  if (c.guidance_interval > 1) {
    std::snprintf(b, sizeof b, ", guidance reuse every %d after %d, order %d", c.guidance_interval,
                  c.guidance_warmup, c.guidance_order);
    s += b;
  }
  if (c.cache_policy != 0) {
    const CachePolicy p = static_cast<CachePolicy>(c.cache_policy);
    if (p == CachePolicy::kStatic) std::snprintf(b, sizeof b, ", cache static every %g", double(c.cache_threshold));
    else std::snprintf(b, sizeof b, ", cache %s %.4g", CachePolicyName(p), double(c.cache_threshold));
    s += b;
  }
  return s;
}

TuneReport Tune(const std::function<const std::vector<uint8_t>&(int)>& image, const TuneOptions& o) {
  const auto wall0 = std::chrono::steady_clock::now();
  if (!std::isfinite(o.target_psnr) || o.target_psnr <= 0.f || o.target_psnr > 98.f)
    Fail(kExitUsage, "--target-psnr needs a PSNR in dB in (0, 98]");
  if (!std::isfinite(o.margin_db) || o.margin_db < 0.f || o.margin_db > 20.f)
    Fail(kExitUsage, "--tune-margin needs a number of dB in [0, 20]");
  const IsaThroughput* thr = FindThroughput(o.isa);
  if (thr == nullptr) Fail(kExitUsage, "--tune-isa: unknown '" + o.isa + "' (known: " + ThroughputNames() + ")");
  TuneReport rep;
  rep.isa = thr->isa;
  rep.isa_source = thr->source;
  Evaluator ev(image, o, *thr);
  const Model& m0 = ev.model(0);
  const fb::Pipeline* meta = m0.pipeline();
  if (meta == nullptr)
    Fail(kExitUsage, "--target-psnr runs the sampler: give pipeline metadata (--roles, --sampler ...)");
  const int num_classes = meta->num_classes();
  std::vector<int64_t> classes = o.classes;
  if (classes.empty()) {
    for (int c = 0; c < std::min(std::max(num_classes, 1), 4); ++c) classes.push_back(c);
  }
  std::vector<int> policies = o.cache_policies;
  if (policies.empty() && !m0.cache_regions().empty()) {
    policies = {static_cast<int>(CachePolicy::kTdc), static_cast<int>(CachePolicy::kTaylor),
                static_cast<int>(CachePolicy::kMagCache), static_cast<int>(CachePolicy::kStatic)};
  }
  if (!policies.empty() && m0.cache_regions().empty())
    Fail(kExitUsage, "--tune-cache: the model has no cache regions (see --block-prefix)");
  bool probe = false;
  for (int p : policies)
    probe = probe || p == static_cast<int>(CachePolicy::kTeaCache) || p == static_cast<int>(CachePolicy::kMagCache);

  // Calibration seeds start at 1000; the held-back set uses seed 0.
  GenerateOptions calib = CalibrationSet(m0, classes, o.seeds, 1000, "--calib-classes");
  ev.SetSet(calib, probe, &rep.cache_info);

  auto record = [&](TuneConfig* c, const char* step) {
    c->step = step;
    for (const TuneConfig& t : rep.trace)
      if (SameKnobs(t, *c)) return;  // a repeat took the earlier result
    rep.trace.push_back(*c);
  };
  // The baseline runs in the first batch (it is the set's reference run);
  // the knobs below are set on copies of its (default) knobs.
  TuneConfig base;

  // 1. Each approximation alone.
  enum Dim { kWeights = 0, kAttentionPrecision, kSparse, kGuidance, kTokenReuse, kNumDims };
  struct Knob {
    int dim;
    TuneConfig c;
  };
  std::vector<Knob> solo;
  for (int w : {1, 2}) {
    Knob k{kWeights, base};
    k.c.weights = w;
    solo.push_back(k);
  }
  {
    Knob k{kAttentionPrecision, base};
    k.c.attention = 1;
    solo.push_back(k);
  }
  for (float e : {0.03f, 0.015f, 0.008f}) {
    Knob k{kSparse, base};
    k.c.err_tol = e;
    solo.push_back(k);
  }
  // Token reuse thresholds around the video demo model's 30-35 dB range
  // (bench/results/token_reuse_sweep_video.md: 0.1 -> 29.1 dB, 0.07 -> 32.0,
  // 0.05 -> 33.4 at the runtime's default warm-up, staleness and order).
  if (o.token_reuse) {
    for (float t : {0.1f, 0.07f, 0.05f}) {
      Knob k{kTokenReuse, base};
      k.c.token_reuse = t;
      solo.push_back(k);
    }
  }
  // Guidance reuse schedules (warm-up, interval, order). The guidance
  // direction moves most in the early steps, so a longer warm-up buys quality;
  // whether reusing it (order 0) or extrapolating it (order 1) is better
  // differs between models (order 1 on the glyph video model, order 0 on the
  // testbed: bench/results/guidance_reuse_*.md), so both are tried.
  const bool guided = meta->condition_input() >= 0 && meta->guidance_scale() != 1.f;
  if (o.guidance_reuse && guided) {
    for (int w : {2, 6})
      for (int k : {2, 3, 4})
        for (int ord : {0, 1}) {
          if (w == 2 && k == 4) continue;  // too coarse this early (below 25 dB on both models)
          Knob kn{kGuidance, base};
          kn.c.guidance_warmup = w;
          kn.c.guidance_interval = k;
          kn.c.guidance_order = ord;
          solo.push_back(kn);
        }
  }
  {
    // Guidance reuse first on its most aggressive schedule: where the
    // pipeline declines it (a batch that pairs cond and uncond rows runs
    // fewer calls without it), it declines every schedule, and they are
    // dropped unrun.
    // (steps reused: (steps - warm-up) (k - 1) / k, the most)
    auto reused = [&](const Knob& k) {
      return double(calib.steps - k.c.guidance_warmup) * (k.c.guidance_interval - 1) / k.c.guidance_interval;
    };
    auto first_guidance = solo.end();
    for (auto it = solo.begin(); it != solo.end(); ++it)
      if (it->dim == kGuidance && (first_guidance == solo.end() || reused(*it) > reused(*first_guidance)))
        first_guidance = it;
    // First batch: the baseline, that schedule, and every other knob alone.
    std::vector<TuneConfig*> first{&base};
    for (auto it = solo.begin(); it != solo.end(); ++it)
      if (it->dim != kGuidance || it == first_guidance) first.push_back(&it->c);
    ev.RunAll(first);
    record(&base, "baseline");
    rep.baseline = base;
    if (first_guidance != solo.end()) {
      if (!first_guidance->c.guidance_applied) {
        std::fprintf(stderr, "edge-convert: note: tuning: guidance reuse saves no graph calls on this model "
                             "(its batch pairs cond and uncond rows); not searched\n");
        solo.erase(std::remove_if(solo.begin(), solo.end(), [](const Knob& k) { return k.dim == kGuidance; }),
                   solo.end());
      }
    }
    std::vector<TuneConfig*> list;
    for (Knob& k : solo) list.push_back(&k.c);
    ev.RunAll(list);
    for (Knob& k : solo) record(&k.c, "alone");
  }

  // 2. Combine on top of `from`: the dimensions in `dims`, the one whose
  // best value saved the most alone first, each at its cheapest value (of
  // those that kept the target alone) that keeps the target with what is
  // already taken. Cluster-sparse attention and token reuse exclude each
  // other: a value that would join them is passed over.
  auto set_dim = [](int dim, const TuneConfig& from, TuneConfig* to) {
    switch (dim) {
      case kWeights: to->weights = from.weights; break;
      case kAttentionPrecision: to->attention = from.attention; break;
      case kSparse: to->err_tol = from.err_tol; break;
      case kGuidance:
        to->guidance_interval = from.guidance_interval;
        to->guidance_warmup = from.guidance_warmup;
        to->guidance_order = from.guidance_order;
        break;
      case kTokenReuse: to->token_reuse = from.token_reuse; break;
    }
  };
  auto combine = [&](TuneConfig from, const std::vector<int>& allowed, const char* step) {
    std::vector<std::pair<double, int>> dims;  // (-best saving, dim)
    for (int d : allowed) {
      double best = 0;
      for (const Knob& k : solo)
        if (k.dim == d && k.c.ok && k.c.seconds < base.seconds) best = std::max(best, base.seconds - k.c.seconds);
      if (best > 0) dims.push_back({-best, d});
    }
    std::sort(dims.begin(), dims.end());
    for (const auto& dd : dims) {
      std::vector<const Knob*> vals;
      for (const Knob& k : solo)
        if (k.dim == dd.second && k.c.ok && k.c.seconds < base.seconds) vals.push_back(&k);
      std::stable_sort(vals.begin(), vals.end(),
                       [](const Knob* a, const Knob* b) { return a->c.seconds < b->c.seconds; });
      // The candidates in the order they are tried; with several tuning
      // threads the next ones run beside the first (speculatively: the first
      // that keeps the target and saves time is taken, as one at a time).
      std::vector<TuneConfig> cands;
      std::vector<bool> alone;
      for (const Knob* k : vals) {
        TuneConfig cand = from;
        set_dim(dd.second, k->c, &cand);
        if (SameKnobs(cand, from)) break;  // already taken
        if (cand.err_tol > 0.f && cand.token_reuse > 0.f) break;
        alone.push_back(SameKnobs(cand, k->c));
        cands.push_back(alone.back() ? k->c : cand);  // measured alone
      }
      const size_t chunk = size_t(std::max(1, o.threads));
      bool taken = false;
      for (size_t i = 0; i < cands.size() && !taken;) {
        std::vector<TuneConfig*> run;
        size_t end = i;
        for (; end < cands.size() && run.size() < chunk; ++end)
          if (!alone[end]) run.push_back(&cands[end]);
        ev.RunAll(run);
        for (; i < end; ++i) {
          if (!alone[i]) record(&cands[i], step);
          if (!taken && cands[i].ok && cands[i].seconds < from.seconds) {
            from = cands[i];
            taken = true;
          }
        }
      }
    }
    return from;
  };
  std::vector<int> all_dims;
  for (int d = 0; d < kNumDims; ++d) all_dims.push_back(d);
  TuneConfig cur = combine(base, all_dims, "combine");

  // 3. Cache on top: per policy, bisection for the most aggressive rung that
  // keeps the target (all searches advance together, one batch per round).
  // Guidance reuse, token reuse and low-bit weights draw on the same quality
  // budget as the cache, and taking one first (it may keep the target alone
  // and save a little) can leave none for a cache that would save more: on
  // the video demo INT8 weights cost 4 dB of the budget for 3% of the time
  // (bench/results/tune_video_t30_v6.md). So when step 2 took one of them,
  // the cache is also searched on a second base, combined without them;
  // there they get another chance after the cache (step 4).
  const bool two_bases = cur.guidance_interval > 1 || cur.token_reuse > 0.f || cur.weights != 0;
  std::vector<int> no_spender_dims;
  for (int d : all_dims)
    if (d != kGuidance && d != kTokenReuse && d != kWeights) no_spender_dims.push_back(d);
  const TuneConfig no_spenders = two_bases ? combine(base, no_spender_dims, "combine") : cur;
  TuneConfig best_no_spenders = no_spenders;
  if (!policies.empty()) {
    struct Search {
      int policy;
      int base;  // 0: cur, 1: combined without guidance or token reuse
      std::vector<float> ladder;
      int lo = -1, hi = 0;  // lo: best rung known to keep the target; hi: first known to fail
      TuneConfig best;
      bool found = false;
      double bound = 0;  // predicted seconds of rung hi: no rung below it runs faster
    };
    std::vector<Search> ss;
    for (int b = 0; b < (two_bases ? 2 : 1); ++b)
      for (int p : policies) {
        Search s;
        s.policy = p;
        s.base = b;
        s.ladder = CacheLadder(p);
        s.hi = static_cast<int>(s.ladder.size());
        ss.push_back(s);
      }
    // A search whose failed rung is already no faster than the best
    // configuration its base has found stops: its remaining rungs are
    // gentler, so slower still (a gentler threshold skips no more), and could
    // not be chosen.
    auto incumbent = [&](int b) {
      double best = b == 0 ? cur.seconds : no_spenders.seconds;
      for (const Search& s : ss)
        if (s.base == b && s.found) best = std::min(best, s.best.seconds);
      return best;
    };
    for (;;) {
      std::vector<TuneConfig> batch;
      std::vector<int> owner;
      for (size_t i = 0; i < ss.size(); ++i) {
        Search& s = ss[i];
        if (s.hi - s.lo <= 1) continue;
        if (s.bound > 0 && s.bound >= incumbent(s.base)) continue;
        TuneConfig c = s.base == 0 ? cur : no_spenders;
        c.cache_policy = s.policy;
        c.cache_threshold = s.ladder[(s.lo + s.hi) / 2];
        batch.push_back(c);
        owner.push_back(static_cast<int>(i));
      }
      if (batch.empty()) break;
      std::vector<TuneConfig*> list;
      for (TuneConfig& c : batch) list.push_back(&c);
      ev.RunAll(list);
      for (size_t j = 0; j < batch.size(); ++j) {
        Search& s = ss[owner[j]];
        record(&batch[j], "cache");
        const int mid = (s.lo + s.hi) / 2;
        if (batch[j].ok) {
          s.lo = mid;
          s.best = batch[j];
          s.found = true;
        } else {
          s.hi = mid;
          s.bound = batch[j].seconds;
        }
      }
    }
    for (const Search& s : ss) {
      if (!s.found) continue;
      if (s.base == 0 && s.best.seconds < cur.seconds) cur = s.best;
      if (s.base == 1 && s.best.seconds < best_no_spenders.seconds) best_no_spenders = s.best;
    }
  }

  // 4. Token reuse, guidance reuse and low-bit weights after the cache
  // (second base only); the result is taken if it beats the first base.
  if (two_bases && best_no_spenders.cache_policy != 0) {
    const TuneConfig after = combine(best_no_spenders, {kTokenReuse, kGuidance, kWeights}, "after cache");
    if (after.seconds < cur.seconds) cur = after;
  }

  rep.chosen = cur;
  rep.improved = !SameKnobs(cur, base);
  if (o.grid) {
    std::vector<TuneConfig> grid;
    for (int w = 0; w < 3; ++w)
      for (int a = 0; a < 2; ++a)
        // Attention sparsity: none, clusters at three budgets, or token
        // reuse at three thresholds (exclusive).
        for (std::pair<float, float> et : {std::pair<float, float>{0.f, 0.f}, {0.03f, 0.f}, {0.015f, 0.f},
                                           {0.008f, 0.f}, {0.f, 0.1f}, {0.f, 0.07f}, {0.f, 0.05f}}) {
          if (et.second > 0.f && !o.token_reuse) continue;
          TuneConfig c;
          c.weights = w;
          c.attention = a;
          c.err_tol = et.first;
          c.token_reuse = et.second;
          grid.push_back(c);
          for (int p : policies)
            for (float t : CacheLadder(p)) {
              c.cache_policy = p;
              c.cache_threshold = t;
              grid.push_back(c);
            }
        }
    std::vector<TuneConfig*> list;
    for (TuneConfig& c : grid) list.push_back(&c);
    ev.RunAll(list);
    rep.grid_best = base;
    for (const TuneConfig& c : grid)
      if (c.ok && c.seconds < rep.grid_best.seconds) rep.grid_best = c;
    rep.grid_best.step = "grid";
    rep.grid_ran = true;
    rep.grid_points = static_cast<int>(grid.size());
  }
  rep.predicted_speedup = cur.seconds > 0 ? base.seconds / cur.seconds : 1.0;

  // Held-back set: classes not calibrated on, seed 0. FP32 reference first,
  // then the choice, each timed in thread CPU time.
  std::vector<int64_t> hold = o.holdout;
  if (hold.empty() && !o.holdout_off && num_classes > 0) {
    for (int c = 0; c < num_classes && hold.size() < 2; ++c)
      if (std::find(classes.begin(), classes.end(), c) == classes.end()) hold.push_back(c);
  }
  if (!hold.empty() && !o.holdout_off) {
    GenerateOptions g = CalibrationSet(m0, hold, 1, 0, "--holdout-classes");
    double ref_cpu = 0;
    CacheCalibrationInfo signals = rep.cache_info;  // keep the calibration signals
    ev.SetTimedSet(g, &signals, &ref_cpu);
    TuneConfig c = cur;
    const double cpu = ev.Run(&c);
    rep.holdout_psnr = c.psnr;
    rep.holdout_worst = c.worst_psnr;
    rep.holdout_speedup = cpu > 0 ? ref_cpu / cpu : 0.0;
  }
  if (cur.cache_policy != 0) {
    CachePolicyCalibrationInfo e;
    e.policy = cur.cache_policy;
    e.target_psnr = o.target_psnr;
    e.threshold = cur.cache_threshold;
    e.psnr = cur.psnr;
    e.skip_fraction = cur.skip_fraction;
    e.max_skips = cur.max_skips;
    rep.cache_info.policies = {e};
  } else {
    rep.cache_info.policies.clear();
  }
  rep.generations = ev.generations();
  rep.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  return rep;
}

}  // namespace conv
}  // namespace edge
