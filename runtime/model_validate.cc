// Every check the runtime makes on model bytes before trusting them.
//
// Order matters: each step only touches what earlier steps proved safe. The
// size prefix and identifier are checked by hand, then the FlatBuffers
// verifier proves every offset, vector and string lies inside the buffer, and
// only then are fields read: buffers, tensors, graph inputs, operators (two
// passes: structure, then definition order and dtypes), cache regions and the
// pipeline. All arithmetic on untrusted numbers is done in 64 bits with
// explicit overflow checks.
#include "runtime/model_validate.h"

#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <limits>

#include "flatbuffers/flatbuffers.h"
#include "runtime/op_traits.h"
#include "runtime/sampler.h"
#include "runtime/weight_format.h"

namespace edge {
namespace {

// The schema nests at most ~4 levels; a generous bound still stops hostile
// deep nesting. The table budget bounds both verifier time and the memory the
// views take (one TensorInfo / NodeInfo per table at most).
constexpr flatbuffers::uoffset_t kVerifierMaxDepth = 32;
constexpr flatbuffers::uoffset_t kVerifierMaxTables = 1u << 20;

Status Invalid(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
Status Invalid(const char* fmt, ...) {
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  return Status::Error(StatusCode::kInvalidModel, "%s", buf);
}

// Building the views needs memory; without it the model is not refused as
// malformed but reported as what it is.
Status OutOfMemory(const char* what) {
  return Status::Error(StatusCode::kOutOfMemory, "out of memory while loading the model (%s)", what);
}

// "tensor 12 'blk0.w': " style prefix for messages about one object.
struct Where {
  char text[160];
};

Status At(const Where& where, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
Status At(const Where& where, const char* fmt, ...) {
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  return Status::Error(StatusCode::kInvalidModel, "%s%s", where.text, buf);
}

const char* Str(const flatbuffers::String* s) { return s ? s->c_str() : ""; }

template <typename T>
int VecSize(const flatbuffers::Vector<T>* v) {
  return v ? static_cast<int>(v->size()) : 0;
}

// Vectors of 8-byte elements are not alignment-checked by the verifier; we
// reject misaligned ones so that every later Get() is an aligned load.
template <typename T>
bool Aligned8(const flatbuffers::Vector<T>* v) {
  return !v || v->size() == 0 || (reinterpret_cast<uintptr_t>(v->Data()) & 7u) == 0;
}

bool CheckedMul(uint64_t a, uint64_t b, uint64_t* out) {
  return !__builtin_mul_overflow(a, b, out);
}

bool FitsSize(uint64_t v) { return v <= std::numeric_limits<size_t>::max(); }

bool Finite(float v) { return std::isfinite(v); }

// State shared by the passes.
struct Ctx {
  const uint8_t* base = nullptr;
  size_t size = 0;
  const fb::Model* model = nullptr;
  uint64_t data_offset = 0;  // start of the data segment in the file
  uint64_t data_size = 0;    // bytes from there to the end of the file
  int num_buffers = 0;
  // The graph being checked: the Model's own tables (graph 0) or a Graph's.
  const flatbuffers::Vector<flatbuffers::Offset<fb::Tensor>>* graph_tensors = nullptr;
  const flatbuffers::Vector<flatbuffers::Offset<fb::Operator>>* graph_ops = nullptr;
  const flatbuffers::Vector<int32_t>* graph_inputs = nullptr;
  const flatbuffers::Vector<int32_t>* graph_outputs = nullptr;
  const flatbuffers::Vector<flatbuffers::Offset<fb::CacheRegion>>* graph_regions = nullptr;
  Array<TensorInfo>* tensors = nullptr;
  Array<int> producer;           // op index producing each tensor, -1 if none
  Array<char> is_input;          // graph input flags
};

const uint8_t* BufferData(const Ctx& c, int index, uint64_t* size) {
  const fb::Buffer* b = c.model->buffers()->Get(static_cast<flatbuffers::uoffset_t>(index));
  *size = b->size();
  // A zero-byte buffer may sit at the very end of an empty data segment;
  // clamp so the pointer never leaves the file.
  uint64_t pos = c.data_offset + b->offset();
  if (pos > c.size) pos = c.size;
  return c.base + pos;
}

void TensorWhere(const Ctx& c, int index, Where* w) {
  const fb::Tensor* t = c.graph_tensors->Get(static_cast<flatbuffers::uoffset_t>(index));
  std::snprintf(w->text, sizeof(w->text), "tensor %d '%s': ", index, Str(t->name()));
}

// "tensor 3 'x'" for messages about op operands.
void TensorLabel(const Ctx& c, int index, char* buf, size_t n) {
  const fb::Tensor* t = c.graph_tensors->Get(static_cast<flatbuffers::uoffset_t>(index));
  std::snprintf(buf, n, "tensor %d '%s'", index, Str(t->name()));
}

Status CheckHeader(const uint8_t* data, size_t size, uint32_t* fb_size) {
  if (size < 8) return Invalid("file too small (%zu bytes; a model needs at least 8)", size);
  uint32_t prefix;
  std::memcpy(&prefix, data, 4);
  prefix = flatbuffers::EndianScalar(prefix);
  if (prefix > size - 4) {
    return Invalid("size prefix %u exceeds the file size %zu (truncated file?)", prefix, size);
  }
  if (prefix < 8) return Invalid("size prefix %u is too small for a FlatBuffer", prefix);
  if (uint64_t(prefix) + 4 >= FLATBUFFERS_MAX_BUFFER_SIZE) {
    return Invalid("size prefix %u exceeds the FlatBuffers limit", prefix);
  }
  const char* want = fb::ModelIdentifier();
  if (std::memcmp(data + 8, want, 4) != 0) {
    char got[20];
    int n = 0;
    for (int i = 0; i < 4; ++i) {
      unsigned char ch = data[8 + i];
      if (ch >= 0x20 && ch < 0x7f && ch != '\\') {
        got[n++] = static_cast<char>(ch);
      } else {
        n += std::snprintf(got + n, sizeof(got) - n, "\\x%02x", ch);
      }
    }
    got[n] = 0;
    return Invalid("wrong file identifier '%s' (expected '%s'): not an edge model", got, want);
  }
  *fb_size = prefix;
  return Status::Ok();
}

Status CheckBuffers(Ctx* c) {
  const auto* buffers = c->model->buffers();
  if (!Aligned8(buffers)) return Invalid("buffers: vector is not 8-byte aligned");
  c->num_buffers = VecSize(buffers);
  for (int i = 0; i < c->num_buffers; ++i) {
    const fb::Buffer* b = buffers->Get(static_cast<flatbuffers::uoffset_t>(i));
    const uint64_t off = b->offset(), sz = b->size();
    if (off % kDataAlignment != 0) {
      return Invalid("buffer %d: offset %llu is not a multiple of %zu", i,
                     static_cast<unsigned long long>(off), kDataAlignment);
    }
    if (off > c->data_size || sz > c->data_size - off) {
      return Invalid("buffer %d (offset %llu, size %llu) ends past end of file "
                     "(data segment holds %llu bytes)",
                     i, static_cast<unsigned long long>(off), static_cast<unsigned long long>(sz),
                     static_cast<unsigned long long>(c->data_size));
    }
  }
  return Status::Ok();
}

Status CheckBufferIndex(const Ctx& c, const Where& w, const char* what, int index) {
  if (index < 0 || index >= c.num_buffers) {
    return At(w, "%s index %d out of range (%d buffers)", what, index, c.num_buffers);
  }
  return Status::Ok();
}

Status CheckQuantization(const Ctx& c, const Where& w, const fb::Tensor* t, TensorInfo* info) {
  const fb::Quantization* q = t->quant();
  const fb::QuantScheme scheme = q ? q->scheme() : fb::QuantScheme::None;
  if (static_cast<int>(scheme) < 0 || scheme > fb::QuantScheme::MAX) {
    return At(w, "unknown quantization scheme %d", static_cast<int>(scheme));
  }
  info->quant = scheme;
  if (scheme == fb::QuantScheme::None) {
    if (info->dtype == fb::DType::NVFP4) return At(w, "dtype NVFP4 requires NVFP4 quantization");
    if (q && q->scale_buffer() != -1) {
      return At(w, "scale_buffer %d set without a quantization scheme", q->scale_buffer());
    }
    return Status::Ok();
  }
  if (!info->is_constant) return At(w, "an activation cannot be quantized");
  if (info->rank < 1) return At(w, "a quantized tensor needs rank >= 1");
  const int block = q->block_size();
  if (scheme == fb::QuantScheme::NVFP4) {
    if (info->dtype != fb::DType::NVFP4) {
      return At(w, "NVFP4 quantization requires dtype NVFP4, got %s", DTypeName(info->dtype));
    }
    const int want_block = static_cast<int>(WeightFormatOfScheme(scheme)->scale_block);
    if (block != want_block) return At(w, "NVFP4 block_size %d is not %d", block, want_block);
    const float ts = q->tensor_scale();
    if (!Finite(ts) || !(ts > 0.f)) {
      return At(w, "NVFP4 tensor_scale %g must be finite and positive", static_cast<double>(ts));
    }
    info->tensor_scale = ts;
  } else {  // Int8PerChannel
    if (info->dtype != fb::DType::I8) {
      return At(w, "Int8PerChannel quantization requires dtype I8, got %s",
                DTypeName(info->dtype));
    }
  }
  info->block_size = block;
  const int sb = q->scale_buffer();
  EDGE_RETURN_IF_ERROR(CheckBufferIndex(c, w, "scale_buffer", sb));
  size_t want = 0;
  if (!QuantScaleBytes(scheme, info->layout, info->dims, info->rank, block, &want)) {
    return At(w, "scale size overflows");
  }
  uint64_t have = 0;
  const uint8_t* scales = BufferData(c, sb, &have);
  if (have != want) {
    return At(w, "scale buffer %d holds %llu bytes, expected %zu", sb,
              static_cast<unsigned long long>(have), want);
  }
  if (scheme == fb::QuantScheme::Int8PerChannel) {
    for (size_t i = 0; i < want / 4; ++i) {
      float s;
      std::memcpy(&s, scales + 4 * i, 4);
      if (!Finite(s)) return At(w, "per-channel scale %zu is not finite", i);
    }
  } else {
    // E4M3 has no infinities; S.1111.111 is NaN.
    for (size_t i = 0; i < want; ++i) {
      if ((scales[i] & 0x7f) == 0x7f) return At(w, "E4M3 block scale %zu is NaN", i);
    }
  }
  info->scale_data = scales;
  info->scale_bytes = want;
  return Status::Ok();
}

Status CheckTensor(const Ctx& c, int index, TensorInfo* info) {
  const fb::Tensor* t = c.graph_tensors->Get(static_cast<flatbuffers::uoffset_t>(index));
  Where w;
  TensorWhere(c, index, &w);
  info->name = Str(t->name());

  const auto* shape = t->shape();
  if (!Aligned8(shape)) return At(w, "shape vector is not 8-byte aligned");
  const int rank = VecSize(shape);
  if (rank > kMaxRank) return At(w, "rank %d exceeds the maximum %d", rank, kMaxRank);
  info->rank = rank;
  bool has_zero = false;
  for (int d = 0; d < rank; ++d) {
    const int64_t v = shape->Get(static_cast<flatbuffers::uoffset_t>(d));
    if (v < 0) return At(w, "dim %d is negative (%lld)", d, static_cast<long long>(v));
    if (v > kMaxTensorElements) {
      return At(w, "dim %d (%lld) exceeds the element limit %lld", d, static_cast<long long>(v),
                static_cast<long long>(kMaxTensorElements));
    }
    info->dims[d] = v;
    has_zero |= v == 0;
  }
  uint64_t count = 1;
  if (has_zero) {
    count = 0;
  } else {
    for (int d = 0; d < rank; ++d) {
      if (!CheckedMul(count, static_cast<uint64_t>(info->dims[d]), &count) ||
          count > static_cast<uint64_t>(kMaxTensorElements)) {
        return At(w, "element count overflows the limit %lld",
                  static_cast<long long>(kMaxTensorElements));
      }
    }
  }
  info->num_elements = static_cast<int64_t>(count);

  const int dt = static_cast<int>(t->dtype());
  if (dt < 0 || dt > static_cast<int>(fb::DType::MAX)) return At(w, "unknown dtype %d", dt);
  info->dtype = t->dtype();
  const int lay = static_cast<int>(t->layout());
  if (lay < 0 || lay > static_cast<int>(fb::WeightLayout::MAX)) {
    return At(w, "unknown weight layout %d", lay);
  }
  info->layout = t->layout();

  const int buffer = t->buffer();
  if (buffer < -1 || buffer >= c.num_buffers) {
    return At(w, "buffer index %d out of range (%d buffers)", buffer, c.num_buffers);
  }
  info->is_constant = buffer >= 0;
  if (!info->is_constant) {
    if (info->dtype == fb::DType::NVFP4) return At(w, "an activation cannot have dtype NVFP4");
    if (info->layout != fb::WeightLayout::RowMajor) {
      return At(w, "an activation must have layout RowMajor");
    }
  }
  size_t bytes = 0;
  if (!ConstantStorageBytes(info->dtype, info->layout, info->dims, rank, &bytes) ||
      bytes > static_cast<uint64_t>(kMaxTensorElements)) {
    if (info->layout != fb::WeightLayout::RowMajor) {
      return At(w, "layout %s does not fit dtype %s and rank %d",
                fb::EnumNameWeightLayout(info->layout), DTypeName(info->dtype), rank);
    }
    return At(w, "storage size overflows the limit");
  }
  info->bytes = bytes;
  EDGE_RETURN_IF_ERROR(CheckQuantization(c, w, t, info));
  if (info->is_constant) {
    uint64_t have = 0;
    info->data = BufferData(c, buffer, &have);
    if (have != bytes) {
      return At(w, "buffer %d holds %llu bytes, expected %zu for this shape/dtype", buffer,
                static_cast<unsigned long long>(have), bytes);
    }
  }
  return Status::Ok();
}

Status CheckGraphIndex(const Ctx& c, const char* what, int pos, int index) {
  const int n = static_cast<int>(c.tensors->size());
  if (index < 0 || index >= n) {
    return Invalid("%s %d: tensor index %d out of range (%d tensors)", what, pos, index, n);
  }
  return Status::Ok();
}

Status CheckAxis(const Where& w, const char* what, int axis, int rank) {
  if (axis < -rank || axis >= rank || rank == 0) {
    return At(w, "%s %d out of range for rank %d", what, axis, rank);
  }
  return Status::Ok();
}

// Option tables: presence, type and value ranges.
Status CheckOptions(const Ctx& c, const Where& w, const fb::Operator* op, const OpTraits& traits,
                    int in_rank) {
  const fb::OpOptions want = traits.options;
  const fb::OpOptions have = op->options_type();
  const bool present = have != fb::OpOptions::NONE && op->options() != nullptr;
  if (have != fb::OpOptions::NONE && have != want) {
    return At(w, "options type %d does not belong to this op (expected %s)",
              static_cast<int>(have),
              want == fb::OpOptions::NONE ? "none" : fb::EnumNameOpOptions(want));
  }
  if (!present) {
    if (want != fb::OpOptions::NONE) return At(w, "missing %s", fb::EnumNameOpOptions(want));
    return Status::Ok();
  }
  // Value ranges belong to the option table, whichever op carries it.
  using O = fb::OpOptions;
  switch (want) {
    case O::LinearOptions: {
      const int a = static_cast<int>(op->options_as_LinearOptions()->activation());
      if (a < 0 || a > static_cast<int>(fb::Activation::MAX)) {
        return At(w, "unknown fused activation %d", a);
      }
      break;
    }
    case O::NormOptions: {
      const float eps = op->options_as_NormOptions()->epsilon();
      if (!Finite(eps) || eps < 0.f) return At(w, "epsilon %g must be finite and >= 0", eps);
      break;
    }
    case O::GroupNormOptions: {
      const fb::GroupNormOptions* o = op->options_as_GroupNormOptions();
      if (!Finite(o->epsilon()) || o->epsilon() < 0.f) {
        return At(w, "epsilon %g must be finite and >= 0", o->epsilon());
      }
      if (o->groups() < 1) return At(w, "groups %d must be >= 1", o->groups());
      if (o->activation() != fb::Activation::None && o->activation() != fb::Activation::SiLU) {
        return At(w, "fused activation %d is not None or SiLU", static_cast<int>(o->activation()));
      }
      break;
    }
    case O::AxisOptions:
      return CheckAxis(w, "axis", op->options_as_AxisOptions()->axis(), in_rank);
    case O::TransposeOptions: {
      const auto* perm = op->options_as_TransposeOptions()->perm();
      if (VecSize(perm) != in_rank) {
        return At(w, "perm has %d entries, input rank is %d", VecSize(perm), in_rank);
      }
      bool seen[kMaxRank] = {false};
      for (int i = 0; i < in_rank; ++i) {
        const int p = perm->Get(static_cast<flatbuffers::uoffset_t>(i));
        if (p < 0 || p >= in_rank || seen[p]) {
          return At(w, "perm is not a permutation of 0..%d (entry %d is %d)", in_rank - 1, i, p);
        }
        seen[p] = true;
      }
      break;
    }
    case O::SliceOptions: {
      const auto* o = op->options_as_SliceOptions();
      if (!Aligned8(o->starts()) || !Aligned8(o->steps())) {
        return At(w, "slice vectors are not 8-byte aligned");
      }
      if (VecSize(o->starts()) != in_rank || VecSize(o->steps()) != in_rank) {
        return At(w, "slice starts/steps have %d/%d entries, input rank is %d",
                  VecSize(o->starts()), VecSize(o->steps()), in_rank);
      }
      for (int i = 0; i < in_rank; ++i) {
        if (o->steps()->Get(static_cast<flatbuffers::uoffset_t>(i)) == 0) {
          return At(w, "slice step %d is 0", i);
        }
      }
      break;
    }
    case O::ConvOptions: {
      const auto* o = op->options_as_ConvOptions();
      if (o->kernel_h() <= 0 || o->kernel_w() <= 0 || o->stride_h() <= 0 ||
          o->stride_w() <= 0 || o->dilation_h() <= 0 || o->dilation_w() <= 0 ||
          o->groups() <= 0) {
        return At(w, "conv kernel/stride/dilation/groups must be > 0 (kernel %dx%d, stride "
                  "%dx%d, dilation %dx%d, groups %d)",
                  o->kernel_h(), o->kernel_w(), o->stride_h(), o->stride_w(), o->dilation_h(),
                  o->dilation_w(), o->groups());
      }
      if (o->pad_top() < 0 || o->pad_left() < 0 || o->pad_bottom() < 0 || o->pad_right() < 0) {
        return At(w, "conv padding must be >= 0");
      }
      break;
    }
    case O::TimestepEmbeddingOptions: {
      const auto* o = op->options_as_TimestepEmbeddingOptions();
      if (o->dim() <= 0 || o->dim() % 2 != 0) {
        return At(w, "timestep embedding dim %d must be positive and even", o->dim());
      }
      if (!Finite(o->max_period()) || !(o->max_period() > 0.f) ||
          !Finite(o->downscale_freq_shift()) || !Finite(o->scale())) {
        return At(w, "timestep embedding max_period/shift/scale must be finite (max_period > 0)");
      }
      break;
    }
    case O::AttentionOptions: {
      const auto* o = op->options_as_AttentionOptions();
      if (o->num_heads() <= 0) return At(w, "num_heads %d must be > 0", o->num_heads());
      if (!Finite(o->scale()) || o->scale() < 0.f) {
        return At(w, "attention scale %g must be finite and >= 0", o->scale());
      }
      const int lay = static_cast<int>(o->layout());
      if (lay < 0 || lay > static_cast<int>(fb::TensorLayout::MAX)) {
        return At(w, "unknown attention layout %d", lay);
      }
      const float d = o->sparse_density();
      if (!(d >= 0.f && d <= 1.f)) return At(w, "sparse_density %g not in [0, 1]", d);
      const int ap = static_cast<int>(o->precision());
      if (ap < static_cast<int>(fb::AttentionPrecision::MIN) ||
          ap > static_cast<int>(fb::AttentionPrecision::MAX)) {
        return At(w, "attention precision %d unknown", ap);
      }
      if (o->sparse_mode() < 0 || o->sparse_mode() > 1) {
        return At(w, "attention sparse_mode %d not 0 (tiles) or 1 (clusters)", o->sparse_mode());
      }
      if (!Finite(o->sparse_err_tol())) return At(w, "attention sparse_err_tol is not finite");
      if (!(Finite(o->token_reuse()) && o->token_reuse() >= 0.f)) {
        return At(w, "attention token_reuse %g must be finite and >= 0", o->token_reuse());
      }
      break;
    }
    case O::RopeOptions: {
      const auto* o = op->options_as_RopeOptions();
      if (o->num_heads() <= 0) return At(w, "num_heads %d must be > 0", o->num_heads());
      const int lay = static_cast<int>(o->layout());
      if (lay < 0 || lay > static_cast<int>(fb::TensorLayout::MAX)) {
        return At(w, "unknown rope layout %d", lay);
      }
      break;
    }
    case O::UnaryOptions: {
      const int k = static_cast<int>(op->options_as_UnaryOptions()->kind());
      if (k < 0 || k > static_cast<int>(fb::UnaryKind::MAX)) {
        return At(w, "unknown unary kind %d", k);
      }
      break;
    }
    default:
      break;
  }
  (void)c;
  return Status::Ok();
}

void OpWhere(const fb::Operator* op, int index, Where* w) {
  std::snprintf(w->text, sizeof(w->text), "op %d (%s '%s'): ", index,
                fb::EnumNameOpType(op->type()), Str(op->name()));
}

// Pass 1: structure of each op, and who produces what.
Status CheckOpStructure(Ctx* c, int index, const fb::Operator* op, uint64_t* slots) {
  Where w;
  const int type_raw = static_cast<int>(op->type());
  if (type_raw > static_cast<int>(fb::OpType::MAX)) {
    return Invalid("op %d ('%s'): unknown op type %d", index, Str(op->name()), type_raw);
  }
  OpWhere(op, index, &w);
  const OpTraits& traits = *FindOpTraits(op->type());
  const int nin = VecSize(op->inputs()), nout = VecSize(op->outputs());
  if (nin < traits.min_in || nin > traits.max_in) {
    return At(w, "has %d inputs, expects %d..%d", nin, traits.min_in, traits.max_in);
  }
  if (nout < traits.min_out || nout > traits.max_out) {
    return At(w, "has %d outputs, expects %d..%d", nout, traits.min_out, traits.max_out);
  }
  // Index vectors are not deduplicated by writers; a file that shares one
  // vector between many ops to inflate our views is rejected here.
  *slots += static_cast<uint64_t>(nin) + static_cast<uint64_t>(nout);
  if (*slots > c->size / 4) return At(w, "operators reference more tensors than the file holds");
  const int n = static_cast<int>(c->tensors->size());
  char label[200];
  for (int i = 0; i < nin; ++i) {
    const int t = op->inputs()->Get(static_cast<flatbuffers::uoffset_t>(i));
    if (t == -1) {
      if (i < traits.min_in) return At(w, "required input %d is absent (-1)", i);
      continue;
    }
    if (t < 0 || t >= n) {
      return At(w, "input %d: tensor index %d out of range (%d tensors)", i, t, n);
    }
  }
  for (int i = 0; i < nout; ++i) {
    const int t = op->outputs()->Get(static_cast<flatbuffers::uoffset_t>(i));
    if (t < 0 || t >= n) {
      return At(w, "output %d: tensor index %d out of range (%d tensors; outputs cannot be -1)",
                i, t, n);
    }
    TensorLabel(*c, t, label, sizeof(label));
    if ((*c->tensors)[t].is_constant) return At(w, "output %d is %s, a constant", i, label);
    if (c->is_input[t]) return At(w, "output %d is %s, a graph input", i, label);
    if (c->producer[t] != -1) {
      return At(w, "output %d is %s, already produced by op %d", i, label, c->producer[t]);
    }
    c->producer[t] = index;
  }
  const int in_rank = (*c->tensors)[op->inputs()->Get(0)].rank;
  return CheckOptions(*c, w, op, traits, in_rank);
}

// A Conv2d weight: F32, or what edge-convert --conv-precision int8 writes,
// INT8 per output channel in OIHW (its layout was checked with the other
// inputs': row-major; its scales, one finite FP32 per output channel, with
// the tensor).
Status CheckConvWeight(const Where& w, const TensorInfo& t) {
  if (t.dtype == fb::DType::F32 && t.quant == fb::QuantScheme::None) return Status::Ok();
  if (t.dtype != fb::DType::I8 || t.quant != fb::QuantScheme::Int8PerChannel) {
    return At(w, "Conv2d weight '%s' has dtype %s with quantization %s; expected F32 or I8 (Int8PerChannel)",
              t.name, DTypeName(t.dtype), fb::EnumNameQuantScheme(t.quant));
  }
  if (t.rank != 4) return At(w, "Conv2d INT8 weight '%s' has rank %d, expected 4 (OIHW)", t.name, t.rank);
  return Status::Ok();
}

// Dtype rules per op, by its traits row (constants included: they are not
// retyped at runtime).
Status CheckOpDtypes(const Ctx& c, const Where& w, const NodeInfo& node) {
  const OpDTypes rule = FindOpTraits(node.type)->dtypes;
  const auto& ts = *c.tensors;
  auto is_weight = [&](size_t i) { return rule == OpDTypes::kF32WeightAt1 && i == 1; };
  auto is_conv_weight = [&](size_t i) { return rule == OpDTypes::kF32ConvWeightAt1 && i == 1; };
  auto in = [&](int i) -> const TensorInfo* {
    return i < static_cast<int>(node.inputs.size()) && node.inputs[i] >= 0
               ? &ts[node.inputs[i]] : nullptr;
  };
  // Quantized tensors may only be Linear or Conv2d weights.
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    const TensorInfo* t = in(static_cast<int>(i));
    if (t && (t->quant != fb::QuantScheme::None || t->dtype == fb::DType::NVFP4) &&
        !is_weight(i) && !is_conv_weight(i)) {
      return At(w, "input %zu ('%s') is quantized; only a Linear or Conv2d weight may be", i, t->name);
    }
    // Packed layouts are read by the Linear kernels alone; any other op
    // would index them as row-major.
    if (t && t->layout != fb::WeightLayout::RowMajor && !is_weight(i)) {
      return At(w, "input %zu ('%s') has packed layout %s; only a Linear weight may be", i,
                t->name, fb::EnumNameWeightLayout(t->layout));
    }
  }
  if (rule == OpDTypes::kSameAsInput0) {
    const fb::DType dt = ts[node.inputs[0]].dtype;
    for (int t : node.inputs) {
      if (t >= 0 && ts[t].dtype != dt) {
        return At(w, "input '%s' has dtype %s, expected %s like input 0", ts[t].name,
                  DTypeName(ts[t].dtype), DTypeName(dt));
      }
    }
    for (int t : node.outputs) {
      if (ts[t].dtype != dt) {
        return At(w, "output '%s' has dtype %s, expected %s like the input", ts[t].name,
                  DTypeName(ts[t].dtype), DTypeName(dt));
      }
    }
    return Status::Ok();
  }
  for (int t : node.outputs) {
    if (ts[t].dtype != fb::DType::F32) {
      return At(w, "output '%s' has dtype %s, expected F32", ts[t].name, DTypeName(ts[t].dtype));
    }
  }
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    const TensorInfo* t = in(static_cast<int>(i));
    if (!t) continue;
    if (is_conv_weight(i)) {
      EDGE_RETURN_IF_ERROR(CheckConvWeight(w, *t));
      continue;
    }
    if (is_weight(i)) {
      if (!IsWeightFormat(t->dtype, t->quant)) {
        return At(w, "weight '%s' has dtype %s with quantization %s; expected F32, I8 "
                  "(Int8PerChannel) or NVFP4 (NVFP4)",
                  t->name, DTypeName(t->dtype), fb::EnumNameQuantScheme(t->quant));
      }
      if (t->rank != 2) return At(w, "weight '%s' has rank %d, expected 2", t->name, t->rank);
      continue;
    }
    if (rule == OpDTypes::kF32IdsAt0 && i == 0) {
      if (t->dtype != fb::DType::I32 && t->dtype != fb::DType::I64) {
        return At(w, "ids '%s' have dtype %s, expected I32 or I64", t->name,
                  DTypeName(t->dtype));
      }
      continue;
    }
    if (t->dtype != fb::DType::F32) {
      return At(w, "input %zu ('%s') has dtype %s, expected F32", i, t->name,
                DTypeName(t->dtype));
    }
  }
  return Status::Ok();
}

// Pass 2: every input exists before the op runs (rejects cycles and
// use-before-definition), then dtypes.
Status CheckOpOrder(const Ctx& c, int index, const NodeInfo& node) {
  Where w;
  OpWhere(node.op, index, &w);
  char label[200];
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    const int t = node.inputs[i];
    if (t < 0 || (*c.tensors)[t].is_constant || c.is_input[t]) continue;
    const int p = c.producer[t];
    if (p == -1) {
      TensorLabel(c, t, label, sizeof(label));
      return At(w, "input %zu is %s, which is never produced (not a graph input or constant)", i,
                label);
    }
    if (p >= index) {
      TensorLabel(c, t, label, sizeof(label));
      return At(w, "input %zu is %s, used before it is produced (by op %d): cycle or "
                "out-of-order graph", i, label, p);
    }
  }
  return CheckOpDtypes(c, w, node);
}

bool SameShape(const TensorInfo& a, const TensorInfo& b) {
  if (a.rank != b.rank || a.dtype != b.dtype) return false;
  for (int i = 0; i < a.rank; ++i) {
    if (a.dims[i] != b.dims[i]) return false;
  }
  return true;
}

Status CheckCacheRegions(const Ctx& c, Array<CacheRegionInfo>* out) {
  const auto* regions = c.graph_regions;
  const int n = VecSize(regions);
  const int num_ops = VecSize(c.graph_ops);
  const int num_tensors = static_cast<int>(c.tensors->size());
  if (!out->Reset(static_cast<size_t>(n))) return OutOfMemory("cache regions");
  for (int i = 0; i < n; ++i) {
    const fb::CacheRegion* r = regions->Get(static_cast<flatbuffers::uoffset_t>(i));
    Where w;
    std::snprintf(w.text, sizeof(w.text), "cache region %d '%s': ", i, Str(r->name()));
    const int first = r->first_op(), last = r->last_op();
    if (first < 0 || first > last || last >= num_ops) {
      return At(w, "op range [%d, %d] invalid (%d ops)", first, last, num_ops);
    }
    const int in = r->input(), o = r->output();
    if (in < 0 || in >= num_tensors) {
      return At(w, "input tensor %d out of range (%d tensors)", in, num_tensors);
    }
    if (o < 0 || o >= num_tensors) {
      return At(w, "output tensor %d out of range (%d tensors)", o, num_tensors);
    }
    const TensorInfo& ti = (*c.tensors)[in];
    const bool in_ready = !ti.is_constant && (c.is_input[in] ||
                                              (c.producer[in] >= 0 && c.producer[in] < first));
    if (!in_ready) return At(w, "input '%s' is not available before op %d", ti.name, first);
    if (c.producer[o] < first || c.producer[o] > last) {
      return At(w, "output '%s' is not produced inside ops [%d, %d]", (*c.tensors)[o].name,
                first, last);
    }
    if (!SameShape(ti, (*c.tensors)[o])) {
      return At(w, "input and output differ in shape or dtype");
    }
    CacheRegionInfo& info = (*out)[static_cast<size_t>(i)];
    info.name = Str(r->name());
    info.first_op = first;
    info.last_op = last;
    info.input = in;
    info.output = o;
  }
  return Status::Ok();
}

// Step-cache calibration: every number is used in decisions at run time, so
// each must be finite and in range; vector lengths are bounded so a hostile
// file cannot make the runtime reserve huge per-step tables.
Status CheckCacheCalibration(const Ctx& c, int num_regions) {
  const fb::CacheCalibration* cc = c.model->cache_calibration();
  if (!cc) return Status::Ok();
  constexpr int kMaxSteps = 100000, kMaxPoly = 16, kMaxEntries = 256;
  if (cc->steps() < 0 || cc->steps() > kMaxSteps) {
    return Invalid("cache calibration: steps %d outside [0, %d]", cc->steps(), kMaxSteps);
  }
  const int np = VecSize(cc->policies());
  if (np > kMaxEntries) return Invalid("cache calibration: %d policy entries (at most %d)", np, kMaxEntries);
  for (int i = 0; i < np; ++i) {
    const fb::CachePolicyCalibration* e = cc->policies()->Get(static_cast<flatbuffers::uoffset_t>(i));
    if (e == nullptr) return Invalid("cache calibration: policy entry %d is null", i);
    if (e->policy() < 1 || e->policy() > 6) {
      return Invalid("cache calibration: entry %d has unknown policy %d", i, int(e->policy()));
    }
    if (!std::isfinite(e->threshold()) || e->threshold() < 0.f || e->threshold() > 1e6f ||
        !std::isfinite(e->target_psnr()) || !std::isfinite(e->psnr()) || !std::isfinite(e->skip_fraction()) ||
        e->skip_fraction() < 0.f || e->skip_fraction() > 1.f) {
      return Invalid("cache calibration: entry %d has a threshold, PSNR or skip fraction out of range", i);
    }
    if (e->max_skips() < -1 || e->max_skips() > 1000) {
      return Invalid("cache calibration: entry %d max_skips %d outside [-1, 1000]", i, e->max_skips());
    }
    const int nb = VecSize(e->block_thresholds());
    if (nb != 0 && nb != num_regions) {
      return Invalid("cache calibration: entry %d has %d per-block thresholds for %d cache regions", i, nb,
                     num_regions);
    }
    for (int b = 0; b < nb; ++b) {
      const float t = e->block_thresholds()->Get(static_cast<flatbuffers::uoffset_t>(b));
      if (!std::isfinite(t) || t < 0.f || t > 1e6f) {
        return Invalid("cache calibration: entry %d block threshold %d is %g", i, b, double(t));
      }
    }
  }
  const int npoly = VecSize(cc->tea_poly());
  if (npoly > kMaxPoly) return Invalid("cache calibration: rescaling polynomial of %d terms (at most %d)", npoly, kMaxPoly);
  for (int i = 0; i < npoly; ++i) {
    if (!std::isfinite(cc->tea_poly()->Get(static_cast<flatbuffers::uoffset_t>(i)))) {
      return Invalid("cache calibration: rescaling coefficient %d is not finite", i);
    }
  }
  const int nm = VecSize(cc->mag_ratios());
  if (nm > kMaxSteps) return Invalid("cache calibration: %d magnitude ratios (at most %d)", nm, kMaxSteps);
  for (int i = 0; i < nm; ++i) {
    const float r = cc->mag_ratios()->Get(static_cast<flatbuffers::uoffset_t>(i));
    if (!std::isfinite(r) || r <= 0.f || r > 1e6f) {
      return Invalid("cache calibration: magnitude ratio %d is %g", i, double(r));
    }
  }
  return Status::Ok();
}

// Tuned defaults: the runtime reads cache_entry to pick its default cache
// setting, so it must name an existing entry; the rest is reported.
Status CheckTuning(const Ctx& c) {
  const fb::Tuning* t = c.model->tuning();
  if (!t) return Status::Ok();
  if (!std::isfinite(t->target_psnr()) || !std::isfinite(t->calib_psnr()) || !std::isfinite(t->holdout_psnr()) ||
      !std::isfinite(t->predicted_speedup()) || t->predicted_speedup() <= 0.f) {
    return Invalid("tuning: target, PSNR or predicted speed-up not finite (or speed-up <= 0)");
  }
  if (t->weights() < 0 || t->weights() > 2 || t->attention_precision() < 0 || t->attention_precision() > 1 ||
      t->attention_sparse() < 0 || t->attention_sparse() > 1) {
    return Invalid("tuning: weights %d, attention precision %d or sparse mode %d out of range", int(t->weights()),
                   int(t->attention_precision()), int(t->attention_sparse()));
  }
  if (!std::isfinite(t->token_reuse()) || t->token_reuse() < 0.f) {
    return Invalid("tuning: token-reuse threshold %g not a finite number >= 0", double(t->token_reuse()));
  }
  const fb::CacheCalibration* cc = c.model->cache_calibration();
  const int np = cc != nullptr ? VecSize(cc->policies()) : 0;
  if (t->cache_entry() < -1 || t->cache_entry() >= np) {
    return Invalid("tuning: cache entry %d outside [-1, %d)", t->cache_entry(), np);
  }
  return Status::Ok();
}

Status CheckPipeline(const Ctx& c, const Array<int>& outputs) {
  const fb::Pipeline* p = c.model->pipeline();
  if (!p) return Status::Ok();
  Where w;
  std::snprintf(w.text, sizeof(w.text), "pipeline: ");
  if (static_cast<int>(p->sampler()) < 0 || p->sampler() > fb::Sampler::MAX) {
    return At(w, "unknown sampler %d", static_cast<int>(p->sampler()));
  }
  if (static_cast<int>(p->prediction()) < 0 || p->prediction() > fb::Prediction::MAX) {
    return At(w, "unknown prediction %d", static_cast<int>(p->prediction()));
  }
  if (static_cast<int>(p->beta_schedule()) < 0 || p->beta_schedule() > fb::BetaSchedule::MAX) {
    return At(w, "unknown beta schedule %d", static_cast<int>(p->beta_schedule()));
  }
  if (static_cast<int>(p->output_kind()) < 0 || p->output_kind() > fb::OutputKind::MAX) {
    return At(w, "unknown output kind %d", static_cast<int>(p->output_kind()));
  }
  if (p->train_steps() < 1) return At(w, "train_steps %d must be >= 1", p->train_steps());
  if (p->default_steps() < 1) return At(w, "default_steps %d must be >= 1", p->default_steps());
  if (!Finite(p->shift()) || !(p->shift() > 0.f)) {
    return At(w, "shift %g must be finite and > 0", p->shift());
  }
  if (!Finite(p->guidance_scale())) return At(w, "guidance_scale is not finite");
  if (!Finite(p->timestep_scale())) return At(w, "timestep_scale is not finite");
  if (p->num_classes() < 0) return At(w, "num_classes %d is negative", p->num_classes());
  if (p->guidance_reuse_interval() < 0 || p->guidance_reuse_interval() > 10000 || p->guidance_reuse_warmup() < 0 ||
      p->guidance_reuse_warmup() > 10000 || (p->guidance_reuse_order() != 0 && p->guidance_reuse_order() != 1)) {
    return At(w, "guidance reuse interval %d, warm-up %d or order %d out of range", p->guidance_reuse_interval(),
              p->guidance_reuse_warmup(), p->guidance_reuse_order());
  }
  if (p->decode_tile_overlap() < 0 || p->decode_tile_overlap() > 1024) {
    return At(w, "decode_tile_overlap %d out of range [0, 1024]", p->decode_tile_overlap());
  }
  if (p->sampler() == fb::Sampler::DDIM) {
    const float b0 = p->beta_start(), b1 = p->beta_end();
    if (!DdimBetasValid(b0, b1)) {
      return At(w, "DDIM betas [%g, %g] must satisfy 0 < start <= end < 1", b0, b1);
    }
  }
  const auto* ls = p->latent_shape();
  if (!Aligned8(ls)) return At(w, "latent_shape vector is not 8-byte aligned");
  const int lr = VecSize(ls);
  if (lr != 3 && lr != 4) return At(w, "latent_shape has rank %d, expected 3 or 4", lr);
  uint64_t count = 1;
  for (int i = 0; i < lr; ++i) {
    const int64_t d = ls->Get(static_cast<flatbuffers::uoffset_t>(i));
    if (d <= 0 || d > kMaxTensorElements || !CheckedMul(count, static_cast<uint64_t>(d), &count) ||
        count > static_cast<uint64_t>(kMaxTensorElements)) {
      return At(w, "latent_shape dim %d (%lld) must be positive and small enough", i,
                static_cast<long long>(d));
    }
  }
  const int n = static_cast<int>(c.tensors->size());
  struct Ref {
    const char* what;
    int index;
    bool is_output;
  };
  const Ref refs[] = {{"latent_input", p->latent_input(), false},
                      {"timestep_input", p->timestep_input(), false},
                      {"condition_input", p->condition_input(), false},
                      {"output", p->output(), true}};
  for (const Ref& r : refs) {
    if (r.index == -1) continue;
    if (r.index < -1 || r.index >= n) {
      return At(w, "%s tensor %d out of range (%d tensors)", r.what, r.index, n);
    }
    if (!r.is_output && !c.is_input[r.index]) {
      return At(w, "%s tensor %d '%s' is not a graph input", r.what, r.index,
                (*c.tensors)[r.index].name);
    }
    if (r.is_output) {
      bool found = false;
      for (int o : outputs) found |= o == r.index;
      if (!found) {
        return At(w, "output tensor %d '%s' is not a graph output", r.index,
                  (*c.tensors)[r.index].name);
      }
    }
  }
  // The unconditional embedding: an F32 constant of one sample's condition.
  const int nc = p->null_condition_tensor();
  if (nc != -1) {
    if (nc < -1 || nc >= n) return At(w, "null_condition_tensor %d out of range (%d tensors)", nc, n);
    const TensorInfo& t = (*c.tensors)[nc];
    const int ci = p->condition_input();
    const TensorInfo* cond = ci >= 0 ? &(*c.tensors)[ci] : nullptr;
    if (!t.is_constant || t.dtype != fb::DType::F32 || cond == nullptr || cond->dtype != fb::DType::F32 ||
        cond->rank < 1 || cond->dims[0] < 1 || t.num_elements * cond->dims[0] != cond->num_elements) {
      return At(w, "null_condition_tensor '%s' must be an F32 constant of one sample of an F32 condition input",
                t.name);
    }
  }
  return Status::Ok();
}

}  // namespace

