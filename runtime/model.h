// Model: an immutable, validated view of an edge model file.
//
// Load() maps the file (read() fallback), runs the FlatBuffers verifier and
// then the semantic checks in model_validate.cc. Only a Model that passed all
// checks is ever returned, so the rest of the runtime may trust every index,
// shape and buffer range it exposes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include "runtime/array.h"
#include "runtime/status.h"
#include "schema/edge_model_generated.h"

namespace edge {

// The newest format this runtime reads (it reads every older one too).
// Version 2 added further graphs and links between them; a file with one
// graph is still written as version 1, so older runtimes keep reading it.
constexpr uint32_t kFormatVersion = 2;
constexpr uint32_t kSingleGraphFormatVersion = 1;
constexpr int kMaxRank = 8;
// Largest number of elements (and of bytes) any tensor may have; keeps all
// size arithmetic far from overflow on 32-bit targets too.
constexpr int64_t kMaxTensorElements = int64_t(1) << 31;
constexpr size_t kDataAlignment = 64;

struct TensorInfo {
  const char* name = "";          // never null
  fb::DType dtype = fb::DType::F32;
  int rank = 0;
  int64_t dims[kMaxRank] = {0};
  int64_t num_elements = 1;
  size_t bytes = 0;               // storage size (NVFP4: packed codes)
  bool is_constant = false;
  const uint8_t* data = nullptr;  // constants only: points into the mapped file
  fb::QuantScheme quant = fb::QuantScheme::None;
  const uint8_t* scale_data = nullptr;  // per-channel f32 or E4M3 block scales
  size_t scale_bytes = 0;
  float tensor_scale = 1.0f;
  int block_size = 16;
  fb::WeightLayout layout = fb::WeightLayout::RowMajor;

  int64_t dim(int axis) const { return dims[axis < 0 ? axis + rank : axis]; }
};

struct NodeInfo {
  fb::OpType type = fb::OpType::Linear;
  const fb::Operator* op = nullptr;  // options: op->options_as_LinearOptions() etc.
  Array<int> inputs;                 // -1 = absent optional input
  Array<int> outputs;
  const char* name = "";
};

struct CacheRegionInfo {
  const char* name = "";
  int first_op = 0;
  int last_op = 0;
  int input = -1;
  int output = -1;
};

// One link between graphs (schema GraphLink), validated.
struct GraphLinkInfo {
  int from_graph = 0;
  int from_tensor = -1;
  int to_graph = 0;
  int to_tensor = -1;
  // The source is the sampler's final latent (graph 0's pipeline latent
  // input), not a graph output.
  bool sampled_latent = false;
};

// How LoadFile gets the bytes.
//
// Mapped (the default) uses the weights in place from the page cache. The
// mapping stays valid while the file is replaced by rename (the old inode
// lives on; edge-convert and ModelWriter::WriteFile write that way), but a
// file truncated or rewritten in place under a running process is outside
// the contract: reading a page past the new end raises SIGBUS, which no
// library can turn into an error without owning the process's signal
// handlers. Where files may change in place, read them into memory: the
// model then owns a copy and the file is not used after LoadFile returns.
// (EDGE_NO_MMAP=1 in the environment forces reading too.)
struct LoadOptions {
  bool read_into_memory = false;
};

class Model {
 public:
  // Maps (or reads, see LoadOptions) and validates a file. A file shorter
  // than its contents say (truncated before loading) is kInvalidModel.
  // Errors: kIoError (missing/unreadable), kInvalidModel (anything wrong with
  // the contents), kOutOfMemory.
  static Result<std::unique_ptr<Model>> LoadFile(const char* path);
  static Result<std::unique_ptr<Model>> LoadFile(const char* path, const LoadOptions& options);
  // Validates bytes held by the caller; `copy` makes the model own a copy
  // (otherwise the bytes must outlive the Model; bytes that are not 64-byte
  // aligned are copied anyway, since constants are used in place).
  static Result<std::unique_ptr<Model>> LoadBuffer(const void* data, size_t size, bool copy);

  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const fb::Model* fb() const { return fb_; }
  // May be null; always null for a graph view (see graph()).
  const fb::Pipeline* pipeline() const { return owner_ == nullptr ? fb_->pipeline() : nullptr; }
  const char* name() const;
  const char* producer() const;

  int num_tensors() const { return static_cast<int>(tensors_.size()); }
  const TensorInfo& tensor(int i) const { return tensors_[i]; }
  int num_nodes() const { return static_cast<int>(nodes_.size()); }
  const NodeInfo& node(int i) const { return nodes_[i]; }
  const Array<int>& inputs() const { return inputs_; }
  const Array<int>& outputs() const { return outputs_; }
  const Array<CacheRegionInfo>& cache_regions() const { return regions_; }
  // -1 if no tensor has that name.
  int FindTensor(const char* name) const;

  size_t file_size() const { return size_; }
  // Bytes of distinct constant buffers this graph reads.
  size_t constant_bytes() const;

  // Graphs. 0 is the file's main graph (the denoiser: this Model itself);
  // a multi-graph file (format 2) holds more, e.g. "decoder", each a Model
  // view that shares this one's bytes and lives as long as it. A view has
  // its own tensors, nodes, inputs and outputs, no pipeline, and can be
  // given to Session::Create like any model.
  int num_graphs() const { return 1 + static_cast<int>(graphs_.size()); }
  const Model* graph(int index) const;   // null when out of range
  int FindGraph(const char* name) const;  // -1 when no graph has that name
  const char* graph_name() const { return graph_name_; }
  // Links between the graphs (schema GraphLink); empty for one graph.
  const Array<GraphLinkInfo>& links() const { return links_; }
  // The link that feeds the sampled latent into another graph (the
  // decoder), or null.
  const GraphLinkInfo* decoder_link() const;
  // The link that feeds graph 0's condition input from another graph's
  // output (a condition encoder: token ids -> embedding sequence), or null.
  const GraphLinkInfo* cond_encoder_link() const;

 private:
  Model() = default;
  friend class ModelLoader;

  // Backing bytes: exactly one of these owns them (or neither, for borrowed).
  void* mapping_ = nullptr;
  size_t mapping_size_ = 0;
  std::unique_ptr<uint8_t[]> owned_;
  const uint8_t* base_ = nullptr;
  size_t size_ = 0;

  const fb::Model* fb_ = nullptr;
  const Model* owner_ = nullptr;  // set on graph views: the model holding them
  const fb::Graph* graph_ = nullptr;  // a view's table
  const char* graph_name_ = "denoiser";
  Array<std::unique_ptr<Model>> graphs_;
  Array<GraphLinkInfo> links_;
  Array<TensorInfo> tensors_;
  Array<NodeInfo> nodes_;
  Array<int> inputs_;
  Array<int> outputs_;
  Array<CacheRegionInfo> regions_;
};

// Bytes of a row-major tensor of this dtype and shape (sub-byte weight
// formats such as NVFP4 round each row of the last axis up to whole bytes:
// ops/quant_format.h). Returns false on overflow or unknown dtype.
bool StorageBytes(fb::DType dtype, const int64_t* dims, int rank, size_t* bytes);
size_t DTypeSize(fb::DType dtype);  // 0 for sub-byte types (NVFP4)
const char* DTypeName(fb::DType dtype);

}  // namespace edge
