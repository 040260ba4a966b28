#include "converter/regions.h"

#include "converter/passes.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

namespace edge {
namespace conv {
namespace {

// Splits "/a/blocks.3/attn/MatMul" into (list path, index) candidates:
// ("/a/blocks", 3), ... one per path component of the form <name>.<int>.
std::vector<std::pair<std::string, std::string>> ListComponents(const std::string& name) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string::npos) end = name.size();
    std::string comp = name.substr(start, end - start);
    size_t dot = comp.rfind('.');
    if (dot != std::string::npos && dot + 1 < comp.size() && dot > 0) {
      bool digits = true;
      for (size_t k = dot + 1; k < comp.size(); ++k) digits = digits && std::isdigit(static_cast<unsigned char>(comp[k]));
      if (digits) out.push_back({name.substr(0, start) + comp.substr(0, dot), name.substr(0, end)});
    }
    if (end == name.size()) break;
    start = end + 1;
  }
  return out;
}

std::string BaseName(const std::string& list) {
  size_t p = list.find_last_of('/');
  return p == std::string::npos ? list : list.substr(p + 1);
}

struct RangeInfo {
  int first = -1, last = -1;
  std::vector<int> escaping;  // values produced in range and used after it
};

RangeInfo Analyze(Graph& g, const std::string& key) {
  RangeInfo r;
  for (size_t k = 0; k < g.nodes.size(); ++k)
    if (g.nodes[k].block == key) {
      if (r.first < 0) r.first = static_cast<int>(k);
      r.last = static_cast<int>(k);
    }
  if (r.first < 0) return r;
  for (int k = r.first; k <= r.last; ++k)
    for (int o : g.nodes[k].out) {
      if (o < 0) continue;
      bool esc = g.values[o].graph_output;
      for (int u : g.Users(o)) esc = esc || u > r.last;
      if (esc) r.escaping.push_back(o);
    }
  return r;
}

// In-range ancestors of v (nodes in [first, last]).
std::set<int> Closure(Graph& g, int v, int first, int last) {
  std::set<int> nodes;
  std::vector<int> stack = {v};
  while (!stack.empty()) {
    int x = stack.back();
    stack.pop_back();
    int p = g.Producer(x);
    if (p < first || p > last || nodes.count(p)) continue;
    nodes.insert(p);
    for (int i : g.nodes[p].in)
      if (i >= 0) stack.push_back(i);
  }
  return nodes;
}

std::set<int> ExternalReads(Graph& g, const std::set<int>& nodes, int first) {
  std::set<int> ext;
  for (int n : nodes)
    for (int i : g.nodes[n].in)
      if (i >= 0 && !g.IsConst(i) && g.Producer(i) < first) ext.insert(i);
  return ext;
}

// The residual input of a range whose output is `out`: the outside value of
// out's shape that the residual chain (Add / GatedResidual, back from the
// output) reaches. Having one such value is not enough: the SiLU of an adaLN
// Sequential ("adaLN_modulation.0") also maps one [B, D] input to a [B, D]
// output, yet skipping it as a block would be wrong. Only a range whose
// output is a residual sum of its input is a transformer block.
int ResidualInput(Graph& g, int first, int last, int out) {
  std::set<int> all;
  for (int k = first; k <= last; ++k) all.insert(k);
  std::set<int> ext = ExternalReads(g, all, first);
  std::vector<int> cands;
  for (int v : ext)
    if (g.shape(v) == g.shape(out)) cands.push_back(v);
  if (cands.empty()) return -1;
  // Follow the residual chain back from the output.
  int v = out;
  for (int step = 0; step < 64; ++step) {
    if (std::find(cands.begin(), cands.end(), v) != cands.end()) return v;
    int p = g.Producer(v);
    if (p < first || p > last) return -1;
    const Node& n = g.nodes[p];
    if (!HasArity(n, MinInputs(n))) {
      return -1;
    } else if (n.etype == fb::OpType::GatedResidual) {
      v = n.in[0];
    } else if (n.etype == fb::OpType::Add) {
      int a = n.in[0], b = n.in[1];
      bool ca = std::find(cands.begin(), cands.end(), a) != cands.end();
      bool cb = std::find(cands.begin(), cands.end(), b) != cands.end();
      if (ca != cb) return ca ? a : b;
      int pa = g.Producer(a);
      v = (pa >= first && pa <= last &&
           (g.nodes[pa].etype == fb::OpType::GatedResidual || g.nodes[pa].etype == fb::OpType::Add))
              ? a
              : b;
    } else {
      return -1;
    }
  }
  return -1;
}

}  // namespace

