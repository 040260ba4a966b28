#include "converter/fold.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <sstream>

#include "converter/onnx_unary.h"

namespace edge {
namespace conv {
namespace {

// A node we cannot handle: reported, outputs stay unknown.
struct Unsupported : std::runtime_error {
  explicit Unsupported(const std::string& m) : std::runtime_error(m) {}
};
[[noreturn]] void Unsup(const std::string& why) { throw Unsupported(why); }

constexpr int64_t kMaxFoldElements = int64_t(1) << 26;

int NormAxis(int64_t axis, int rank) {
  // Every caller indexes a dim with the result: a scalar (rank 0) has no axis.
  if (axis < -rank || axis >= rank) Unsup("axis " + std::to_string(axis) + " out of range");
  return static_cast<int>(axis < 0 ? axis + rank : axis);
}

std::vector<int64_t> Strides(const Shape& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (int k = static_cast<int>(s.size()) - 2; k >= 0; --k) st[k] = st[k + 1] * s[k + 1];
  return st;
}

// Strides of `in` seen from an output of shape `out` under numpy broadcasting.
std::vector<int64_t> BroadcastStrides(const Shape& in, const Shape& out) {
  std::vector<int64_t> st(out.size(), 0);
  std::vector<int64_t> ist = Strides(in);
  int off = static_cast<int>(out.size() - in.size());
  for (size_t k = 0; k < in.size(); ++k) st[off + k] = in[k] == 1 ? 0 : ist[k];
  return st;
}

// Calls fn(out_index, in_offsets...) for every element of `out`.
void ForEachIndex(const Shape& out, const std::vector<std::vector<int64_t>>& strides,
                  const std::function<void(int64_t, const std::vector<int64_t>&)>& fn) {
  int64_t n = NumElements(out);
  int r = static_cast<int>(out.size());
  std::vector<int64_t> idx(r, 0), off(strides.size(), 0);
  for (int64_t k = 0; k < n; ++k) {
    fn(k, off);
    for (int d = r - 1; d >= 0; --d) {
      ++idx[d];
      for (size_t s = 0; s < strides.size(); ++s) off[s] += strides[s][d];
      if (idx[d] < out[d]) break;
      for (size_t s = 0; s < strides.size(); ++s) off[s] -= strides[s][d] * idx[d];
      idx[d] = 0;
    }
  }
}

std::shared_ptr<Tensor> NewTensor(int dtype, const Shape& shape) {
  if (NumElements(shape) > kMaxFoldElements) Unsup("constant too large to fold");
  auto t = std::make_shared<Tensor>();
  t->dtype = dtype;
  t->shape = shape;
  t->Resize(NumElements(shape));
  return t;
}

double ApplyBinary(const std::string& op, double a, double b, bool is_int) {
  if (op == "Add") return a + b;
  if (op == "Sub") return a - b;
  if (op == "Mul") return a * b;
  if (op == "Div") {
    if (is_int) {
      if (b == 0) Unsup("integer division by zero in a constant");
      return std::trunc(a / b);
    }
    return a / b;
  }
  if (op == "Pow") return std::pow(a, b);
  if (op == "Max") return std::max(a, b);
  if (op == "Min") return std::min(a, b);
  if (op == "Mod") {
    if (b == 0) Unsup("modulo by zero in a constant");
    double m = std::fmod(a, b);
    if (is_int && m != 0 && ((m < 0) != (b < 0))) m += b;
    return m;
  }
  if (op == "Equal") return a == b;
  if (op == "Less") return a < b;
  if (op == "Greater") return a > b;
  if (op == "LessOrEqual") return a <= b;
  if (op == "GreaterOrEqual") return a >= b;
  if (op == "And") return (a != 0) && (b != 0);
  if (op == "Or") return (a != 0) || (b != 0);
  if (op == "Xor") return (a != 0) != (b != 0);
  Unsup("no folding rule");
}

// Unary ops the runtime has (Sigmoid, Tanh, Exp, ...) fold with the runtime's
// reference formula (OnnxUnary); the rest, which occur on shape arithmetic and
// constant tables, with the rules below.
double ApplyUnary(const std::string& op, double x) {
  F32Unary kind;
  if (OnnxUnary(op, &kind)) return F32UnaryEval(kind, x);
  if (op == "Log") return std::log(x);
  if (op == "Cos") return std::cos(x);
  if (op == "Sin") return std::sin(x);
  if (op == "Floor") return std::floor(x);
  if (op == "Ceil") return std::ceil(x);
  if (op == "Round") return std::nearbyint(x);
  if (op == "Relu") return std::max(0.0, x);
  if (op == "Not") return x == 0;
  if (op == "Sign") return (x > 0) - (x < 0);
  if (op == "Identity") return x;
  Unsup("no folding rule");
}

bool IsBinaryOp(const std::string& op) {
  static const char* k[] = {"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Mod", "Equal", "Less",
                            "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor"};
  for (const char* s : k)
    if (op == s) return true;
  return false;
}
bool IsCompareOp(const std::string& op) {
  return op == "Equal" || op == "Less" || op == "Greater" || op == "LessOrEqual" ||
         op == "GreaterOrEqual" || op == "And" || op == "Or" || op == "Xor";
}
bool IsUnaryOp(const std::string& op) {
  static const char* k[] = {"Log", "Cos", "Sin", "Floor", "Ceil", "Round", "Relu", "Not", "Sign", "Identity"};
  for (const char* s : k)
    if (op == s) return true;
  F32Unary kind;
  return OnnxUnary(op, &kind);
}

class Folder {
 public:
  Folder(Graph& g, Node& n) : g_(g), n_(n) {}

  // Returns true when the node was folded into constants.
  bool Run();

