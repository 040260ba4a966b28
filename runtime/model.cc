// Model loading: get the bytes (mmap, read() fallback, or the caller's
// buffer), hand them to ValidateModel(), keep the views it built.
#include "runtime/model.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "runtime/model_validate.h"
#include "runtime/weight_format.h"

namespace edge {

class ModelLoader {
 public:
  // Allocates `size` bytes aligned to kDataAlignment into model->owned_.
  static Status AllocateOwned(Model* model, size_t size) {
    if (size > std::numeric_limits<size_t>::max() - kDataAlignment) {
      return Status::Error(StatusCode::kOutOfMemory, "model of %zu bytes is too large", size);
    }
    model->owned_.reset(new (std::nothrow) uint8_t[size + kDataAlignment]);
    if (!model->owned_) {
      return Status::Error(StatusCode::kOutOfMemory, "cannot allocate %zu bytes for the model",
                           size);
    }
    const uintptr_t p = reinterpret_cast<uintptr_t>(model->owned_.get());
    const uintptr_t aligned = (p + kDataAlignment - 1) & ~uintptr_t(kDataAlignment - 1);
    model->base_ = model->owned_.get() + (aligned - p);
    model->size_ = size;
    return Status::Ok();
  }

  static Result<std::unique_ptr<Model>> Validate(std::unique_ptr<Model> model) {
    ValidatedModel v;
    EDGE_RETURN_IF_ERROR(ValidateModel(model->base_, model->size_, &v));
    model->fb_ = v.fb;
    TakeGraph(model.get(), &v.main);
    if (!model->graphs_.Reset(v.extra.size())) {
      return Status::Error(StatusCode::kOutOfMemory, "cannot allocate the graph table");
    }
    for (size_t g = 0; g < v.extra.size(); ++g) {
      std::unique_ptr<Model> view(new (std::nothrow) Model());
      if (!view) return Status::Error(StatusCode::kOutOfMemory, "cannot allocate a graph view");
      view->owner_ = model.get();
      view->fb_ = v.fb;
      view->base_ = model->base_;
      view->size_ = model->size_;
      view->graph_ = v.fb->graphs()->Get(static_cast<flatbuffers::uoffset_t>(g));
      TakeGraph(view.get(), &v.extra[g]);
      model->graphs_[g] = std::move(view);
    }
    model->links_ = std::move(v.links);
    Result<std::unique_ptr<Model>> result(std::move(model));
    return result;
  }

  static void TakeGraph(Model* model, ValidatedGraph* g) {
    model->graph_name_ = g->name;
    model->tensors_ = std::move(g->tensors);
    model->nodes_ = std::move(g->nodes);
    model->inputs_ = std::move(g->inputs);
    model->outputs_ = std::move(g->outputs);
    model->regions_ = std::move(g->regions);
  }

  static Status ReadAll(int fd, const char* path, uint8_t* dst, size_t size) {
    size_t done = 0;
    while (done < size) {
      const size_t chunk = size - done < (size_t(1) << 30) ? size - done : (size_t(1) << 30);
      const ssize_t n = ::read(fd, dst + done, chunk);
      if (n < 0) {
        if (errno == EINTR) continue;
        return Status::Error(StatusCode::kIoError, "read '%s': %s", path, std::strerror(errno));
      }
      if (n == 0) {
        return Status::Error(StatusCode::kIoError, "read '%s': file shrank while reading", path);
      }
      done += static_cast<size_t>(n);
    }
    return Status::Ok();
  }

  static Result<std::unique_ptr<Model>> LoadFile(const char* path, const LoadOptions& options) {
    if (!path) return Status::Error(StatusCode::kInvalidArgument, "null model path");
    const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return Status::Error(StatusCode::kIoError, "cannot open '%s': %s", path,
                           std::strerror(errno));
    }
    Result<std::unique_ptr<Model>> result = LoadFd(fd, path, options);
    ::close(fd);
    return result;
  }