std::vector<Region> FindCacheRegions(Graph& g, const std::string& prefix, std::vector<std::string>* warnings) {
  // Pick the module list: the one named by `prefix`, else the one covering most ops.
  std::map<std::string, int> covered;
  std::vector<std::string> order;
  for (const Node& n : g.nodes)
    for (const auto& c : ListComponents(n.name)) {
      if (!covered.count(c.first)) order.push_back(c.first);
      ++covered[c.first];
    }
  std::string list;
  int best = 0;
  for (const std::string& l : order) {
    bool named = !prefix.empty() && (BaseName(l) == prefix || l == prefix || l == "/" + prefix);
    if (!prefix.empty() && !named) continue;
    if (covered[l] > best) {
      best = covered[l];
      list = l;
    }
  }
  std::vector<Region> regions;
  if (list.empty()) {
    if (!prefix.empty()) warnings->push_back("no node names match block prefix '" + prefix + "'");
    return regions;
  }
  std::vector<std::string> keys;
  for (Node& n : g.nodes) {
    n.block.clear();
    for (const auto& c : ListComponents(n.name))
      if (c.first == list) {
        n.block = c.second;
        break;
      }
    if (!n.block.empty() && (keys.empty() || std::find(keys.begin(), keys.end(), n.block) == keys.end()))
      keys.push_back(n.block);
  }
  g.Touch();
  for (const std::string& key : keys) {
    std::string why;
    Region reg;
    for (int attempt = 0; attempt < 2; ++attempt) {
      RangeInfo r = Analyze(g, key);
      why.clear();
      if (r.escaping.empty()) { why = "produces nothing used later"; break; }
      // Main output: the escaping value with the largest in-range cone.
      int out = -1;
      size_t best_size = 0;
      for (int v : r.escaping) {
        size_t s = Closure(g, v, r.first, r.last).size();
        if (s > best_size) { best_size = s; out = v; }
      }
      int in = ResidualInput(g, r.first, r.last, out);
      if (in < 0) { why = "its output is no residual sum of one input (not a transformer block)"; break; }
      if (r.escaping.size() == 1) {
        bool overlap = false;
        for (int k = r.first; k <= r.last; ++k)
          if (!g.nodes[k].block.empty() && g.nodes[k].block != key) overlap = true;
        if (overlap) { why = "interleaved with another block"; break; }
        reg.name = key.substr(key[0] == '/' ? 1 : 0);
        reg.first_op = r.first;
        reg.last_op = r.last;
        reg.input = in;
        reg.output = out;
        break;
      }
      // Other escaping values: hoist them (and their in-range inputs) before the
      // block if they do not depend on the residual stream.
      std::set<int> hoist;
      for (int v : r.escaping) {
        if (v == out) continue;
        std::set<int> c = Closure(g, v, r.first, r.last);
        // c holds every in-range ancestor, so reading `in` anywhere in it means dependence.
        bool dep = false;
        for (int n : c)
          for (int i : g.nodes[n].in) dep = dep || i == in;
        if (dep) { why = "value '" + g.values[v].name + "' escapes the block"; break; }
        hoist.insert(c.begin(), c.end());
      }
      if (!why.empty()) break;
      double base = g.nodes[r.first].pos;
      int i = 0;
      for (int n : hoist) {
        g.nodes[n].pos = base - 0.5 + 1e-6 * i++;
        g.nodes[n].block.clear();
      }
      g.Compact();
    }
    if (!why.empty() || reg.name.empty()) {
      warnings->push_back("block '" + key + "' is not a cache region: " + (why.empty() ? "unresolved outputs" : why));
      continue;
    }
    regions.push_back(reg);
  }
  // Later hoists shift indices: recompute each range.
  std::vector<Region> final_regions;
  for (const Region& reg : regions) {
    std::string key;
    for (const Node& n : g.nodes)
      if (!n.block.empty() && n.block.substr(n.block[0] == '/' ? 1 : 0) == reg.name) { key = n.block; break; }
    RangeInfo r = Analyze(g, key);
    Region x = reg;
    x.first_op = r.first;
    x.last_op = r.last;
    final_regions.push_back(x);
  }
  return final_regions;
}

}  // namespace conv
}  // namespace edge