 private:
  int In(size_t k) const { return k < n_.in.size() ? n_.in[k] : -1; }
  const Value& V(size_t k) const {
    int v = In(k);
    if (v < 0) Unsup("missing input " + std::to_string(k));
    return g_.values[v];
  }
  const Shape& S(size_t k) const { return V(k).shape; }
  bool C(size_t k) const { return In(k) >= 0 && g_.values[In(k)].c != nullptr; }
  const Tensor& T(size_t k) const {
    if (!C(k)) Unsup("input " + std::to_string(k) + " must be a constant (dynamic shapes are not supported)");
    return *g_.values[In(k)].c;
  }
  bool AllConst() const {
    for (int v : n_.in)
      if (v >= 0 && !g_.values[v].c) return false;
    return true;
  }
  void SetOut(size_t k, int dtype, const Shape& s) {
    if (k >= n_.out.size() || n_.out[k] < 0) return;
    for (int64_t d : s)
      if (d < 0) Unsup("negative output dimension");
    Value& v = g_.values[n_.out[k]];
    v.dtype = dtype;
    v.shape = s;
    v.known = true;
  }
  void SetConst(size_t k, std::shared_ptr<Tensor> t) {
    Value& v = g_.values[n_.out[k]];
    v.dtype = t->dtype;
    v.shape = t->shape;
    v.known = true;
    v.c = std::move(t);
  }
  std::vector<int64_t> Ints(size_t k) const { return ConstInts(g_, In(k)); }

  bool Elementwise();
  bool Shapes();
  bool Layout();
  bool Nn();
  bool Rewritten();