bool ConstantStorageBytes(fb::DType dtype, fb::WeightLayout layout, const int64_t* dims, int rank,
                          size_t* bytes) {
  if (layout == fb::WeightLayout::RowMajor) return StorageBytes(dtype, dims, rank, bytes);
  if (rank != 2 || dims[0] < 0 || dims[1] < 0) return false;
  const QuantFormatTraits* f = WeightFormatOfDType(dtype);
  uint64_t total = 0;
  if (f == nullptr || PackedLayoutOf(*f) != layout ||
      !QuantPackedBytes(*f, static_cast<uint64_t>(dims[0]), static_cast<uint64_t>(dims[1]), &total) ||
      !FitsSize(total)) {
    return false;
  }
  *bytes = static_cast<size_t>(total);
  return true;
}

bool QuantScaleBytes(fb::QuantScheme scheme, fb::WeightLayout layout, const int64_t* dims, int rank,
                     int block_size, size_t* bytes) {
  if (rank < 1 || rank > kMaxRank) return false;
  const QuantFormatTraits* f = WeightFormatOfScheme(scheme);
  if (f == nullptr) return false;
  if (f->scale_kind == QuantScaleKind::kPerBlock && block_size != static_cast<int>(f->scale_block)) {
    return false;
  }
  uint64_t total = 0;
  if (f->scale_kind == QuantScaleKind::kPerChannel) {
    // One scale per output channel (axis 0), whatever the layout.
    if (dims[0] < 0 || !QuantRowMajorScaleBytes(*f, static_cast<uint64_t>(dims[0]), 0, &total)) return false;
  } else if (layout == PackedLayoutOf(*f)) {
    if (rank != 2 || dims[0] < 0 || dims[1] < 0 ||
        !QuantPackedScaleBytes(*f, static_cast<uint64_t>(dims[0]), static_cast<uint64_t>(dims[1]), &total)) {
      return false;
    }
  } else {
    // Block scales: every row of the last axis.
    uint64_t rows = 1;
    for (int i = 0; i < rank - 1; ++i) {
      if (dims[i] < 0 || !CheckedMul(rows, static_cast<uint64_t>(dims[i]), &rows)) return false;
    }
    if (dims[rank - 1] < 0 ||
        !QuantRowMajorScaleBytes(*f, rows, static_cast<uint64_t>(dims[rank - 1]), &total)) {
      return false;
    }
  }
  if (!FitsSize(total)) return false;
  *bytes = static_cast<size_t>(total);
  return true;
}

