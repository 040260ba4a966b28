// Converter mutation test: random graph edits of the fixture ONNX files in
// tests/models, each run through the converter in process (import, the
// passes of edge-convert, emit). Every mutated graph must convert or be
// refused with a ConvertError carrying exit code 2, 3 or 4 (what edge-convert
// prints and exits with); a signal (crash) or any other failure fails the test.
//
//   convert_mutation_test [--cases N] [--seed S] [--only K] [--verbose] MODEL.onnx ...
//
// Cases are spread over the models in turn; case K of a run is reproducible
// with the same seed and model list (--only K runs that one case, --verbose
// prints each case's edits and outcome). A crash prints the case being run.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "converter/convert_graph.h"
#include "converter/emit.h"
#include "converter/onnx_import.h"
#include "onnx/onnx_pb.h"

// A sanitizer report ends the process without a signal; its death callback
// (present only in sanitizer builds) names the case too.
extern "C" void __sanitizer_set_death_callback(void (*)(void)) __attribute__((weak));

namespace {

using edge::conv::ConvertError;

// What a crash reports: the case and its edits (written from the signal handler).
char g_current[4096] = "";

void ReportCase() {
  const char head[] = "\nconvert_mutation_test: crashed on ";
  ssize_t r = write(2, head, sizeof head - 1);
  r = write(2, g_current, strlen(g_current));
  r = write(2, "\n", 1);
  (void)r;
}

void OnSignal(int sig) {
  ReportCase();
  signal(sig, SIG_DFL);
  raise(sig);
}

class Mutator {
 public:
  Mutator(onnx::ModelProto* m, std::mt19937_64* rng) : m_(*m), g_(*m->mutable_graph()), rng_(*rng) {}

  // Applies one random edit; returns its description.
  std::string Apply() {
    for (int attempt = 0; attempt < 8; ++attempt) {
      std::string d = Try(static_cast<int>(Pick(kKinds)));
      if (!d.empty()) return d;
    }
    return "none";
  }

 private:
  static constexpr uint64_t kKinds = 17;

  uint64_t Pick(uint64_t n) { return n == 0 ? 0 : rng_() % n; }
  bool Coin(int percent) { return static_cast<int>(Pick(100)) < percent; }

  std::vector<std::string> AllValues() {
    std::vector<std::string> v;
    for (const auto& i : g_.input()) v.push_back(i.name());
    for (const auto& i : g_.initializer()) v.push_back(i.name());
    for (const auto& n : g_.node())
      for (const auto& o : n.output()) v.push_back(o);
    return v;
  }
  std::string AnyValue() {
    std::vector<std::string> v = AllValues();
    if (v.empty() || Coin(5)) return "no_such_value";
    return v[Pick(v.size())];
  }
  int64_t Dim() {
    static const int64_t dims[] = {0, 1, 1, 2, 3, 4, 7, 8, 16, 33, 64, 96, 128, 1000, -1};
    return dims[Pick(sizeof dims / sizeof dims[0])];
  }
  void RandomType(onnx::ValueInfoProto* vi, const onnx::ValueInfoProto* like) {
    auto* tt = vi->mutable_type()->mutable_tensor_type();
    if (like != nullptr && Coin(50)) {
      *vi->mutable_type() = like->type();
      return;
    }
    static const int types[] = {1, 1, 1, 7, 6, 10, 11, 9, 2, 0, 8};
    tt->set_elem_type(types[Pick(sizeof types / sizeof types[0])]);
    int rank = static_cast<int>(Pick(6));
    auto* sh = tt->mutable_shape();
    sh->clear_dim();
    for (int d = 0; d < rank; ++d) {
      if (Coin(5)) sh->add_dim()->set_dim_param("n");
      else sh->add_dim()->set_dim_value(Dim());
    }
  }
  onnx::NodeProto* AnyNode() { return g_.node_size() ? g_.mutable_node(static_cast<int>(Pick(g_.node_size()))) : nullptr; }
  // Drops the producer of `name` and feeds it from a new graph input.
  void ToGraphInput(const std::string& name) {
    for (int k = 0; k < g_.node_size(); ++k)
      for (const auto& o : g_.node(k).output())
        if (o == name) {
          g_.mutable_node()->erase(g_.mutable_node()->begin() + k);
          k = g_.node_size();
          break;
        }
    onnx::ValueInfoProto* vi = g_.add_input();
    vi->set_name(name);
    RandomType(vi, g_.input_size() > 1 ? &g_.input(static_cast<int>(Pick(g_.input_size() - 1))) : nullptr);
  }