  static Result<std::unique_ptr<Model>> LoadFd(int fd, const char* path, const LoadOptions& options) {
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      return Status::Error(StatusCode::kIoError, "stat '%s': %s", path, std::strerror(errno));
    }
    if (S_ISDIR(st.st_mode)) {
      return Status::Error(StatusCode::kIoError, "'%s' is a directory, not a model file", path);
    }
    if (!S_ISREG(st.st_mode)) {
      return Status::Error(StatusCode::kIoError, "'%s' is not a regular file", path);
    }
    if (st.st_size == 0) {
      return Status::Error(StatusCode::kInvalidModel, "'%s' is empty (0 bytes)", path);
    }
    if (st.st_size < 8) {
      return Status::Error(StatusCode::kInvalidModel,
                           "'%s': file too small (%lld bytes; a model needs at least 8)", path,
                           static_cast<long long>(st.st_size));
    }
    if (static_cast<unsigned long long>(st.st_size) >
        static_cast<unsigned long long>(std::numeric_limits<size_t>::max() / 2)) {
      return Status::Error(StatusCode::kIoError, "'%s' is too large to map", path);
    }
    const size_t size = static_cast<size_t>(st.st_size);
    std::unique_ptr<Model> model(new (std::nothrow) Model());
    if (!model) return Status::Error(StatusCode::kOutOfMemory, "cannot allocate a Model");

    // EDGE_NO_MMAP forces the read() path (systems where mapping is
    // undesirable, and tests of that path).
    const char* no_mmap = std::getenv("EDGE_NO_MMAP");
    void* map = MAP_FAILED;
    if (!options.read_into_memory && !(no_mmap && no_mmap[0] && no_mmap[0] != '0')) {
      map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    }
    if (map != MAP_FAILED) {
      model->mapping_ = map;
      model->mapping_size_ = size;
      model->base_ = static_cast<const uint8_t*>(map);
      model->size_ = size;
    } else {
      EDGE_RETURN_IF_ERROR(AllocateOwned(model.get(), size));
      EDGE_RETURN_IF_ERROR(ReadAll(fd, path, const_cast<uint8_t*>(model->base_), size));
    }
    Result<std::unique_ptr<Model>> result = Validate(std::move(model));
    if (!result.ok()) {
      Status s = result.status();
      return s.Prepend("%s: ", path);
    }
    return result;
  }

  static Result<std::unique_ptr<Model>> LoadBuffer(const void* data, size_t size, bool copy) {
    if (!data && size != 0) {
      return Status::Error(StatusCode::kInvalidArgument, "null model buffer");
    }
    if (!data || size == 0) return Status::Error(StatusCode::kInvalidModel, "model buffer is empty");
    std::unique_ptr<Model> model(new (std::nothrow) Model());
    if (!model) return Status::Error(StatusCode::kOutOfMemory, "cannot allocate a Model");
    // Constants are used in place, so they must be 64-byte aligned: bytes
    // that are not are copied even when the caller offered to lend them.
    const bool aligned = reinterpret_cast<uintptr_t>(data) % kDataAlignment == 0;
    if (copy || !aligned) {
      EDGE_RETURN_IF_ERROR(AllocateOwned(model.get(), size));
      std::memcpy(const_cast<uint8_t*>(model->base_), data, size);
    } else {
      model->base_ = static_cast<const uint8_t*>(data);
      model->size_ = size;
    }
    return Validate(std::move(model));
  }
};

Result<std::unique_ptr<Model>> Model::LoadFile(const char* path) {
  return ModelLoader::LoadFile(path, LoadOptions());
}

Result<std::unique_ptr<Model>> Model::LoadFile(const char* path, const LoadOptions& options) {
  return ModelLoader::LoadFile(path, options);
}

Result<std::unique_ptr<Model>> Model::LoadBuffer(const void* data, size_t size, bool copy) {
  return ModelLoader::LoadBuffer(data, size, copy);
}

Model::~Model() {
  if (mapping_) ::munmap(mapping_, mapping_size_);
}

const char* Model::name() const {
  const auto* s = fb_ ? fb_->name() : nullptr;
  return s ? s->c_str() : "";
}

const char* Model::producer() const {
  const auto* s = fb_ ? fb_->producer() : nullptr;
  return s ? s->c_str() : "";
}

int Model::FindTensor(const char* name) const {
  if (!name) return -1;
  for (size_t i = 0; i < tensors_.size(); ++i) {
    if (std::strcmp(tensors_[i].name, name) == 0) return static_cast<int>(i);
  }
  return -1;
}