  Graph& g_;
  Node& n_;
};

bool Folder::Elementwise() {
  const std::string& op = n_.op;
  if (IsBinaryOp(op)) {
    bool ok;
    Shape s = BroadcastShapes(S(0), S(1), &ok);
    if (!ok) Fail(kExitConvert, "shape mismatch in " + DescribeNode(g_, n_));
    int dt = IsCompareOp(op) ? kBool : V(0).dtype;
    if (V(0).dtype != V(1).dtype && op != "Pow")
      Fail(kExitConvert, "element type mismatch in " + DescribeNode(g_, n_));
    SetOut(0, dt, s);
    if (!AllConst()) return false;
    auto t = NewTensor(dt, s);
    const Tensor &a = T(0), &b = T(1);
    bool is_int = !a.is_float();
    ForEachIndex(s, {BroadcastStrides(a.shape, s), BroadcastStrides(b.shape, s)},
                 [&](int64_t k, const std::vector<int64_t>& o) {
                   t->Set(k, ApplyBinary(op, a.at(o[0]), b.at(o[1]), is_int));
                 });
    SetConst(0, t);
    return true;
  }
  if (IsUnaryOp(op) || op == "Dropout") {
    int dt = op == "Not" ? kBool : V(0).dtype;
    SetOut(0, dt, S(0));
    if (op == "Dropout" && n_.out.size() > 1) SetOut(1, kBool, S(0));
    if (!AllConst() || op == "Dropout") return false;
    auto t = NewTensor(dt, S(0));
    const Tensor& a = T(0);
    for (int64_t k = 0; k < a.numel(); ++k) t->Set(k, ApplyUnary(op, a.at(k)));
    SetConst(0, t);
    return true;
  }
  if (op == "Cast") {
    int to = static_cast<int>(n_.AttrInt("to", kFloat));
    SetOut(0, to, S(0));
    if (!AllConst()) return false;
    auto t = NewTensor(to, S(0));
    const Tensor& a = T(0);
    for (int64_t k = 0; k < a.numel(); ++k) {
      double x = a.at(k);
      if (to == kBool) x = x != 0;
      t->Set(k, IsFloatType(to) || to == kBool ? x : std::trunc(x));
    }
    SetConst(0, t);
    return true;
  }
  if (op == "Where") {
    bool ok1, ok2;
    Shape s = BroadcastShapes(BroadcastShapes(S(0), S(1), &ok1), S(2), &ok2);
    if (!ok1 || !ok2) Fail(kExitConvert, "shape mismatch in " + DescribeNode(g_, n_));
    SetOut(0, V(1).dtype, s);
    if (!AllConst()) return false;
    auto t = NewTensor(V(1).dtype, s);
    const Tensor &c = T(0), &a = T(1), &b = T(2);
    ForEachIndex(s, {BroadcastStrides(c.shape, s), BroadcastStrides(a.shape, s), BroadcastStrides(b.shape, s)},
                 [&](int64_t k, const std::vector<int64_t>& o) {
                   t->Set(k, c.at(o[0]) != 0 ? a.at(o[1]) : b.at(o[2]));
                 });
    SetConst(0, t);
    return true;
  }
  if (op == "Clip") {
    SetOut(0, V(0).dtype, S(0));
    if (!AllConst()) return false;
    double lo = -INFINITY, hi = INFINITY;
    if (n_.HasAttr("min")) lo = n_.AttrFloat("min", 0);
    if (n_.HasAttr("max")) hi = n_.AttrFloat("max", 0);
    if (C(1)) lo = T(1).at(0);
    if (C(2)) hi = T(2).at(0);
    auto t = NewTensor(V(0).dtype, S(0));
    const Tensor& a = T(0);
    for (int64_t k = 0; k < a.numel(); ++k) t->Set(k, std::min(hi, std::max(lo, a.at(k))));
    SetConst(0, t);
    return true;
  }
  return false;
}

// Ops whose result depends on shapes only, or that build index tensors.
bool Folder::Shapes() {
  const std::string& op = n_.op;
  if (op == "Constant") {
    std::shared_ptr<Tensor> t;
    if (n_.HasAttr("value")) {
      // The attribute's kind comes from the file: it need not hold a tensor.
      const TensorPtr& v = n_.attrs.at("value").t;
      if (!v) Unsup("Constant 'value' is not a tensor");
      t = std::make_shared<Tensor>(*v);
    } else if (n_.HasAttr("value_float")) {
      t = NewTensor(kFloat, {});
      t->f[0] = n_.AttrFloat("value_float", 0);
    } else if (n_.HasAttr("value_floats")) {
      const auto& fl = n_.attrs.at("value_floats").floats;
      t = NewTensor(kFloat, {static_cast<int64_t>(fl.size())});
      t->f = fl;
    } else if (n_.HasAttr("value_int")) {
      t = NewTensor(kInt64, {});
      t->i[0] = n_.AttrInt("value_int", 0);
    } else if (n_.HasAttr("value_ints")) {
      auto iv = n_.AttrInts("value_ints");
      t = NewTensor(kInt64, {static_cast<int64_t>(iv.size())});
      t->i = iv;
    } else {
      Unsup("Constant without a supported value attribute");
    }
    SetConst(0, t);
    return true;
  }
  if (op == "Shape") {
    const Shape& s = S(0);
    int r = static_cast<int>(s.size());
    int64_t start = n_.AttrInt("start", 0), end = n_.AttrInt("end", r);
    if (start < 0) start += r;
    if (end < 0) end += r;
    start = std::max<int64_t>(0, std::min<int64_t>(start, r));
    end = std::max<int64_t>(start, std::min<int64_t>(end, r));
    auto t = NewTensor(kInt64, {end - start});
    for (int64_t k = start; k < end; ++k) t->i[k - start] = s[k];
    SetConst(0, t);
    return true;
  }
  if (op == "Size") {
    auto t = NewTensor(kInt64, {});
    t->i[0] = NumElements(S(0));
    SetConst(0, t);
    return true;
  }
  if (op == "ConstantOfShape") {
    std::vector<int64_t> s = Ints(0);
    int dt = kFloat;
    double val = 0;
    if (n_.HasAttr("value")) {
      const TensorPtr& v = n_.attrs.at("value").t;
      if (!v) Unsup("ConstantOfShape 'value' is not a tensor");
      const Tensor& vt = *v;
      dt = vt.dtype;
      if (vt.numel() > 0) val = vt.at(0);
    }
    for (int64_t d : s)
      if (d < 0) Unsup("ConstantOfShape with a negative dimension");
    auto t = NewTensor(dt, s);
    for (int64_t k = 0; k < t->numel(); ++k) t->Set(k, val);
    SetConst(0, t);
    return true;
  }
  if (op == "Range") {
    const Tensor &st = T(0), &lim = T(1), &d = T(2);
    double a = st.at(0), b = lim.at(0), step = d.at(0);
    if (step == 0) Unsup("Range with zero step");
    int64_t n = std::max<int64_t>(0, static_cast<int64_t>(std::ceil((b - a) / step)));
    auto t = NewTensor(st.dtype, {n});
    for (int64_t k = 0; k < n; ++k) t->Set(k, a + k * step);
    SetConst(0, t);
    return true;
  }
  return false;
}

bool Folder::Layout() {
  const std::string& op = n_.op;
  if (op == "Reshape") {
    std::vector<int64_t> want = Ints(1);
    const Shape& in = S(0);
    bool allowzero = n_.AttrInt("allowzero", 0) != 0;
    Shape out(want.size());
    int infer = -1;
    int64_t known = 1;
    for (size_t k = 0; k < want.size(); ++k) {
      int64_t d = want[k];
      if (d == 0 && !allowzero) {
        if (k >= in.size()) Unsup("Reshape copies a missing dimension");
        d = in[k];
      }
      if (d == -1) {
        if (infer >= 0) Unsup("Reshape with two -1 dims");
        infer = static_cast<int>(k);
        d = 1;
      } else if (d < 0) {
        Unsup("Reshape with a negative dim");
      }
      out[k] = d;
      if (__builtin_mul_overflow(known, d, &known)) Unsup("Reshape target too large");
    }
    if (infer >= 0) {
      if (known == 0 || NumElements(in) % known != 0)
        Fail(kExitConvert, "shape mismatch in " + DescribeNode(g_, n_) + ": cannot reshape " + ShapeStr(in));
      out[infer] = NumElements(in) / known;
    }
    if (NumElements(out) != NumElements(in))
      Fail(kExitConvert, "shape mismatch in " + DescribeNode(g_, n_) + ": cannot reshape " + ShapeStr(in) +
                             " to " + ShapeStr(out));
    SetOut(0, V(0).dtype, out);
    if (!C(0)) return false;
    auto t = std::make_shared<Tensor>(T(0));
    t->shape = out;
    SetConst(0, t);
    return true;
  }
  if (op == "Flatten" || op == "Squeeze" || op == "Unsqueeze") {
    const Shape& in = S(0);
    int r = static_cast<int>(in.size());
    Shape out;
    if (op == "Flatten") {
      int axis = NormAxis(n_.AttrInt("axis", 1), r + 1);
      int64_t a = 1, b = 1;
      for (int k = 0; k < r; ++k) (k < axis ? a : b) *= in[k];
      out = {a, b};
    } else {
      std::vector<int64_t> axes = n_.HasAttr("axes") ? n_.AttrInts("axes") : (In(1) >= 0 ? Ints(1) : std::vector<int64_t>());
      if (op == "Squeeze") {
        std::vector<char> drop(r, 0);
        if (axes.empty()) {
          for (int k = 0; k < r; ++k) drop[k] = in[k] == 1;
        } else {
          for (int64_t a : axes) {
            int k = NormAxis(a, r);
            if (k >= r) Unsup("Squeeze of a scalar");
            if (in[k] != 1) Fail(kExitConvert, "shape mismatch in " + DescribeNode(g_, n_) + ": squeezing a dim of size " + std::to_string(in[k]));
            drop[k] = 1;
          }
        }
        for (int k = 0; k < r; ++k)
          if (!drop[k]) out.push_back(in[k]);
      } else {
        int ro = r + static_cast<int>(axes.size());
        std::vector<char> ins(ro, 0);
        for (int64_t a : axes) {
          int k = NormAxis(a, ro);
          // A repeated axis would leave fewer new dims than `axes` claims.
          if (ins[k]) Unsup("Unsqueeze with a repeated axis");
          ins[k] = 1;
        }
        int src = 0;
        for (int k = 0; k < ro; ++k) out.push_back(ins[k] ? 1 : in[src++]);
      }
    }
    SetOut(0, V(0).dtype, out);
    if (!C(0)) return false;
    auto t = std::make_shared<Tensor>(T(0));
    t->shape = out;
    SetConst(0, t);
    return true;
  }
  if (op == "Transpose") {
    const Shape& in = S(0);
    int r = static_cast<int>(in.size());
    std::vector<int64_t> perm = n_.AttrInts("perm");
    if (perm.empty())
      for (int k = r - 1; k >= 0; --k) perm.push_back(k);
    if (static_cast<int>(perm.size()) != r) Unsup("Transpose perm does not match the rank");
    std::vector<char> seen(r, 0);
    Shape out(r);
    for (int k = 0; k < r; ++k) {
      int p = NormAxis(perm[k], r);
      if (seen[p]) Unsup("Transpose perm is not a permutation");
      seen[p] = 1;
      perm[k] = p;  // read below (and by Canonicalize) as an index
      out[k] = in[p];
    }
    SetOut(0, V(0).dtype, out);
    if (!C(0)) return false;
    const Tensor& a = T(0);
    auto t = NewTensor(a.dtype, out);
    std::vector<int64_t> ist = Strides(in), st(r);
    for (int k = 0; k < r; ++k) st[k] = ist[perm[k]];
    ForEachIndex(out, {st}, [&](int64_t k, const std::vector<int64_t>& o) { t->Set(k, a.at(o[0])); });
    SetConst(0, t);
    return true;
  }
  if (op == "Concat") {
    int r = static_cast<int>(S(0).size());
    int axis = NormAxis(n_.AttrInt("axis", 0), r);
    Shape out = S(0);
    out[axis] = 0;
    int dt = V(0).dtype;
    for (size_t k = 0; k < n_.in.size(); ++k) {
      const Shape& s = S(k);
      if (static_cast<int>(s.size()) != r) Fail(kExitConvert, "rank mismatch in " + DescribeNode(g_, n_));
      for (int d = 0; d < r; ++d)
        if (d != axis && s[d] != out[d]) Fail(kExitConvert, "shape mismatch in " + DescribeNode(g_, n_));
      out[axis] += s[axis];
    }
    SetOut(0, dt, out);
    if (!AllConst()) return false;
    auto t = NewTensor(dt, out);
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; ++d) outer *= out[d];
    for (int d = axis + 1; d < r; ++d) inner *= out[d];
    int64_t dst_row = out[axis] * inner, off = 0;
    for (size_t k = 0; k < n_.in.size(); ++k) {
      const Tensor& a = T(k);
      int64_t row = a.shape[axis] * inner;
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t e = 0; e < row; ++e) t->Set(o * dst_row + off + e, a.at(o * row + e));
      off += row;
    }
    SetConst(0, t);
    return true;
  }
  if (op == "Split") {
    const Shape& in = S(0);
    int r = static_cast<int>(in.size());
    int axis = NormAxis(n_.AttrInt("axis", 0), r);
    std::vector<int64_t> sizes;
    if (In(1) >= 0) sizes = Ints(1);
    else if (n_.HasAttr("split")) sizes = n_.AttrInts("split");
    int n_out = static_cast<int>(n_.out.size());
    if (sizes.empty()) {
      int64_t parts = n_.HasAttr("num_outputs") ? n_.AttrInt("num_outputs", n_out) : n_out;
      int64_t each = (in[axis] + parts - 1) / parts;
      for (int64_t k = 0; k < parts; ++k) sizes.push_back(std::min(each, in[axis] - k * each));
    }
    int64_t total = 0;
    for (int64_t s : sizes) total += s;
    if (total != in[axis] || static_cast<int>(sizes.size()) != n_out)
      Fail(kExitConvert, "shape mismatch in " + DescribeNode(g_, n_) + ": split sizes do not cover the axis");
    int64_t start = 0;
    bool c = C(0);
    for (int k = 0; k < n_out; ++k) {
      Shape s = in;
      s[axis] = sizes[k];
      SetOut(k, V(0).dtype, s);
      if (c && n_.out[k] >= 0) {
        const Tensor& a = T(0);
        auto t = NewTensor(a.dtype, s);
        int64_t outer = 1, inner = 1;
        for (int d = 0; d < axis; ++d) outer *= in[d];
        for (int d = axis + 1; d < r; ++d) inner *= in[d];
        int64_t row = sizes[k] * inner;
        for (int64_t o = 0; o < outer; ++o)
          for (int64_t e = 0; e < row; ++e) t->Set(o * row + e, a.at(o * in[axis] * inner + start * inner + e));
        SetConst(k, t);
      }
      start += sizes[k];
    }
    return c;
  }
  if (op == "Slice") {
    const Shape& in = S(0);
    int r = static_cast<int>(in.size());
    std::vector<int64_t> starts, ends, axes, steps;
    if (g_.opset < 10) {
      starts = n_.AttrInts("starts");
      ends = n_.AttrInts("ends");
      axes = n_.AttrInts("axes");
    } else {
      starts = Ints(1);
      ends = Ints(2);
      if (In(3) >= 0) axes = Ints(3);
      if (In(4) >= 0) steps = Ints(4);
    }
    if (axes.empty())
      for (size_t k = 0; k < starts.size(); ++k) axes.push_back(static_cast<int64_t>(k));
    if (steps.empty()) steps.assign(starts.size(), 1);
    if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
      Unsup("Slice with inconsistent starts/ends/axes/steps");
    std::vector<int64_t> st(r, 0), sp(r, 1);
    Shape out = in;
    for (size_t k = 0; k < starts.size(); ++k) {
      int a = NormAxis(axes[k], r);
      int64_t dim = in[a], s = starts[k], e = ends[k], step = steps[k];
      if (step == 0) Unsup("Slice with zero step");
      if (s < 0) s += dim;
      if (e < 0 && e > INT64_MIN / 2) e += dim;
      // Counts written so that no step (up to INT64_MIN/MAX) overflows.
      int64_t mag = step > 0 ? step : step == INT64_MIN ? INT64_MAX : -step;
      if (step > 0) {
        s = std::max<int64_t>(0, std::min(s, dim));
        e = std::max<int64_t>(0, std::min(e, dim));
        out[a] = e > s ? (e - s - 1) / mag + 1 : 0;
      } else {
        s = std::max<int64_t>(-1, std::min(s, dim - 1));
        e = std::max<int64_t>(-1, std::min(e, dim - 1));
        out[a] = s > e ? (s - e - 1) / mag + 1 : 0;
      }
      st[a] = s;
      // With at most one element taken the step is irrelevant; a unit step keeps
      // the strides computed from it (here and in the kernel) in range.
      sp[a] = out[a] > 1 ? step : 1;
    }
    SetOut(0, V(0).dtype, out);
    // Remember the normalized form for lowering.
    Attr as, ap;
    as.kind = ap.kind = Attr::kInts;
    as.ints = st;
    ap.ints = sp;
    n_.attrs["_starts"] = as;
    n_.attrs["_steps"] = ap;
    if (!C(0)) return false;
    const Tensor& a = T(0);
    auto t = NewTensor(a.dtype, out);
    std::vector<int64_t> ist = Strides(in), ost(r);
    int64_t base = 0;
    for (int k = 0; k < r; ++k) {
      ost[k] = ist[k] * sp[k];
      base += st[k] * ist[k];
    }
    ForEachIndex(out, {ost}, [&](int64_t k, const std::vector<int64_t>& o) { t->Set(k, a.at(base + o[0])); });
    SetConst(0, t);
    return true;
  }
  if (op == "Gather") {
    const Shape& in = S(0);
    int r = static_cast<int>(in.size());
    int axis = NormAxis(n_.AttrInt("axis", 0), r);
    const Shape& is = S(1);
    Shape out(in.begin(), in.begin() + axis);
    out.insert(out.end(), is.begin(), is.end());
    out.insert(out.end(), in.begin() + axis + 1, in.end());
    SetOut(0, V(0).dtype, out);
    if (!AllConst()) return false;
    const Tensor &a = T(0), &idx = T(1);
    auto t = NewTensor(a.dtype, out);
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; ++d) outer *= in[d];
    for (int d = axis + 1; d < r; ++d) inner *= in[d];
    int64_t ni = idx.numel(), k = 0;
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t j = 0; j < ni; ++j) {
        int64_t x = idx.i[j];
        if (x < 0) x += in[axis];
        if (x < 0 || x >= in[axis]) Fail(kExitConvert, "index out of range in " + DescribeNode(g_, n_));
        for (int64_t e = 0; e < inner; ++e) t->Set(k++, a.at((o * in[axis] + x) * inner + e));
      }
    SetConst(0, t);
    return true;
  }
  if (op == "Expand" || op == "Tile") {
    const Shape& in = S(0);
    std::vector<int64_t> arg = Ints(1);
    Shape out;
    if (op == "Expand") {
      bool ok;
      out = BroadcastShapes(in, arg, &ok);
      if (!ok) Fail(kExitConvert, "shape mismatch in " + DescribeNode(g_, n_));
    } else {
      if (arg.size() != in.size()) Unsup("Tile repeats do not match the rank");
      for (size_t k = 0; k < in.size(); ++k) out.push_back(in[k] * arg[k]);
    }
    SetOut(0, V(0).dtype, out);
    if (!C(0)) return false;
    const Tensor& a = T(0);
    auto t = NewTensor(a.dtype, out);
    if (op == "Expand") {
      ForEachIndex(out, {BroadcastStrides(in, out)}, [&](int64_t k, const std::vector<int64_t>& o) { t->Set(k, a.at(o[0])); });
    } else {
      std::vector<int64_t> ist = Strides(in), ost = Strides(out);
      for (int64_t k = 0; k < t->numel(); ++k) {
        int64_t rem = k, src = 0;
        for (size_t d = 0; d < out.size(); ++d) {
          int64_t i = rem / ost[d];
          rem %= ost[d];
          src += (i % in[d]) * ist[d];
        }
        t->Set(k, a.at(src));
      }
    }
    SetConst(0, t);
    return true;
  }
  if (op.rfind("Reduce", 0) == 0) {
    const Shape& in = S(0);
    int r = static_cast<int>(in.size());
    std::vector<int64_t> axes = n_.HasAttr("axes") ? n_.AttrInts("axes") : (In(1) >= 0 ? Ints(1) : std::vector<int64_t>());
    bool keep = n_.AttrInt("keepdims", 1) != 0;
    if (axes.empty() && n_.AttrInt("noop_with_empty_axes", 0)) {
      SetOut(0, V(0).dtype, in);
      return false;
    }
    std::vector<char> red(r, axes.empty() ? 1 : 0);
    for (int64_t a : axes) red[NormAxis(a, r)] = 1;
    Shape out, kept;
    for (int k = 0; k < r; ++k) {
      kept.push_back(red[k] ? 1 : in[k]);
      if (!red[k]) out.push_back(in[k]);
      else if (keep) out.push_back(1);
    }
    Attr ra;
    ra.kind = Attr::kInts;
    for (int k = 0; k < r; ++k)
      if (red[k]) ra.ints.push_back(k);
    n_.attrs["_axes"] = ra;
    SetOut(0, V(0).dtype, out);
    if (!AllConst()) return false;
    if (op != "ReduceMean" && op != "ReduceSum" && op != "ReduceMax" && op != "ReduceMin" && op != "ReduceProd")
      return false;
    const Tensor& a = T(0);
    auto t = NewTensor(a.dtype, out);
    int64_t n = t->numel();
    std::vector<double> acc(n, op == "ReduceMax" ? -INFINITY : op == "ReduceMin" ? INFINITY : op == "ReduceProd" ? 1 : 0);
    std::vector<int64_t> kst = BroadcastStrides(kept, in);  // map input index -> reduced index
    int64_t cnt = NumElements(in) / std::max<int64_t>(1, n);
    ForEachIndex(in, {kst}, [&](int64_t k, const std::vector<int64_t>& o) {
      double x = a.at(k);
      double& s = acc[o[0]];
      if (op == "ReduceMax") s = std::max(s, x);
      else if (op == "ReduceMin") s = std::min(s, x);
      else if (op == "ReduceProd") s *= x;
      else s += x;
    });
    for (int64_t k = 0; k < n; ++k) t->Set(k, op == "ReduceMean" ? acc[k] / cnt : acc[k]);
    SetConst(0, t);
    return true;
  }
  return false;
}

