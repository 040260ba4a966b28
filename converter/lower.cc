// Lowering: every ONNX node left after fusion maps 1:1 to an edge op, or is
// reported. All unsupported nodes are collected so the user sees them at once.
#include <cmath>

#include "converter/fold.h"
#include "converter/onnx_unary.h"
#include "converter/passes.h"
#include "runtime/op_traits.h"

namespace edge {
namespace conv {
namespace {

// The Unary kind of an ONNX unary op type (ops/f32_activation.h's table).
bool UnaryKindOf(const std::string& op, fb::UnaryKind* k) {
  F32Unary f;
  return OnnxUnary(op, &f) && UnaryKindOfF32(f, k);
}

bool AllFloat(Graph& g, const Node& n) {
  for (int v : n.in)
    if (v >= 0 && !IsFloatType(g.values[v].dtype)) return false;
  for (int v : n.out)
    if (v >= 0 && !IsFloatType(g.values[v].dtype)) return false;
  return true;
}

void Become(Node& n, fb::OpType t) {
  n.edge = true;
  n.etype = t;
  n.op = EdgeOpName(t);
}

// Returns false when the node has no edge equivalent.
bool LowerNode(Graph& g, int k) {
  Node& n = g.nodes[k];
  const std::string op = n.op;
  // A node missing an input its op needs has no edge equivalent (reported).
  if (!HasArity(n, MinInputs(n))) return false;
  int r = g.rank(n.in[0]);
  if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div") {
    if (!AllFloat(g, n)) return false;
    Become(n, op == "Add" ? fb::OpType::Add : op == "Sub" ? fb::OpType::Sub : op == "Mul" ? fb::OpType::Mul : fb::OpType::Div);
    return true;
  }
  if (op == "Pow") {
    double e;
    if (!AllFloat(g, n) || !ScalarConst(g, n.in[1], &e)) return false;
    if (e == 2.0) {
      n.in[1] = n.in[0];
      Become(n, fb::OpType::Mul);
      return true;
    }
    if (e == 0.5 || e == -0.5 || e == -1.0) {
      n.in.resize(1);
      n.ea.unary = e == 0.5 ? fb::UnaryKind::Sqrt : e == -0.5 ? fb::UnaryKind::Rsqrt : fb::UnaryKind::Reciprocal;
      Become(n, fb::OpType::Unary);
      return true;
    }
    if (e == 1.0) {
      n.in.resize(1);
      Become(n, fb::OpType::Copy);
      return true;
    }
    return false;
  }
  fb::UnaryKind uk;
  if (UnaryKindOf(op, &uk)) {
    if (!AllFloat(g, n)) return false;
    n.ea.unary = uk;
    Become(n, fb::OpType::Unary);
    return true;
  }
  if (op == "Softmax") {
    if (!AllFloat(g, n)) return false;
    n.ea.axis = NormalizeAxis(n.AttrInt("axis", -1), r);
    Become(n, fb::OpType::Softmax);
    return true;
  }
  if (op == "Concat") {
    n.ea.axis = NormalizeAxis(n.AttrInt("axis", 0), r);
    Become(n, fb::OpType::Concat);
    return true;
  }
  if (op == "Split") {
    n.ea.axis = NormalizeAxis(n.AttrInt("axis", 0), r);
    n.in.resize(1);
    Become(n, fb::OpType::Split);
    return true;
  }
  if (op == "Slice") {
    auto st = n.attrs.find("_starts"), sp = n.attrs.find("_steps");
    if (st == n.attrs.end() || sp == n.attrs.end()) return false;
    n.ea.starts = st->second.ints;
    n.ea.steps = sp->second.ints;
    n.in.resize(1);
    Become(n, fb::OpType::Slice);
    return true;
  }
  if (op == "Gather") {
    // A constant index into an activation: a Slice (plus a Reshape for a scalar index).
    const Tensor* idx = g.Const(n.in[1]);
    if (!idx || idx->is_float() || idx->numel() != 1 || idx->i.size() != 1 || g.IsConst(n.in[0]) || r < 1)
      return false;
    int axis = NormalizeAxis(n.AttrInt("axis", 0), r);
    int64_t i = idx->i[0] < 0 ? idx->i[0] + g.shape(n.in[0])[axis] : idx->i[0];
    if (i < 0 || i >= g.shape(n.in[0])[axis]) return false;
    Shape s = g.shape(n.in[0]);
    s[axis] = 1;
    OpAttrs a;
    a.starts.assign(r, 0);
    a.steps.assign(r, 1);
    a.starts[axis] = i;
    int x = n.in[0], out = n.out[0];
    std::string name = n.name;
    if (s == g.shape(out)) {
      n.ea = a;
      n.in.resize(1);
      Become(n, fb::OpType::Slice);
      return true;
    }
    int mid = NewValue(g, g.values[out].name + "/slice", g.values[x].dtype, s);
    g.nodes[k].dead = true;
    AddEdge(g, fb::OpType::Slice, name, {x}, {mid}, a, k);
    AddEdge(g, fb::OpType::Reshape, name + "/squeeze", {mid}, {out}, OpAttrs(), k);
    return true;
  }
  if (op == "MatMul") {
    if (!AllFloat(g, n) || r < 2 || g.rank(n.in[1]) < 2) return false;
    Become(n, fb::OpType::MatMul);
    return true;
  }
  if (op == "Conv") {
    if (!AllFloat(g, n) || r != 4 || g.rank(n.in[1]) != 4) return false;
    std::vector<int64_t> k2 = {g.shape(n.in[1])[2], g.shape(n.in[1])[3]};
    std::vector<int64_t> pads = n.AttrInts("pads"), strides = n.AttrInts("strides"), dil = n.AttrInts("dilations");
    if (pads.empty()) pads = {0, 0, 0, 0};
    if (strides.empty()) strides = {1, 1};
    if (dil.empty()) dil = {1, 1};
    if (pads.size() != 4 || strides.size() != 2 || dil.size() != 2) return false;
    OpAttrs& a = n.ea;
    a.kernel_h = static_cast<int>(k2[0]);
    a.kernel_w = static_cast<int>(k2[1]);
    a.stride_h = static_cast<int>(strides[0]);
    a.stride_w = static_cast<int>(strides[1]);
    a.pad_top = static_cast<int>(pads[0]);
    a.pad_left = static_cast<int>(pads[1]);
    a.pad_bottom = static_cast<int>(pads[2]);
    a.pad_right = static_cast<int>(pads[3]);
    a.dilation_h = static_cast<int>(dil[0]);
    a.dilation_w = static_cast<int>(dil[1]);
    a.groups = static_cast<int>(n.AttrInt("group", 1));
    if (n.in.size() > 2 && n.in[2] >= 0 && !g.IsConst(n.in[2])) return false;
    if (!g.IsConst(n.in[1])) return false;
    Become(n, fb::OpType::Conv2d);
    return true;
  }
  if (op == "Expand" && g.shape(n.in[0]) == g.shape(n.out[0])) {
    n.in.resize(1);
    Become(n, fb::OpType::Copy);
    return true;
  }
  return false;
}

}  // namespace

bool MayLower(const std::string& op) {
  fb::UnaryKind unary;
  if (UnaryKindOf(op, &unary)) return true;
  static const char* k[] = {"Add", "Sub", "Mul", "Div", "Pow", "Softmax", "Concat", "Split", "Slice", "Gather",
                            "MatMul", "Gemm", "Conv", "Reshape", "Squeeze", "Unsqueeze", "Flatten",
                            "Transpose", "Identity", "Dropout", "Cast", "LayerNormalization", "Gelu",
                            "ReduceMean", "Cos", "Sin", "Expand", "Einsum",
                            // rewritten by RewriteOps (the forms fold.cc accepts)
                            "ScatterND", "InstanceNormalization", "Resize"};
  for (const char* s : k)
    if (op == s) return true;
  return false;
}

std::vector<std::string> Lower(Graph& g) {
  std::vector<std::string> bad;
  size_t count = g.nodes.size();
  for (size_t k = 0; k < count; ++k) {
    if (g.nodes[k].dead || g.nodes[k].edge) continue;
    std::string desc = DescribeNode(g, g.nodes[k]);
    if (!LowerNode(g, static_cast<int>(k))) bad.push_back(desc);
  }
  g.Touch();
  g.Compact();
  return bad;
}

}  // namespace conv
}  // namespace edge
