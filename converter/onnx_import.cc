#include "converter/onnx_import.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <climits>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "onnx/onnx_pb.h"

namespace edge {
namespace conv {
namespace {

// torch's dynamo exporter names nodes after the aten op ("node_linear_2") and
// records the module path in the node's metadata instead, under
// "pkg.torch.onnx.name_scopes": a Python list of the enclosing scopes, the
// innermost module second to last ("['', 'model', 'model.blocks.0', ...,
// 'model.blocks.0.attn.to_q', 'linear_2']"). NodeProto field 9 is newer than
// this ONNX release, so it is read from the unknown fields. Returns that
// module path written as the legacy exporter names nodes
// ("/model/blocks.0/attn/to_q"), so that cache regions and --block-prefix
// find the blocks of both exports; empty when there is none or it does not
// parse as such a list of dotted identifiers.
std::string DynamoScopePath(const onnx::NodeProto& np) {
  const auto& unknown = np.unknown_fields();
  for (int f = 0; f < unknown.field_count(); ++f) {
    const auto& field = unknown.field(f);
    if (field.number() != 9 || field.type() != google::protobuf::UnknownField::TYPE_LENGTH_DELIMITED) continue;
    onnx::StringStringEntryProto entry;
    if (!entry.ParseFromString(field.length_delimited()) || entry.key() != "pkg.torch.onnx.name_scopes") continue;
    std::vector<std::string> items;
    const std::string& v = entry.value();
    for (size_t i = 0; i < v.size(); ++i) {
      if (v[i] != '\'') continue;
      const size_t end = v.find('\'', i + 1);
      if (end == std::string::npos) return "";
      items.push_back(v.substr(i + 1, end - i - 1));
      i = end;
    }
    if (items.size() < 2) return "";
    const std::string& scope = items[items.size() - 2];
    std::string path, part;
    for (size_t i = 0; i <= scope.size(); ++i) {
      const char c = i < scope.size() ? scope[i] : '.';
      if (c != '.') {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return "";
        part += c;
        continue;
      }
      if (part.empty()) return "";
      // A list index stays with its list: "blocks.0", as the legacy names have it.
      const bool index = !path.empty() && part.find_first_not_of("0123456789") == std::string::npos;
      path += (index ? "." : "/") + part;
      part.clear();
    }
    return path;
  }
  return "";
}

// The model file mapped read-only (protobuf parses it in place: no copy).
class MappedFile {
 public:
  explicit MappedFile(const std::string& path) {
    fd_ = open(path.c_str(), O_RDONLY);
    if (fd_ < 0) Fail(kExitBadModel, "cannot open '" + path + "'");
    struct stat st;
    if (fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) Fail(kExitBadModel, "'" + path + "' is not a regular file");
    size_ = static_cast<size_t>(st.st_size);
    if (size_ > 0) {
      data_ = mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd_, 0);
      if (data_ == MAP_FAILED) Fail(kExitBadModel, "cannot map '" + path + "'");
    }
  }
  ~MappedFile() {
    if (data_ && data_ != MAP_FAILED) munmap(data_, size_);
    if (fd_ >= 0) close(fd_);
  }
  const void* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  int fd_ = -1;
  void* data_ = nullptr;
  size_t size_ = 0;
};

std::string DirOf(const std::string& path) {
  size_t p = path.find_last_of('/');
  return p == std::string::npos ? "." : path.substr(0, p);
}

int ElemSize(int t) {
  switch (t) {
    case kFloat: case kInt32: case kUint32: return 4;
    case kInt64: case kUint64: case kDouble: return 8;
    case kFloat16: case kBFloat16: case kInt16: case kUint16: return 2;
    case kInt8: case kUint8: case kBool: return 1;
    default: return 0;
  }
}

float HalfToFloat(uint16_t h) {
  uint32_t sign = (h >> 15) & 1, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    if (man == 0) {
      bits = sign << 31;
    } else {  // subnormal: renormalize
      int e = -1;
      do { ++e; man <<= 1; } while ((man & 0x400) == 0);
      bits = (sign << 31) | ((127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
    }
  } else if (exp == 31) {
    bits = (sign << 31) | 0x7f800000u | (man << 13);
  } else {
    bits = (sign << 31) | ((exp - 15 + 127) << 23) | (man << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// Decodes little-endian raw bytes into the Tensor's storage.
void DecodeRaw(const std::string& name, const char* p, size_t bytes, Tensor* t) {
  int64_t n = t->numel();
  int es = ElemSize(t->dtype);
  if (es == 0) Fail(kExitBadModel, "tensor '" + name + "': unsupported element type " + ElemTypeName(t->dtype));
  if (static_cast<int64_t>(bytes) != n * es)
    Fail(kExitBadModel, "tensor '" + name + "': " + std::to_string(bytes) + " data bytes for shape " +
                            ShapeStr(t->shape) + " (" + std::to_string(n * es) +
                            " expected; file truncated or corrupt?)");
  if (t->dtype == kFloat) {
    t->f.resize(n);
    std::memcpy(t->f.data(), p, bytes);
    return;
  }
  t->Resize(n);
  for (int64_t k = 0; k < n; ++k) {
    const char* e = p + k * es;
    switch (t->dtype) {
      case kFloat: { float v; std::memcpy(&v, e, 4); t->f[k] = v; break; }
      case kDouble: { double v; std::memcpy(&v, e, 8); t->f[k] = static_cast<float>(v); break; }
      case kFloat16: { uint16_t v; std::memcpy(&v, e, 2); t->f[k] = HalfToFloat(v); break; }
      case kBFloat16: {
        uint16_t v; std::memcpy(&v, e, 2);
        uint32_t b = uint32_t(v) << 16; float f; std::memcpy(&f, &b, 4); t->f[k] = f; break;
      }
      case kInt64: case kUint64: { int64_t v; std::memcpy(&v, e, 8); t->i[k] = v; break; }
      case kInt32: { int32_t v; std::memcpy(&v, e, 4); t->i[k] = v; break; }
      case kUint32: { uint32_t v; std::memcpy(&v, e, 4); t->i[k] = v; break; }
      case kInt16: { int16_t v; std::memcpy(&v, e, 2); t->i[k] = v; break; }
      case kUint16: { uint16_t v; std::memcpy(&v, e, 2); t->i[k] = v; break; }
      case kInt8: t->i[k] = static_cast<int8_t>(*e); break;
      case kUint8: case kBool: t->i[k] = static_cast<uint8_t>(*e); break;
    }
  }
}

TensorPtr ConvertTensor(const onnx::TensorProto& tp, const std::string& model_dir) {
  auto t = std::make_shared<Tensor>();
  t->dtype = tp.data_type();
  const std::string name = tp.name();
  for (int64_t d : tp.dims()) {
    if (d < 0) Fail(kExitBadModel, "tensor '" + name + "' has a negative dimension");
    t->shape.push_back(d);
  }
  int64_t n = 1;
  for (int64_t d : t->shape) {
    if (d != 0 && n > (int64_t(1) << 40) / d) Fail(kExitBadModel, "tensor '" + name + "' is too large");
    n *= d;
  }
  if (ElemSize(t->dtype) == 0)
    Fail(kExitBadModel, "tensor '" + name + "': unsupported element type " + std::to_string(t->dtype));

  if (tp.data_location() == onnx::TensorProto::EXTERNAL) {
    std::string location;
    int64_t offset = 0, length = -1;
    for (const auto& kv : tp.external_data()) {
      if (kv.key() == "location") location = kv.value();
      else if (kv.key() == "offset") offset = std::stoll(kv.value());
      else if (kv.key() == "length") length = std::stoll(kv.value());
    }
    if (location.empty()) Fail(kExitBadModel, "tensor '" + name + "': external data without a location");
    if (location[0] == '/' || location.find("..") != std::string::npos)
      Fail(kExitBadModel, "tensor '" + name + "': external data location '" + location +
                              "' must be relative to the model's folder");
    std::string path = model_dir + "/" + location;
    std::ifstream f(path, std::ios::binary);
    if (!f)
      Fail(kExitBadModel, "tensor '" + name + "': missing external data file '" + path + "'");
    f.seekg(0, std::ios::end);
    int64_t fsize = f.tellg();
    int64_t want = length >= 0 ? length : n * ElemSize(t->dtype);
    if (offset < 0 || offset + want > fsize)
      Fail(kExitBadModel, "tensor '" + name + "': external data file '" + path + "' is too short (" +
                              std::to_string(fsize) + " bytes, need " + std::to_string(offset + want) + ")");
    std::string buf(static_cast<size_t>(want), '\0');
    f.seekg(offset);
    f.read(&buf[0], want);
    if (!f) Fail(kExitBadModel, "tensor '" + name + "': cannot read external data '" + path + "'");
    DecodeRaw(name, buf.data(), buf.size(), t.get());
    return t;
  }
  if (tp.has_raw_data()) {
    DecodeRaw(name, tp.raw_data().data(), tp.raw_data().size(), t.get());
    return t;
  }
  t->Resize(n);
  auto check = [&](int64_t have) {
    if (have != n)
      Fail(kExitBadModel, "tensor '" + name + "': " + std::to_string(have) + " values for shape " +
                              ShapeStr(t->shape));
  };
  switch (t->dtype) {
    case kFloat:
      check(tp.float_data_size());
      for (int64_t k = 0; k < n; ++k) t->f[k] = tp.float_data(k);
      break;
    case kDouble:
      check(tp.double_data_size());
      for (int64_t k = 0; k < n; ++k) t->f[k] = static_cast<float>(tp.double_data(k));
      break;
    case kInt64:
      check(tp.int64_data_size());
      for (int64_t k = 0; k < n; ++k) t->i[k] = tp.int64_data(k);
      break;
    case kUint64: case kUint32:
      check(tp.uint64_data_size());
      for (int64_t k = 0; k < n; ++k) t->i[k] = static_cast<int64_t>(tp.uint64_data(k));
      break;
    case kFloat16:
      check(tp.int32_data_size());
      for (int64_t k = 0; k < n; ++k) t->f[k] = HalfToFloat(static_cast<uint16_t>(tp.int32_data(k)));
      break;
    case kBFloat16:
      check(tp.int32_data_size());
      for (int64_t k = 0; k < n; ++k) {
        uint32_t b = uint32_t(tp.int32_data(k)) << 16; float f; std::memcpy(&f, &b, 4); t->f[k] = f;
      }
      break;
    default:
      check(tp.int32_data_size());
      for (int64_t k = 0; k < n; ++k) t->i[k] = tp.int32_data(k);
      break;
  }
  return t;
}

Attr ConvertAttr(const onnx::AttributeProto& ap, const std::string& model_dir, const std::string& node) {
  Attr a;
  switch (ap.type()) {
    case onnx::AttributeProto::INT: a.kind = Attr::kInt; a.i = ap.i(); break;
    case onnx::AttributeProto::FLOAT: a.kind = Attr::kFloat; a.f = ap.f(); break;
    case onnx::AttributeProto::STRING: a.kind = Attr::kString; a.s = ap.s(); break;
    case onnx::AttributeProto::INTS:
      a.kind = Attr::kInts;
      a.ints.assign(ap.ints().begin(), ap.ints().end());
      break;
    case onnx::AttributeProto::FLOATS:
      a.kind = Attr::kFloats;
      a.floats.assign(ap.floats().begin(), ap.floats().end());
      break;
    case onnx::AttributeProto::TENSOR:
      a.kind = Attr::kTensor;
      a.t = ConvertTensor(ap.t(), model_dir);
      break;
    default:
      // Subgraphs and the like: the node keeps a marker; it is reported as unsupported.
      a.kind = Attr::kNone;
      break;
  }
  (void)node;
  return a;
}

}  // namespace

Graph ImportOnnx(const std::string& path) {
  MappedFile file(path);
  return ImportOnnxBytes(file.data(), file.size(), DirOf(path), path);
}

Graph ImportOnnxBytes(const void* data, size_t size, const std::string& dir, const std::string& path) {
  onnx::ModelProto mp;
  if (size == 0 || size > static_cast<size_t>(INT_MAX) || !mp.ParseFromArray(data, static_cast<int>(size)))
    Fail(kExitBadModel, "'" + path + "' is not a valid ONNX model (corrupt or truncated protobuf; models over 2 GB "
                                     "must keep their weights as external data)");
  if (!mp.has_graph() || mp.graph().node_size() == 0)
    Fail(kExitBadModel, "'" + path + "' has no graph (corrupt or truncated ONNX model?)");
  if (mp.ir_version() < 3 || mp.ir_version() > 10)
    Fail(kExitBadModel, "'" + path + "': unsupported ONNX IR version " + std::to_string(mp.ir_version()) +
                            " (3..10 supported)");
  Graph g;
  g.ir_version = mp.ir_version();
  for (const auto& op : mp.opset_import())
    if (op.domain().empty() || op.domain() == "ai.onnx") g.opset = op.version();
  if (g.opset == 0) Fail(kExitBadModel, "'" + path + "' imports no ai.onnx opset");
  const onnx::GraphProto& gp = mp.graph();
  g.name = gp.name();

  std::map<std::string, int> by_name;
  auto lookup = [&](const std::string& n) -> int {
    auto it = by_name.find(n);
    if (it != by_name.end()) return it->second;
    int id = g.AddValue(n);
    by_name[n] = id;
    return id;
  };
  onnx::GraphProto* mgp = mp.mutable_graph();
  for (int k = 0; k < mgp->initializer_size(); ++k) {
    onnx::TensorProto* ip = mgp->mutable_initializer(k);
    const onnx::TensorProto& init = *ip;
    int id = lookup(init.name());
    TensorPtr t = ConvertTensor(init, dir);
    // Release the protobuf's copy now: the converted tensor replaces it.
    std::string().swap(*ip->mutable_raw_data());
    g.values[id].c = t;
    g.values[id].dtype = t->dtype;
    g.values[id].shape = t->shape;
    g.values[id].known = true;
  }
  for (const auto& vi : gp.input()) {
    int id = lookup(vi.name());
    if (g.values[id].c) continue;  // older IR lists initializers as inputs too
    Value& v = g.values[id];
    v.graph_input = true;
    if (vi.type().has_tensor_type()) {
      v.dtype = vi.type().tensor_type().elem_type();
      if (vi.type().tensor_type().has_shape())
        for (const auto& d : vi.type().tensor_type().shape().dim())
          v.shape.push_back(d.has_dim_value() ? d.dim_value() : -1);
      v.known = true;
    }
    g.inputs.push_back(id);
  }
  int k = 0;
  for (const auto& np : gp.node()) {
    Node n;
    n.op = np.op_type();
    n.domain = np.domain() == "ai.onnx" ? "" : np.domain();
    n.name = np.name().empty() ? (n.op + "_" + std::to_string(k)) : np.name();
    const std::string scope = DynamoScopePath(np);
    if (!scope.empty()) n.name = scope + "/" + n.name;
    for (const auto& i : np.input()) n.in.push_back(i.empty() ? -1 : lookup(i));
    for (const auto& o : np.output()) n.out.push_back(o.empty() ? -1 : lookup(o));
    for (const auto& a : np.attribute()) n.attrs[a.name()] = ConvertAttr(a, dir, n.name);
    if (n.out.empty() || n.out[0] < 0)
      Fail(kExitBadModel, "node '" + n.name + "' (" + n.op + ") has no output (corrupt model?)");
    if (n.op.empty()) Fail(kExitBadModel, "node '" + n.name + "' has no op type (corrupt model?)");
    n.pos = k++;
    g.nodes.push_back(std::move(n));
  }
  for (const auto& vo : gp.output()) {
    auto it = by_name.find(vo.name());
    if (it == by_name.end()) Fail(kExitBadModel, "graph output '" + vo.name() + "' is never produced");
    g.values[it->second].graph_output = true;
    g.outputs.push_back(it->second);
  }
  // Every node input must be a graph input, initializer or an earlier output.
  std::vector<char> defined(g.values.size(), 0);
  for (int i : g.inputs) defined[i] = 1;
  for (size_t v = 0; v < g.values.size(); ++v)
    if (g.values[v].c) defined[v] = 1;
  for (const Node& n : g.nodes) {
    for (int i : n.in)
      if (i >= 0 && !defined[i])
        Fail(kExitBadModel, "node '" + n.name + "' (" + n.op + ") reads '" + g.values[i].name +
                                "', which is not defined before it (graph not in topological order or truncated)");
    for (int o : n.out) {
      if (o < 0) continue;
      if (defined[o])
        Fail(kExitBadModel, "value '" + g.values[o].name + "' is defined twice (node '" + n.name + "')");
      defined[o] = 1;
    }
  }
  g.Touch();
  return g;
}

}  // namespace conv
}  // namespace edge