// Compute ops: shapes only (never folded here).
bool Folder::Nn() {
  const std::string& op = n_.op;
  auto mismatch = [&](const std::string& what) {
    std::string ins;
    for (size_t k = 0; k < n_.in.size(); ++k)
      if (In(k) >= 0) ins += (k ? " " : "") + ShapeStr(S(k));
    Fail(kExitConvert, "shape mismatch in " + DescribeNode(g_, n_) + ": " + what);
  };
  if (op == "MatMul") {
    Shape a = S(0), b = S(1);
    if (a.empty() || b.empty()) mismatch("scalar operand");
    bool va = a.size() == 1, vb = b.size() == 1;
    if (va) a.insert(a.begin(), 1);
    if (vb) b.push_back(1);
    if (a.back() != b[b.size() - 2]) mismatch("inner dims differ");
    bool ok;
    Shape ba(a.begin(), a.end() - 2), bb(b.begin(), b.end() - 2);
    Shape out = BroadcastShapes(ba, bb, &ok);
    if (!ok) mismatch("batch dims do not broadcast");
    if (!va) out.push_back(a[a.size() - 2]);
    if (!vb) out.push_back(b.back());
    SetOut(0, V(0).dtype, out);
    return false;
  }
  if (op == "Gemm") {
    const Shape &a = S(0), &b = S(1);
    if (a.size() != 2 || b.size() != 2) mismatch("Gemm needs 2-D operands");
    bool ta = n_.AttrInt("transA", 0), tb = n_.AttrInt("transB", 0);
    int64_t m = ta ? a[1] : a[0], k = ta ? a[0] : a[1];
    int64_t k2 = tb ? b[1] : b[0], nn = tb ? b[0] : b[1];
    if (k != k2) mismatch("inner dims differ");
    SetOut(0, V(0).dtype, {m, nn});
    return false;
  }
  if (op == "Conv") {
    const Shape &x = S(0), &w = S(1);
    if (x.size() != 4 || w.size() != 4) Unsup("only 2-D convolutions are supported");
    std::string ap = n_.AttrString("auto_pad", "NOTSET");
    if (ap != "NOTSET" && ap != "VALID") Unsup("Conv auto_pad " + ap);
    std::vector<int64_t> pads = n_.AttrInts("pads"), strides = n_.AttrInts("strides"), dil = n_.AttrInts("dilations");
    if (pads.empty()) pads = {0, 0, 0, 0};
    if (strides.empty()) strides = {1, 1};
    if (dil.empty()) dil = {1, 1};
    // Attributes come from the file: lengths and ranges are checked before
    // they index or divide (fuzz_onnx found a 1-element 'dilations').
    if (pads.size() != 4 || strides.size() != 2 || dil.size() != 2)
      mismatch("pads, strides and dilations need 4, 2 and 2 values");
    for (int d = 0; d < 4; ++d)
      if (pads[d] < 0 || pads[d] > (int64_t(1) << 20)) mismatch("pad out of range");
    for (int d = 0; d < 2; ++d)
      if (strides[d] < 1 || dil[d] < 1 || strides[d] > (int64_t(1) << 20) || dil[d] > (int64_t(1) << 20))
        mismatch("stride or dilation out of range");
    int64_t groups = n_.AttrInt("group", 1);
    if (groups < 1 || groups > x[1]) mismatch("group count out of range");
    if (x[1] != w[1] * groups) mismatch("channels do not match the weight");
    Shape out = {x[0], w[0], 0, 0};
    for (int d = 0; d < 2; ++d) {
      int64_t span = dil[d] * (w[2 + d] - 1) + 1;
      int64_t len = x[2 + d] + pads[d] + pads[d + 2] - span;
      if (len < 0) mismatch("kernel larger than the input");
      out[2 + d] = len / strides[d] + 1;
    }
    SetOut(0, V(0).dtype, out);
    return false;
  }
  if (op == "Softmax" || op == "Gelu" || op == "LogSoftmax") {
    SetOut(0, V(0).dtype, S(0));
    return false;
  }
  if (op == "LayerNormalization") {
    const Shape& x = S(0);
    int axis = NormAxis(n_.AttrInt("axis", -1), static_cast<int>(x.size()));
    SetOut(0, V(0).dtype, x);
    Shape st = x;
    for (size_t k = axis; k < x.size(); ++k) st[k] = 1;
    SetOut(1, kFloat, st);
    SetOut(2, kFloat, st);
    return false;
  }
  if (op == "Einsum") {
    // Only single-operand permutations ("nhwpqc->nchpwq"): a Transpose.
    std::string eq;
    for (char ch : n_.AttrString("equation")) if (ch != ' ') eq += ch;
    size_t arrow = eq.find("->");
    if (n_.in.size() != 1 || arrow == std::string::npos) Unsup("Einsum other than a single-input permutation");
    std::string lhs = eq.substr(0, arrow), rhs = eq.substr(arrow + 2);
    const Shape& in = S(0);
    if (lhs.size() != in.size() || rhs.size() != lhs.size()) Unsup("Einsum other than a single-input permutation");
    std::vector<int64_t> perm;
    for (char ch : rhs) {
      size_t p = lhs.find(ch);
      if (p == std::string::npos || lhs.find(ch, p + 1) != std::string::npos) Unsup("Einsum other than a permutation");
      perm.push_back(static_cast<int64_t>(p));
    }
    // Becomes a Transpose.
    n_.op = "Transpose";
    n_.attrs.clear();
    Attr a;
    a.kind = Attr::kInts;
    a.ints = perm;
    n_.attrs["perm"] = a;
    return Layout();
  }
  return false;
}