namespace {

// Tensors, inputs, operators, outputs and cache regions of the graph that
// `c` points at (c->graph_*), into `out`.
Status ValidateGraph(Ctx& c, ValidatedGraph* out) {
  // Tensors.
  const int num_tensors = VecSize(c.graph_tensors);
  Array<TensorInfo> tensors;
  if (!tensors.Reset(static_cast<size_t>(num_tensors))) return OutOfMemory("tensor table");
  c.tensors = &tensors;
  for (int i = 0; i < num_tensors; ++i) {
    EDGE_RETURN_IF_ERROR(CheckTensor(c, i, &tensors[static_cast<size_t>(i)]));
  }

  // Graph inputs (before ops: an op may not produce one).
  if (!c.producer.Reset(static_cast<size_t>(num_tensors), -1) ||
      !c.is_input.Reset(static_cast<size_t>(num_tensors), 0)) {
    return OutOfMemory("producer table");
  }
  const auto* gin = c.graph_inputs;
  Array<int> inputs;
  if (!inputs.Reset(static_cast<size_t>(VecSize(gin)))) return OutOfMemory("graph inputs");
  char label[200];
  for (int i = 0; i < VecSize(gin); ++i) {
    const int t = gin->Get(static_cast<flatbuffers::uoffset_t>(i));
    EDGE_RETURN_IF_ERROR(CheckGraphIndex(c, "graph input", i, t));
    TensorLabel(c, t, label, sizeof(label));
    if (tensors[t].is_constant) return Invalid("graph input %d is %s, a constant", i, label);
    if (c.is_input[t]) return Invalid("graph input %d: %s is listed twice", i, label);
    c.is_input[t] = 1;
    inputs[static_cast<size_t>(i)] = t;
  }

  // Operators, pass 1: structure, options, producers.
  const auto* ops = c.graph_ops;
  const int num_ops = VecSize(ops);
  uint64_t slots = 0;
  for (int i = 0; i < num_ops; ++i) {
    EDGE_RETURN_IF_ERROR(
        CheckOpStructure(&c, i, ops->Get(static_cast<flatbuffers::uoffset_t>(i)), &slots));
  }
  Array<NodeInfo> nodes;
  if (!nodes.Reset(static_cast<size_t>(num_ops))) return OutOfMemory("operator table");
  for (int i = 0; i < num_ops; ++i) {
    const fb::Operator* op = ops->Get(static_cast<flatbuffers::uoffset_t>(i));
    NodeInfo& node = nodes[static_cast<size_t>(i)];
    node.type = op->type();
    node.op = op;
    node.name = Str(op->name());
    if (!node.inputs.Assign(op->inputs()->begin(), op->inputs()->end()) ||
        !node.outputs.Assign(op->outputs()->begin(), op->outputs()->end())) {
      return OutOfMemory("operator arguments");
    }
  }
  // Pass 2: definition order and dtypes.
  for (int i = 0; i < num_ops; ++i) {
    EDGE_RETURN_IF_ERROR(CheckOpOrder(c, i, nodes[static_cast<size_t>(i)]));
  }

  // Graph outputs.
  const auto* gout = c.graph_outputs;
  Array<int> outputs;
  if (!outputs.Reset(static_cast<size_t>(VecSize(gout)))) return OutOfMemory("graph outputs");
  for (int i = 0; i < VecSize(gout); ++i) {
    const int t = gout->Get(static_cast<flatbuffers::uoffset_t>(i));
    EDGE_RETURN_IF_ERROR(CheckGraphIndex(c, "graph output", i, t));
    if (c.producer[t] < 0 && !c.is_input[t]) {
      TensorLabel(c, t, label, sizeof(label));
      return Invalid("graph output %d is %s, which no op produces and is not a graph input", i,
                     label);
    }
    outputs[static_cast<size_t>(i)] = t;
  }

  Array<CacheRegionInfo> regions;
  EDGE_RETURN_IF_ERROR(CheckCacheRegions(c, &regions));
  out->tensors = std::move(tensors);
  out->nodes = std::move(nodes);
  out->inputs = std::move(inputs);
  out->outputs = std::move(outputs);
  out->regions = std::move(regions);
  return Status::Ok();
}

bool Contains(const Array<int>& v, int x) {
  for (int e : v) {
    if (e == x) return true;
  }
  return false;
}

// Links between graphs: indices in range, sources and destinations that
// are graph outputs / inputs, per-sample shapes that agree (or a decoder
// tiling a larger latent), each input fed once, and no cycle.
constexpr int kMaxGraphs = 16;  // further graphs a file may hold

Status CheckLinks(const fb::Model* model, const ValidatedModel& v, Array<GraphLinkInfo>* out) {
  const auto* links = model->links();
  const int n = VecSize(links);
  const int num_graphs = 1 + static_cast<int>(v.extra.size());
  constexpr int kMaxLinks = 64;
  if (n > kMaxLinks) return Invalid("links: %d links, at most %d", n, kMaxLinks);
  if (!out->Reset(static_cast<size_t>(n))) return OutOfMemory("graph links");
  auto graph = [&](int g) -> const ValidatedGraph& { return g == 0 ? v.main : v.extra[static_cast<size_t>(g - 1)]; };
  const fb::Pipeline* p = model->pipeline();
  for (int i = 0; i < n; ++i) {
    const fb::GraphLink* l = links->Get(static_cast<flatbuffers::uoffset_t>(i));
    Where w;
    std::snprintf(w.text, sizeof(w.text), "link %d: ", i);
    const int fg = l->from_graph(), tg = l->to_graph();
    if (fg < 0 || fg >= num_graphs || tg < 0 || tg >= num_graphs) {
      return At(w, "graph index %d or %d out of range (%d graphs)", fg, tg, num_graphs);
    }
    if (fg == tg) return At(w, "links graph %d to itself", fg);
    const ValidatedGraph& from = graph(fg);
    const ValidatedGraph& to = graph(tg);
    const int ft = l->from_tensor(), tt = l->to_tensor();
    if (ft < 0 || ft >= static_cast<int>(from.tensors.size()) || tt < 0 ||
        tt >= static_cast<int>(to.tensors.size())) {
      return At(w, "tensor index %d or %d out of range", ft, tt);
    }
    const bool sampled_latent = fg == 0 && p != nullptr && ft == p->latent_input();
    if (!sampled_latent && !Contains(from.outputs, ft)) {
      return At(w, "source tensor %d '%s' of graph %d is not a graph output", ft, from.tensors[ft].name, fg);
    }
    if (!Contains(to.inputs, tt)) {
      return At(w, "destination tensor %d '%s' of graph %d is not a graph input", tt, to.tensors[tt].name, tg);
    }
    for (int j = 0; j < i; ++j) {
      if ((*out)[static_cast<size_t>(j)].to_graph == tg && (*out)[static_cast<size_t>(j)].to_tensor == tt) {
        return At(w, "input '%s' of graph %d is fed twice", to.tensors[tt].name, tg);
      }
    }
    // A condition encoder (its output feeds the denoiser's condition input)
    // runs on token ids from the caller: one integer input.
    if (tg == 0 && p != nullptr && tt == p->condition_input()) {
      const bool one_int = from.inputs.size() == 1 && (from.tensors[from.inputs[0]].dtype == fb::DType::I64 ||
                                                       from.tensors[from.inputs[0]].dtype == fb::DType::I32);
      if (!one_int) {
        return At(w, "the condition encoder (graph %d) must take one input, of token ids (I64 or I32)", fg);
      }
    }
    const TensorInfo& a = from.tensors[ft];
    const TensorInfo& b = to.tensors[tt];
    // Per-sample shapes: all axes after the batch axis. A decoder of rank-4
    // [1, C, h, w] input may tile an [B, C, H, W] latent with h <= H, w <= W.
    bool match = a.dtype == b.dtype && a.rank == b.rank && a.rank >= 2;
    bool tiled = false;
    for (int d = 1; match && d < a.rank; ++d) {
      if (a.dims[d] == b.dims[d]) continue;
      tiled = sampled_latent && a.rank == 4 && d >= 2 && b.dims[d] > 0 && b.dims[d] < a.dims[d];
      match = tiled;
    }
    if (!match) {
      return At(w, "shape mismatch at the graph boundary: '%s' of graph %d (%s, rank %d) cannot feed '%s' of graph %d (%s, rank %d)",
                a.name, fg, DTypeName(a.dtype), a.rank, b.name, tg, DTypeName(b.dtype), b.rank);
    }
    GraphLinkInfo& info = (*out)[static_cast<size_t>(i)];
    info.from_graph = fg;
    info.from_tensor = ft;
    info.to_graph = tg;
    info.to_tensor = tt;
    info.sampled_latent = sampled_latent;
  }
  // Cycles: repeatedly remove graphs with no incoming link from a remaining
  // graph (Kahn); whatever remains lies on a cycle.
  bool removed[1 + kMaxGraphs] = {false};
  for (int round = 0; round < num_graphs; ++round) {
    for (int g = 0; g < num_graphs; ++g) {
      if (removed[g]) continue;
      bool fed = false;
      for (const GraphLinkInfo& l : *out) fed |= l.to_graph == g && !removed[l.from_graph];
      if (!fed) removed[g] = true;
    }
  }
  for (int g = 0; g < num_graphs; ++g) {
    if (!removed[g]) return Invalid("links: graph %d lies on a cycle of links", g);
  }
  return Status::Ok();
}

}  // namespace