const Model* Model::graph(int index) const {
  if (index == 0) return this;
  if (index < 0 || index >= num_graphs()) return nullptr;
  return graphs_[static_cast<size_t>(index - 1)].get();
}

int Model::FindGraph(const char* name) const {
  if (!name) return -1;
  for (int g = 0; g < num_graphs(); ++g) {
    if (std::strcmp(graph(g)->graph_name(), name) == 0) return g;
  }
  return -1;
}

const GraphLinkInfo* Model::decoder_link() const {
  for (const GraphLinkInfo& l : links_) {
    if (l.sampled_latent) return &l;
  }
  return nullptr;
}

const GraphLinkInfo* Model::cond_encoder_link() const {
  const fb::Pipeline* p = pipeline();
  if (p == nullptr || p->condition_input() < 0) return nullptr;
  for (const GraphLinkInfo& l : links_) {
    if (l.to_graph == 0 && l.to_tensor == p->condition_input()) return &l;
  }
  return nullptr;
}

// Bytes of distinct buffers referenced by constants (data and scales); two
// tensors sharing one buffer count it once.
size_t Model::constant_bytes() const {
  if (!fb_ || !fb_->buffers()) return 0;
  const auto* buffers = fb_->buffers();
  std::vector<char> used(buffers->size(), 0);
  size_t total = 0;
  const auto* tensors = graph_ != nullptr ? graph_->tensors() : fb_->tensors();
  for (flatbuffers::uoffset_t i = 0; tensors && i < tensors->size(); ++i) {
    const fb::Tensor* t = tensors->Get(i);
    int ids[2] = {t->buffer(), t->quant() ? t->quant()->scale_buffer() : -1};
    for (int b : ids) {
      if (b < 0 || used[static_cast<size_t>(b)]) continue;
      used[static_cast<size_t>(b)] = 1;
      total += static_cast<size_t>(buffers->Get(static_cast<flatbuffers::uoffset_t>(b))->size());
    }
  }
  return total;
}

bool StorageBytes(fb::DType dtype, const int64_t* dims, int rank, size_t* bytes) {
  if (rank < 0 || rank > kMaxRank || (rank > 0 && !dims)) return false;
  uint64_t count = 1;
  for (int i = 0; i < rank; ++i) {
    if (dims[i] < 0) return false;
    if (__builtin_mul_overflow(count, static_cast<uint64_t>(dims[i]), &count)) return false;
  }
  uint64_t total = 0;
  const QuantFormatTraits* format = WeightFormatOfDType(dtype);
  if (format != nullptr && format->elems_per_unit > 1) {
    // Sub-byte codes: whole bytes per row (last axis); a rank-0 value is one
    // row of one element.
    uint64_t rows = 1;
    for (int i = 0; i + 1 < rank; ++i) rows *= static_cast<uint64_t>(dims[i]);  // <= count
    const uint64_t k = rank > 0 ? static_cast<uint64_t>(dims[rank - 1]) : 1;
    if (!QuantRowMajorBytes(*format, rows, k, &total)) return false;
  } else {
    const size_t elem = DTypeSize(dtype);
    if (elem == 0) return false;
    if (__builtin_mul_overflow(count, static_cast<uint64_t>(elem), &total)) return false;
  }
  if (total > std::numeric_limits<size_t>::max()) return false;
  *bytes = static_cast<size_t>(total);
  return true;
}

size_t DTypeSize(fb::DType dtype) {
  switch (dtype) {
    case fb::DType::F32: return 4;
    case fb::DType::F16: return 2;
    case fb::DType::I32: return 4;
    case fb::DType::I64: return 8;
    case fb::DType::I8: return 1;
    case fb::DType::U8: return 1;
    case fb::DType::NVFP4: return 0;
  }
  return 0;
}

const char* DTypeName(fb::DType dtype) {
  switch (dtype) {
    case fb::DType::F32: return "F32";
    case fb::DType::F16: return "F16";
    case fb::DType::I32: return "I32";
    case fb::DType::I64: return "I64";
    case fb::DType::I8: return "I8";
    case fb::DType::U8: return "U8";
    case fb::DType::NVFP4: return "NVFP4";
  }
  return "unknown";
}

}  // namespace edge