// Ops that converter/rewrite_ops.cc turns into edge ops after inference:
// shapes here, and only the forms that pass handles (anything else is
// reported now, with the reason).
bool Folder::Rewritten() {
  const std::string& op = n_.op;
  if (op == "ScatterND") {
    if (n_.AttrString("reduction", "none") != "none") Unsup("ScatterND with a reduction");
    const Shape &d = S(0), &i = S(1), &u = S(2);
    if (!C(1)) Unsup("ScatterND with computed indices");
    if (i.empty() || i.back() < 1 || i.back() > static_cast<int64_t>(d.size()))
      Fail(kExitConvert, "shape mismatch in " + DescribeNode(g_, n_));
    Shape want(i.begin(), i.end() - 1);
    want.insert(want.end(), d.begin() + i.back(), d.end());
    if (u != want) Fail(kExitConvert, "shape mismatch in " + DescribeNode(g_, n_) + ": updates do not fit");
    if (V(0).dtype != V(2).dtype) Fail(kExitConvert, "element type mismatch in " + DescribeNode(g_, n_));
    SetOut(0, V(0).dtype, d);
    if (!AllConst()) return false;
    const Tensor &data = T(0), &idx = T(1), &upd = T(2);
    auto t = NewTensor(data.dtype, d);
    for (int64_t e = 0; e < data.numel(); ++e) t->Set(e, data.at(e));
    int64_t k = i.back(), row = 1, tuples = NumElements(Shape(i.begin(), i.end() - 1));
    for (size_t x = k; x < d.size(); ++x) row *= d[x];
    std::vector<int64_t> st = Strides(d);
    for (int64_t tu = 0; tu < tuples; ++tu) {
      int64_t base = 0;
      for (int64_t x = 0; x < k; ++x) {
        int64_t v = idx.i[tu * k + x];
        if (v < 0) v += d[x];
        if (v < 0 || v >= d[x]) Fail(kExitConvert, "index out of range in " + DescribeNode(g_, n_));
        base += v * st[x];
      }
      for (int64_t e = 0; e < row; ++e) t->Set(base + e, upd.at(tu * row + e));
    }
    SetConst(0, t);
    return true;
  }
  if (op == "InstanceNormalization") {
    const Shape& x = S(0);
    if (x.size() < 3) Unsup("InstanceNormalization of rank < 3");
    if (!C(1) || !C(2) || T(1).numel() != x[1] || T(2).numel() != x[1] || !T(1).is_float() || !T(2).is_float())
      Unsup("InstanceNormalization with computed or mis-sized scale/bias");
    SetOut(0, V(0).dtype, x);
    return false;
  }
  if (op == "Pad") {
    // No edge op: inferred only so that the nodes after it are checked too
    // (a causal Conv3d after its frame padding gets its own reason), then
    // listed as having no edge op.
    const Shape& x = S(0);
    if (In(1) < 0 || !C(1) || In(3) >= 0) Unsup("Pad with computed pads or with axes");
    std::vector<int64_t> pads = Ints(1);
    if (pads.size() != 2 * x.size()) Unsup("Pad pads do not match the rank");
    Shape out = x;
    for (size_t k = 0; k < x.size(); ++k) {
      if (pads[k] < 0 || pads[k + x.size()] < 0) Unsup("Pad with negative pads (cropping)");
      out[k] += pads[k] + pads[k + x.size()];
    }
    SetOut(0, V(0).dtype, out);
    return false;
  }
  if (op == "Resize") {
    // Nearest-neighbour upsampling by integer factors (what F.interpolate(
    // scale_factor=k, mode="nearest") exports): each output pixel copies
    // input pixel floor(out / k), for both coordinate modes the exporters use.
    const Shape& x = S(0);
    std::string mode = n_.AttrString("mode", "nearest");
    std::string ct = n_.AttrString("coordinate_transformation_mode", "half_pixel");
    std::string nm = n_.AttrString("nearest_mode", "round_prefer_floor");
    if (mode != "nearest") Unsup("Resize mode '" + mode + "' (only nearest)");
    bool floor_ok = (ct == "asymmetric" && nm == "floor") ||
                    ((ct == "half_pixel" || ct == "pytorch_half_pixel") && nm == "round_prefer_floor");
    if (!floor_ok) Unsup("Resize nearest with coordinate mode '" + ct + "' / '" + nm + "'");
    if (n_.AttrInt("antialias", 0) != 0 || n_.HasAttr("axes")) Unsup("Resize with antialias or axes");
    Shape out;
    if (In(3) >= 0 && C(3) && T(3).numel() > 0) {
      out = Ints(3);
    } else if (In(2) >= 0 && C(2) && T(2).numel() > 0) {
      const Tensor& sc = T(2);
      if (sc.numel() != static_cast<int64_t>(x.size())) Unsup("Resize scales do not match the rank");
      for (size_t k = 0; k < x.size(); ++k) {
        double f = sc.at(k);
        if (f < 1 || f > 64 || f != std::floor(f)) Unsup("Resize by a non-integer or shrinking factor");
        out.push_back(x[k] * static_cast<int64_t>(f));
      }
    } else {
      Unsup("Resize without constant scales or sizes");
    }
    if (out.size() != x.size()) Unsup("Resize sizes do not match the rank");
    for (size_t k = 0; k < x.size(); ++k)
      if (x[k] < 1 || out[k] < x[k] || out[k] % x[k] != 0 || out[k] / x[k] > 64 || (k < 2 && out[k] != x[k]))
        Unsup("Resize other than integer upsampling of the spatial axes");
    SetOut(0, V(0).dtype, out);
    return false;
  }
  // 3-D convolution with a temporal kernel of 1 (Wan's patch embedding): a
  // 2-D convolution per frame.
  const Shape &x = S(0), &w = S(1);
  if (w.size() != 5 || !C(1)) Unsup("3-D convolution with a computed or non-5-D weight");
  std::string ap = n_.AttrString("auto_pad", "NOTSET");
  if (ap != "NOTSET" && ap != "VALID") Unsup("Conv auto_pad " + ap);
  std::vector<int64_t> pads = n_.AttrInts("pads"), strides = n_.AttrInts("strides"), dil = n_.AttrInts("dilations");
  if (pads.empty()) pads.assign(6, 0);
  if (strides.empty()) strides.assign(3, 1);
  if (dil.empty()) dil.assign(3, 1);
  if (pads.size() != 6 || strides.size() != 3 || dil.size() != 3) Unsup("Conv attributes do not match the rank");
  // A video VAE's causal Conv3d (temporal kernel 3 after a front Pad of the
  // frames) needs a 3-D convolution kernel, which edge does not have.
  if (w[2] != 1 || strides[0] != 1 || pads[0] != 0 || pads[3] != 0 || dil[0] != 1)
    Unsup("temporal kernel " + std::to_string(w[2]) + ": edge has no 3-D convolution; only a per-frame 2-D one "
          "runs (temporal kernel 1, stride 1, no temporal padding)");
  int64_t groups = n_.AttrInt("group", 1);
  if (groups < 1 || x[1] != w[1] * groups) Fail(kExitConvert, "shape mismatch in " + DescribeNode(g_, n_));
  Shape out = {x[0], w[0], x[2], 0, 0};
  for (int d = 0; d < 2; ++d) {
    int64_t span = dil[d + 1] * (w[3 + d] - 1) + 1;
    int64_t len = x[3 + d] + pads[d + 1] + pads[d + 4] - span;
    if (len < 0 || strides[d + 1] < 1) Fail(kExitConvert, "shape mismatch in " + DescribeNode(g_, n_));
    out[3 + d] = len / strides[d + 1] + 1;
  }
  SetOut(0, V(0).dtype, out);
  return false;
}