Status ValidateModel(const uint8_t* data, size_t size, ValidatedModel* out) {
  if (!data) return Invalid("no data");
  if (reinterpret_cast<uintptr_t>(data) % kDataAlignment != 0) {
    return Status::Error(StatusCode::kInvalidArgument, "model bytes are not %zu-byte aligned",
                         kDataAlignment);
  }
  uint32_t fb_size = 0;
  EDGE_RETURN_IF_ERROR(CheckHeader(data, size, &fb_size));

  flatbuffers::Verifier::Options vopts;
  vopts.max_depth = kVerifierMaxDepth;
  vopts.max_tables = kVerifierMaxTables;
  vopts.check_alignment = true;
  flatbuffers::Verifier verifier(data, size_t(fb_size) + 4, vopts);
  if (!fb::VerifySizePrefixedModelBuffer(verifier)) {
    return Invalid("FlatBuffer verification failed (corrupt or truncated model)");
  }

  Ctx c;
  c.base = data;
  c.size = size;
  c.model = fb::GetSizePrefixedModel(data);
  const uint32_t version = c.model->format_version();
  if (version == 0) return Invalid("format_version is missing or 0");
  if (version > kFormatVersion) {
    return Invalid("model format version %u is newer than this runtime supports (%u)", version,
                   kFormatVersion);
  }
  const int num_extra = VecSize(c.model->graphs());
  if (version < kFormatVersion && (num_extra > 0 || VecSize(c.model->links()) > 0)) {
    return Invalid("format version %u holds one graph, but the file has %d more graphs and %d links "
                   "(several graphs need version %u)",
                   version, num_extra, VecSize(c.model->links()), kFormatVersion);
  }
  c.data_offset = DataSegmentOffset(fb_size);
  c.data_size = c.data_offset <= size ? size - c.data_offset : 0;
  EDGE_RETURN_IF_ERROR(CheckBuffers(&c));

  // Graph 0, the main graph: the Model's own tables.
  c.graph_tensors = c.model->tensors();
  c.graph_ops = c.model->operators();
  c.graph_inputs = c.model->inputs();
  c.graph_outputs = c.model->outputs();
  c.graph_regions = c.model->cache_regions();
  EDGE_RETURN_IF_ERROR(ValidateGraph(c, &out->main));
  c.tensors = &out->main.tensors;  // ValidateGraph's table now lives there
  out->main.name = "denoiser";
  EDGE_RETURN_IF_ERROR(CheckPipeline(c, out->main.outputs));
  EDGE_RETURN_IF_ERROR(CheckCacheCalibration(c, static_cast<int>(out->main.regions.size())));
  EDGE_RETURN_IF_ERROR(CheckTuning(c));

  // Further graphs (format 2).
  if (num_extra > kMaxGraphs) return Invalid("graphs: %d further graphs, at most %d", num_extra, kMaxGraphs);
  if (!out->extra.Reset(static_cast<size_t>(num_extra))) return OutOfMemory("graph table");
  for (int g = 0; g < num_extra; ++g) {
    const fb::Graph* gr = c.model->graphs()->Get(static_cast<flatbuffers::uoffset_t>(g));
    const char* name = Str(gr->name());
    if (name[0] == 0) return Invalid("graph %d has no name", g + 1);
    bool dup = std::strcmp(name, out->main.name) == 0;
    for (int h = 0; h < g; ++h) dup |= std::strcmp(name, out->extra[static_cast<size_t>(h)].name) == 0;
    if (dup) return Invalid("graph %d: the name '%s' is used twice", g + 1, name);
    c.graph_tensors = gr->tensors();
    c.graph_ops = gr->operators();
    c.graph_inputs = gr->inputs();
    c.graph_outputs = gr->outputs();
    c.graph_regions = gr->cache_regions();
    ValidatedGraph& vg = out->extra[static_cast<size_t>(g)];
    vg.name = name;
    Status st = ValidateGraph(c, &vg);
    if (!st.ok()) return st.Prepend("graph %d '%s': ", g + 1, name);
  }
  EDGE_RETURN_IF_ERROR(CheckLinks(c.model, *out, &out->links));
  out->fb = c.model;
  return Status::Ok();
}

}  // namespace edge
