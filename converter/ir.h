// The converter's graph IR: ONNX nodes and, after fusion, edge ops, over values
// with static shapes. Nodes keep the ONNX (topological) order; a fused node
// takes the place of the last node of its pattern, so the order stays valid.
// Host-side only (exceptions allowed; the runtime never sees this code).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/writer/model_writer.h"

namespace edge {
namespace conv {

// Exit codes of edge-convert.
enum ExitCode { kExitOk = 0, kExitUsage = 2, kExitBadModel = 3, kExitConvert = 4 };

struct ConvertError : std::runtime_error {
  ConvertError(int exit_code, const std::string& msg) : std::runtime_error(msg), code(exit_code) {}
  int code;
};
[[noreturn]] void Fail(int code, const std::string& msg);

// ONNX TensorProto element types used here.
enum ElemType : int {
  kUndefined = 0, kFloat = 1, kUint8 = 2, kInt8 = 3, kUint16 = 4, kInt16 = 5, kInt32 = 6,
  kInt64 = 7, kString = 8, kBool = 9, kFloat16 = 10, kDouble = 11, kUint32 = 12, kUint64 = 13,
  kBFloat16 = 16,
};
bool IsFloatType(int t);
const char* ElemTypeName(int t);

using Shape = std::vector<int64_t>;
int64_t NumElements(const Shape& s);  // INT64_MAX when the product overflows
std::string ShapeStr(const Shape& s);

// Constant data. Float types are held as float (F16/BF16/F64 converted), every
// integer and bool type as int64; `dtype` remembers the ONNX type.
struct Tensor {
  int dtype = kFloat;
  Shape shape;
  std::vector<float> f;
  std::vector<int64_t> i;
  bool is_float() const { return IsFloatType(dtype); }
  int64_t numel() const { return NumElements(shape); }
  double at(int64_t k) const { return is_float() ? double(f[k]) : double(i[k]); }
  void Resize(int64_t n) {
    if (is_float()) f.assign(n, 0.f); else i.assign(n, 0);
  }
  void Set(int64_t k, double v);  // rounds/truncates to the element type
};
using TensorPtr = std::shared_ptr<const Tensor>;

struct Value {
  std::string name;
  int dtype = kUndefined;
  Shape shape;
  bool known = false;  // shape and dtype inferred
  TensorPtr c;         // constant data (initializer or folded)
  bool graph_input = false;
  bool graph_output = false;
};

struct Attr {
  enum Kind { kNone, kInt, kFloat, kString, kInts, kFloats, kTensor } kind = kNone;
  int64_t i = 0;
  float f = 0;
  std::string s;
  std::vector<int64_t> ints;
  std::vector<float> floats;
  TensorPtr t;
};

struct Node {
  std::string op;      // ONNX op type (edge ops: see `edge`)
  std::string domain;
  std::string name;
  std::vector<int> in;   // value ids; -1 = absent optional input
  std::vector<int> out;
  std::map<std::string, Attr> attrs;
  bool dead = false;
  double pos = 0;  // order key (graph order)
  // Set when this node is an edge op (fused or lowered).
  bool edge = false;
  fb::OpType etype = fb::OpType::Copy;
  OpAttrs ea;
  std::string block;  // cache-region key (set by FindCacheRegions)

  bool HasAttr(const std::string& k) const { return attrs.count(k) != 0; }
  int64_t AttrInt(const std::string& k, int64_t def) const;
  float AttrFloat(const std::string& k, float def) const;
  std::vector<int64_t> AttrInts(const std::string& k) const;
  std::string AttrString(const std::string& k, const std::string& def = "") const;
};

const char* EdgeOpName(fb::OpType t);

class Graph {
 public:
  std::string name;
  std::vector<Value> values;
  std::vector<Node> nodes;
  std::vector<int> inputs, outputs;
  int64_t ir_version = 0;
  int64_t opset = 0;

  int AddValue(const std::string& name);
  int AddConstValue(const std::string& name, TensorPtr t);
  // Adds a node ordered just before node `before` (or at the end if -1).
  int AddNode(Node n, int before = -1);
  // Unique name for a new value derived from `base`.
  std::string FreshName(const std::string& base);

  // Producer node of each value (-1 for inputs/constants), consumers per value.
  // Recomputed on demand after edits (call Touch() after edits).
  int Producer(int v);
  const std::vector<int>& Users(int v);
  void Touch() { dirty_ = true; }
  bool IsConst(int v) const { return Valid(v) && values[v].c != nullptr; }
  const Tensor* Const(int v) const { return Valid(v) ? values[v].c.get() : nullptr; }
  // Scalar value of a constant with one element.
  bool ConstScalar(int v, double* out) const;
  // By value: a matcher that keeps a shape while it adds values (which may
  // reallocate `values`) must not hold a reference into the vector. An absent
  // or out-of-range value has no shape and rank -1, so shape checks fail.
  Shape shape(int v) const { return Valid(v) ? values[v].shape : Shape(); }
  int rank(int v) const { return Valid(v) ? static_cast<int>(values[v].shape.size()) : -1; }
  bool Valid(int v) const { return v >= 0 && v < static_cast<int>(values.size()); }

  // Redirects every use of `from` (including graph outputs) to `to`.
  void ReplaceUses(int from, int to);
  // Removes dead nodes and nodes whose outputs nobody uses; sorts by order.
  void Compact();
  void RemoveDeadCode();

 private:
  void Rebuild();
  bool dirty_ = true;
  std::vector<int> producer_;
  std::vector<std::vector<int>> users_;
  std::map<std::string, int> name_count_;
};

}  // namespace conv
}  // namespace edge