bool Folder::Run() {
  if (!n_.domain.empty()) Unsup("custom domain '" + n_.domain + "'");
  for (const auto& kv : n_.attrs)
    if (kv.second.kind == Attr::kNone) Unsup("attribute '" + kv.first + "' (subgraph) not supported");
  const std::string& op = n_.op;
  if (op == "Constant" || op == "Shape" || op == "Size" || op == "ConstantOfShape" || op == "Range")
    return Shapes();
  if (IsBinaryOp(op) || IsUnaryOp(op) || op == "Cast" || op == "Where" || op == "Clip" || op == "Dropout")
    return Elementwise();
  if (op == "Reshape" || op == "Flatten" || op == "Squeeze" || op == "Unsqueeze" || op == "Transpose" ||
      op == "Concat" || op == "Split" || op == "Slice" || op == "Gather" || op == "Expand" || op == "Tile" ||
      op.rfind("Reduce", 0) == 0)
    return Layout();
  if (op == "ScatterND" || op == "InstanceNormalization" || op == "Resize" || op == "Pad" ||
      (op == "Conv" && In(0) >= 0 && g_.rank(In(0)) == 5))
    return Rewritten();
  if (op == "MatMul" || op == "Gemm" || op == "Conv" || op == "Softmax" || op == "Gelu" ||
      op == "LayerNormalization" || op == "Einsum" || op == "LogSoftmax")
    return Nn();
  Unsup("no rule for this op type");
}

}  // namespace