  std::string Try(int kind) {
    std::ostringstream d;
    switch (kind) {
      case 0: {  // dropped input
        onnx::NodeProto* n = AnyNode();
        if (!n || n->input_size() == 0) return "";
        int i = static_cast<int>(Pick(n->input_size()));
        d << "drop input " << i << " of " << n->op_type() << " '" << n->name() << "'";
        if (Coin(50)) n->mutable_input()->erase(n->mutable_input()->begin() + i);
        else n->set_input(i, "");
        return d.str();
      }
      case 1: {  // dropped / blanked output: consumers dangle
        onnx::NodeProto* n = AnyNode();
        if (!n || n->output_size() == 0) return "";
        int i = static_cast<int>(Pick(n->output_size()));
        d << "drop output " << i << " of " << n->op_type() << " '" << n->name() << "'";
        if (Coin(50)) n->mutable_output()->erase(n->mutable_output()->begin() + i);
        else n->set_output(i, Coin(50) ? "" : "renamed_" + n->output(i));
        return d.str();
      }
      case 2: {  // dangling graph output
        std::string v = AnyValue();
        d << "graph output '" << v << "'";
        g_.add_output()->set_name(v);
        return d.str();
      }
      case 3: {  // block cut at an edge: the value becomes a graph input
        onnx::NodeProto* n = AnyNode();
        if (!n || n->output_size() == 0) return "";
        std::string v = n->output(static_cast<int>(Pick(n->output_size())));
        d << "cut at '" << v << "' (graph input)";
        ToGraphInput(v);
        return d.str();
      }
      case 4: {  // block cut at an edge: the value becomes the only output
        std::string v = AnyValue();
        d << "cut after '" << v << "' (only output)";
        g_.clear_output();
        g_.add_output()->set_name(v);
        return d.str();
      }
      case 5: {  // graph input in place of an initializer
        if (g_.initializer_size() == 0) return "";
        int k = static_cast<int>(Pick(g_.initializer_size()));
        onnx::TensorProto t = g_.initializer(k);
        g_.mutable_initializer()->erase(g_.mutable_initializer()->begin() + k);
        onnx::ValueInfoProto* vi = g_.add_input();
        vi->set_name(t.name());
        d << "initializer '" << t.name() << "' as graph input";
        if (Coin(60)) {
          vi->mutable_type()->mutable_tensor_type()->set_elem_type(t.data_type());
          auto* sh = vi->mutable_type()->mutable_tensor_type()->mutable_shape();
          for (int64_t x : t.dims()) sh->add_dim()->set_dim_value(x);
        } else {
          RandomType(vi, nullptr);
        }
        return d.str();
      }
      case 6: {  // wrong shape of a graph input
        if (g_.input_size() == 0) return "";
        onnx::ValueInfoProto* vi = g_.mutable_input(static_cast<int>(Pick(g_.input_size())));
        auto* sh = vi->mutable_type()->mutable_tensor_type()->mutable_shape();
        d << "reshape input '" << vi->name() << "'";
        if (sh->dim_size() > 0 && Coin(60)) sh->mutable_dim(static_cast<int>(Pick(sh->dim_size())))->set_dim_value(Dim());
        else if (Coin(50) && sh->dim_size() > 0) sh->mutable_dim()->RemoveLast();
        else sh->add_dim()->set_dim_value(Dim());
        return d.str();
      }
      case 7: {  // wrong dtype (graph input or initializer)
        static const int types[] = {0, 2, 3, 6, 7, 9, 10, 11, 16, 8, 14, 99};
        int t = types[Pick(sizeof types / sizeof types[0])];
        if (g_.initializer_size() && Coin(50)) {
          onnx::TensorProto* ip = g_.mutable_initializer(static_cast<int>(Pick(g_.initializer_size())));
          d << "initializer '" << ip->name() << "' dtype " << t;
          ip->set_data_type(t);
        } else if (g_.input_size()) {
          onnx::ValueInfoProto* vi = g_.mutable_input(static_cast<int>(Pick(g_.input_size())));
          d << "input '" << vi->name() << "' dtype " << t;
          vi->mutable_type()->mutable_tensor_type()->set_elem_type(t);
        } else {
          return "";
        }
        return d.str();
      }
      case 8: {  // duplicated names
        onnx::NodeProto* n = AnyNode();
        if (!n) return "";
        if (Coin(40) && n->output_size()) {
          std::string v = AnyValue();
          d << "output of '" << n->name() << "' renamed to existing '" << v << "'";
          n->set_output(0, v);
        } else if (Coin(50) && g_.initializer_size()) {
          *g_.add_initializer() = g_.initializer(static_cast<int>(Pick(g_.initializer_size())));
          d << "duplicated initializer";
        } else {
          onnx::NodeProto copy = *n;
          *g_.add_node() = copy;
          d << "duplicated node '" << n->name() << "'";
        }
        return d.str();
      }
      case 9: {  // attribute edits
        onnx::NodeProto* n = AnyNode();
        if (!n || n->attribute_size() == 0) return "";
        int ai = static_cast<int>(Pick(n->attribute_size()));
        onnx::AttributeProto* a = n->mutable_attribute(ai);
        d << "attribute " << a->name() << " of " << n->op_type() << " '" << n->name() << "'";
        if (Coin(20)) {
          n->mutable_attribute()->erase(n->mutable_attribute()->begin() + ai);
          d << " removed";
        } else if (a->type() == onnx::AttributeProto::INTS || Coin(20)) {
          a->clear_ints();
          int len = static_cast<int>(Pick(6));
          for (int k = 0; k < len; ++k) a->add_ints(static_cast<int64_t>(Pick(9)) - 4);
        } else if (a->type() == onnx::AttributeProto::FLOAT) {
          a->set_f(Coin(50) ? 0.f : -1e30f);
        } else if (a->type() == onnx::AttributeProto::TENSOR && a->t().dims_size()) {
          a->mutable_t()->set_dims(0, Dim());
        } else {
          a->set_i(static_cast<int64_t>(Pick(11)) - 5);
        }
        return d.str();
      }
      case 10: {  // another op type
        static const char* ops[] = {"Add", "Mul", "Sub", "Div", "MatMul", "Softmax", "Reshape", "Transpose",
                                    "Gather", "Concat", "Split", "Slice", "Identity", "LayerNormalization",
                                    "Gemm", "Sqrt", "Pow", "Erf", "Unsqueeze", "Squeeze", "ReduceMean",
                                    "Cast", "Expand", "Where", "Conv", "Einsum", "Sigmoid", "Tanh",
                                    "Shape", "ConstantOfShape", "Range", "Tile", "Flatten", "NoSuchOp"};
        onnx::NodeProto* n = AnyNode();
        if (!n) return "";
        const char* op = ops[Pick(sizeof ops / sizeof ops[0])];
        d << n->op_type() << " '" << n->name() << "' -> " << op;
        n->set_op_type(op);
        return d.str();
      }
      case 11: {  // two nodes swapped (order broken)
        if (g_.node_size() < 2) return "";
        int a = static_cast<int>(Pick(g_.node_size())), b = static_cast<int>(Pick(g_.node_size()));
        g_.mutable_node()->SwapElements(a, b);
        d << "swap nodes " << a << " and " << b;
        return d.str();
      }
      case 12: {  // node removed
        if (g_.node_size() == 0) return "";
        int k = static_cast<int>(Pick(g_.node_size()));
        d << "remove " << g_.node(k).op_type() << " '" << g_.node(k).name() << "'";
        g_.mutable_node()->erase(g_.mutable_node()->begin() + k);
        return d.str();
      }
      case 13: {  // extra or rewired input
        onnx::NodeProto* n = AnyNode();
        if (!n) return "";
        std::string v = AnyValue();
        if (Coin(50) || n->input_size() == 0) {
          n->add_input(v);
          d << "extra input '" << v << "' on " << n->op_type() << " '" << n->name() << "'";
        } else {
          int i = static_cast<int>(Pick(n->input_size()));
          n->set_input(i, v);
          d << "input " << i << " of " << n->op_type() << " '" << n->name() << "' := '" << v << "'";
        }
        return d.str();
      }
      case 14: {  // constant contents (shapes, axes, indices) changed
        if (g_.initializer_size() == 0) return "";
        onnx::TensorProto* t = g_.mutable_initializer(static_cast<int>(Pick(g_.initializer_size())));
        std::string* raw = t->mutable_raw_data();
        d << "contents of '" << t->name() << "'";
        if (raw->empty()) return d.str();
        if (t->data_type() == onnx::TensorProto::INT64 && raw->size() % 8 == 0) {
          int64_t v = static_cast<int64_t>(Pick(9)) - 4;
          if (Coin(10)) v = INT64_MAX;
          std::memcpy(&(*raw)[8 * Pick(raw->size() / 8)], &v, 8);
        } else {
          (*raw)[Pick(raw->size())] ^= static_cast<char>(1 + Pick(255));
        }
        return d.str();
      }
      case 15: {  // truncated or reshaped initializer
        if (g_.initializer_size() == 0) return "";
        onnx::TensorProto* t = g_.mutable_initializer(static_cast<int>(Pick(g_.initializer_size())));
        d << "initializer '" << t->name() << "'";
        if (Coin(50) && t->raw_data().size() > 0) {
          t->mutable_raw_data()->resize(Pick(t->raw_data().size()));
          d << " truncated";
        } else if (t->dims_size() >= 2 && Coin(50)) {
          int64_t a = t->dims(0);
          t->set_dims(0, t->dims(1));
          t->set_dims(1, a);
          d << " dims swapped";
        } else {
          t->add_dims(Coin(50) ? 1 : 2);
          d << " extra dim";
        }
        return d.str();
      }
      case 16: {  // inputs of a node swapped
        onnx::NodeProto* n = AnyNode();
        if (!n || n->input_size() < 2) return "";
        int a = static_cast<int>(Pick(n->input_size())), b = static_cast<int>(Pick(n->input_size()));
        n->mutable_input()->SwapElements(a, b);
        d << "swap inputs " << a << "," << b << " of " << n->op_type() << " '" << n->name() << "'";
        return d.str();
      }
    }
    return "";
  }

