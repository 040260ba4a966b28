#include "converter/ir.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace edge {
namespace conv {

void Fail(int code, const std::string& msg) { throw ConvertError(code, msg); }

bool IsFloatType(int t) { return t == kFloat || t == kFloat16 || t == kDouble || t == kBFloat16; }

const char* ElemTypeName(int t) {
  switch (t) {
    case kFloat: return "f32";
    case kUint8: return "u8";
    case kInt8: return "i8";
    case kUint16: return "u16";
    case kInt16: return "i16";
    case kInt32: return "i32";
    case kInt64: return "i64";
    case kString: return "string";
    case kBool: return "bool";
    case kFloat16: return "f16";
    case kDouble: return "f64";
    case kUint32: return "u32";
    case kUint64: return "u64";
    case kBFloat16: return "bf16";
    default: return "?";
  }
}

int64_t NumElements(const Shape& s) {
  // Saturates: a hostile file's dims can overflow the product, and every size
  // check downstream refuses INT64_MAX.
  int64_t n = 1;
  for (int64_t d : s)
    if (__builtin_mul_overflow(n, d, &n)) return INT64_MAX;
  return n;
}

std::string ShapeStr(const Shape& s) {
  std::ostringstream o;
  o << "[";
  for (size_t k = 0; k < s.size(); ++k) o << (k ? "," : "") << s[k];
  o << "]";
  return o.str();
}

void Tensor::Set(int64_t k, double v) {
  if (is_float()) {
    f[k] = static_cast<float>(v);
  } else if (dtype == kBool) {
    i[k] = v != 0;
  } else {
    // Out-of-range values (e.g. INT64_MAX as a Slice end) saturate.
    if (v >= 9.2e18) i[k] = INT64_MAX;
    else if (v <= -9.2e18) i[k] = INT64_MIN;
    else i[k] = static_cast<int64_t>(v);
  }
}

int64_t Node::AttrInt(const std::string& k, int64_t def) const {
  auto it = attrs.find(k);
  return it == attrs.end() ? def : it->second.i;
}
float Node::AttrFloat(const std::string& k, float def) const {
  auto it = attrs.find(k);
  return it == attrs.end() ? def : it->second.f;
}
std::vector<int64_t> Node::AttrInts(const std::string& k) const {
  auto it = attrs.find(k);
  return it == attrs.end() ? std::vector<int64_t>() : it->second.ints;
}
std::string Node::AttrString(const std::string& k, const std::string& def) const {
  auto it = attrs.find(k);
  return it == attrs.end() ? def : it->second.s;
}

const char* EdgeOpName(fb::OpType t) { return fb::EnumNameOpType(t); }

int Graph::AddValue(const std::string& n) {
  Value v;
  v.name = n;
  values.push_back(v);
  dirty_ = true;
  return static_cast<int>(values.size()) - 1;
}

int Graph::AddConstValue(const std::string& n, TensorPtr t) {
  int id = AddValue(n);
  values[id].dtype = t->dtype;
  values[id].shape = t->shape;
  values[id].known = true;
  values[id].c = std::move(t);
  return id;
}

std::string Graph::FreshName(const std::string& base) {
  if (name_count_.empty())
    for (const Value& v : values) name_count_[v.name] = 1;
  std::string n = base;
  int& c = name_count_[base];
  if (c > 0) n = base + "_" + std::to_string(c);
  ++c;
  while (name_count_.count(n) && n != base) n += "_";
  name_count_[n] = 1;
  return n;
}

int Graph::AddNode(Node n, int before) {
  if (before >= 0) {
    // Just before `before`, after anything already inserted there.
    double lo = -1e300;
    for (const Node& m : nodes)
      if (m.pos < nodes[before].pos && m.pos > lo) lo = m.pos;
    double hi = nodes[before].pos;
    n.pos = lo == -1e300 ? hi - 1.0 : (lo + hi) / 2;
  } else {
    n.pos = nodes.empty() ? 0 : nodes.back().pos + 1;
    for (const Node& m : nodes) n.pos = std::max(n.pos, m.pos + 1);
  }
  nodes.push_back(std::move(n));
  dirty_ = true;
  return static_cast<int>(nodes.size()) - 1;
}

bool Graph::ConstScalar(int v, double* out) const {
  const Tensor* t = Const(v);
  if (!t || t->numel() != 1) return false;
  *out = t->at(0);
  return true;
}

void Graph::Rebuild() {
  producer_.assign(values.size(), -1);
  users_.assign(values.size(), {});
  for (size_t k = 0; k < nodes.size(); ++k) {
    const Node& n = nodes[k];
    if (n.dead) continue;
    for (int o : n.out)
      if (o >= 0) producer_[o] = static_cast<int>(k);
    for (int i : n.in)
      if (i >= 0 && (users_[i].empty() || users_[i].back() != static_cast<int>(k)))
        users_[i].push_back(static_cast<int>(k));
  }
  dirty_ = false;
}

int Graph::Producer(int v) {
  if (dirty_ || producer_.size() != values.size()) Rebuild();
  return Valid(v) ? producer_[v] : -1;
}

const std::vector<int>& Graph::Users(int v) {
  if (dirty_ || users_.size() != values.size()) Rebuild();
  static const std::vector<int> kNone;
  return Valid(v) ? users_[v] : kNone;
}

void Graph::ReplaceUses(int from, int to) {
  for (Node& n : nodes) {
    if (n.dead) continue;
    for (int& i : n.in)
      if (i == from) i = to;
  }
  for (int& o : outputs) {
    if (o != from) continue;
    const Value& tv = values[to];
    bool aliased = tv.graph_input || tv.c || tv.graph_output;
    if (aliased) {
      // The output must stay a distinct tensor: copy into it.
      Node cp;
      cp.op = "Copy";
      cp.edge = true;
      cp.etype = fb::OpType::Copy;
      cp.name = values[from].name + "/copy";
      cp.in = {to};
      cp.out = {from};
      AddNode(cp);
    } else {
      // Keep the graph output's name on the new producer.
      std::string keep = values[from].name;
      values[from].name = values[to].name + "/replaced";
      values[to].name = keep;
      values[to].graph_output = true;
      values[from].graph_output = false;
      o = to;
    }
  }
  dirty_ = true;
}

void Graph::RemoveDeadCode() {
  // Mark live from graph outputs backwards.
  Rebuild();
  std::vector<char> live_val(values.size(), 0), live_node(nodes.size(), 0);
  std::vector<int> stack(outputs.begin(), outputs.end());
  while (!stack.empty()) {
    int v = stack.back();
    stack.pop_back();
    if (v < 0 || live_val[v]) continue;
    live_val[v] = 1;
    int p = producer_[v];
    if (p >= 0 && !live_node[p]) {
      live_node[p] = 1;
      for (int i : nodes[p].in) stack.push_back(i);
    }
  }
  for (size_t k = 0; k < nodes.size(); ++k)
    if (!live_node[k]) nodes[k].dead = true;
  dirty_ = true;
}

void Graph::Compact() {
  std::vector<Node> kept;
  kept.reserve(nodes.size());
  for (Node& n : nodes)
    if (!n.dead) kept.push_back(std::move(n));
  std::stable_sort(kept.begin(), kept.end(),
                   [](const Node& a, const Node& b) { return a.pos < b.pos; });
  for (size_t k = 0; k < kept.size(); ++k) kept[k].pos = static_cast<double>(k);
  nodes = std::move(kept);
  dirty_ = true;
}

}  // namespace conv
}  // namespace edge