std::vector<int64_t> ConstInts(const Graph& g, int v) {
  const Tensor* t = g.Const(v);
  if (!t) Unsup("input must be a constant (dynamic shapes are not supported)");
  std::vector<int64_t> r(t->numel());
  for (int64_t k = 0; k < t->numel(); ++k) r[k] = t->is_float() ? static_cast<int64_t>(t->f[k]) : t->i[k];
  return r;
}

Shape BroadcastShapes(const Shape& a, const Shape& b, bool* ok) {
  *ok = true;
  size_t r = std::max(a.size(), b.size());
  Shape out(r);
  for (size_t k = 0; k < r; ++k) {
    int64_t da = k < r - a.size() ? 1 : a[k - (r - a.size())];
    int64_t db = k < r - b.size() ? 1 : b[k - (r - b.size())];
    if (da != db && da != 1 && db != 1) *ok = false;
    out[k] = da == 1 ? db : da;
  }
  return out;
}

std::string DescribeNode(const Graph& g, const Node& n) {
  std::ostringstream o;
  o << (n.edge ? EdgeOpName(n.etype) : n.op) << " '" << n.name << "' inputs ";
  for (size_t k = 0; k < n.in.size(); ++k) {
    if (k) o << ", ";
    int v = n.in[k];
    if (v < 0) { o << "-"; continue; }
    const Value& val = g.values[v];
    if (val.known) o << ShapeStr(val.shape) << ElemTypeName(val.dtype) << (val.c ? " const" : "");
    else o << "?";
  }
  if (n.in.empty()) o << "none";
  return o.str();
}