  onnx::ModelProto& m_;
  onnx::GraphProto& g_;
  std::mt19937_64& rng_;
};

// Runs the converter on the bytes: 0 converted, else the exit code it refused with.
int Convert(const std::string& bytes, std::string* err) {
  using namespace edge::conv;
  try {
    Graph g = ImportOnnxBytes(bytes.data(), bytes.size(), "/nonexistent", "mutated.onnx");
    std::vector<std::string> warnings;
    std::vector<Region> regions = PrepareGraph(g, {}, "", &warnings);
    edge::ModelWriter w;
    Emit(g, regions, PipelineFlags(), "mutated", &w);
    std::vector<uint8_t> image;
    edge::Status st = w.Finish(&image);
    if (!st.ok()) Fail(kExitConvert, st.message());
    return 0;
  } catch (const ConvertError& e) {
    *err = e.what();
    return e.code;
  } catch (const std::exception& e) {
    // edge-convert's main reports these (bad_alloc included) with exit 4.
    *err = std::string("std::exception: ") + e.what();
    return kExitConvert;
  }
}

}  // namespace

int main(int argc, char** argv) {
  long cases = 300, only = -1;
  uint64_t seed = 1;
  bool verbose = false;
  std::vector<std::string> paths;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--cases" && i + 1 < argc) cases = std::atol(argv[++i]);
    else if (a == "--seed" && i + 1 < argc) seed = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--only" && i + 1 < argc) only = std::atol(argv[++i]);
    else if (a == "--verbose") verbose = true;
    else paths.push_back(a);
  }
  if (paths.empty()) {
    std::fprintf(stderr, "usage: convert_mutation_test [--cases N] [--seed S] [--only K] [--verbose] MODEL.onnx ...\n");
    return 2;
  }
  for (int s : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) signal(s, OnSignal);
  if (__sanitizer_set_death_callback) __sanitizer_set_death_callback(ReportCase);
  std::vector<onnx::ModelProto> models(paths.size());
  for (size_t k = 0; k < paths.size(); ++k) {
    std::ifstream f(paths[k], std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    if (!f || !models[k].ParseFromString(ss.str())) {
      std::fprintf(stderr, "cannot read %s\n", paths[k].c_str());
      return 2;
    }
  }
  std::map<int, long> outcomes;
  std::map<std::string, long> first_errors;
  long bad = 0;
  for (long c = 0; c < cases; ++c) {
    if (only >= 0 && c != only) continue;
    size_t mi = static_cast<size_t>(c) % models.size();
    // One generator per case: case c is the same whatever ran before it.
    std::mt19937_64 rng(seed * 1000003u + static_cast<uint64_t>(c));
    onnx::ModelProto m = models[mi];
    Mutator mut(&m, &rng);
    int edits = 1 + static_cast<int>(rng() % 3);
    std::string what = "case " + std::to_string(c) + " (seed " + std::to_string(seed) + ", " + paths[mi] + "):";
    for (int e = 0; e < edits; ++e) what += (e ? "; " : " ") + mut.Apply();
    std::snprintf(g_current, sizeof g_current, "%s", what.c_str());
    std::string bytes;
    m.SerializeToString(&bytes);
    std::string err;
    int rc = Convert(bytes, &err);
    ++outcomes[rc];
    bool clean = rc == 0 || rc == 2 || rc == 3 || rc == 4;
    if (!clean) {
      ++bad;
      std::printf("FAIL %s -> exit %d: %s\n", what.c_str(), rc, err.c_str());
    }
    if (verbose) std::printf("%s -> %d %s\n", what.c_str(), rc, err.substr(0, 200).c_str());
    if (rc != 0) ++first_errors[err.substr(0, err.find_first_of("'\n"))];
  }
  long total = 0;
  for (const auto& o : outcomes) total += o.second;
  std::printf("%ld mutated graphs over %zu models (seed %llu): ", total, models.size(),
              static_cast<unsigned long long>(seed));
  for (const auto& o : outcomes) std::printf("exit %d: %ld  ", o.first, o.second);
  std::printf("\n");
  if (verbose)
    for (const auto& e : first_errors) std::printf("  %6ld  %s\n", e.second, e.first.c_str());
  if (bad) {
    std::printf("%ld mutated graph(s) not cleanly converted or refused\n", bad);
    return 1;
  }
  std::printf("every mutated graph converted or was refused cleanly (exit 2/3/4), none crashed\n");
  return 0;
}