void BindInputShapes(Graph& g, const std::map<std::string, Shape>& shapes) {
  for (const auto& kv : shapes) {
    bool found = false;
    for (int i : g.inputs)
      if (g.values[i].name == kv.first) {
        Value& v = g.values[i];
        if (v.known && v.shape.size() != kv.second.size())
          Fail(kExitUsage, "--input " + kv.first + ": rank " + std::to_string(kv.second.size()) +
                               " but the model declares " + ShapeStr(v.shape));
        for (size_t k = 0; k < v.shape.size(); ++k)
          if (v.shape[k] >= 0 && v.shape[k] != kv.second[k])
            Fail(kExitUsage, "--input " + kv.first + ": shape " + ShapeStr(kv.second) +
                                 " contradicts the model's " + ShapeStr(v.shape));
        v.shape = kv.second;
        v.known = true;
        found = true;
      }
    if (!found) Fail(kExitUsage, "--input names '" + kv.first + "', which is not a model input");
  }
  for (int i : g.inputs) {
    Value& v = g.values[i];
    if (!v.known) Fail(kExitBadModel, "input '" + v.name + "' has no tensor type");
    for (int64_t d : v.shape)
      if (d < 0)
        Fail(kExitUsage, "input '" + v.name + "' has dynamic shape " + ShapeStr(v.shape) +
                             "; fix it with --input " + v.name + ":AxBx...");
  }
}

void InferNode(Graph& g, int idx) {
  Node& n = g.nodes[idx];
  try {
    Folder f(g, n);
    if (f.Run()) n.dead = true;
  } catch (const Unsupported& e) {
    Fail(kExitConvert, "cannot infer " + DescribeNode(g, n) + ": " + e.what());
  }
  g.Touch();
}

void InferAndFold(Graph& g, std::vector<std::pair<int, std::string>>* unsupported) {
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    Node& n = g.nodes[k];
    if (n.dead) continue;
    bool ready = true;
    for (int v : n.in)
      if (v >= 0 && !g.values[v].known) ready = false;
    if (!ready) continue;  // downstream of an unsupported node
    try {
      Folder f(g, n);
      if (f.Run()) n.dead = true;
    } catch (const Unsupported& e) {
      unsupported->push_back({static_cast<int>(k), DescribeNode(g, n) + " (" + e.what() + ")"});
    }
  }
  g.Touch();
}

}  // namespace conv
}  // namespace edge
