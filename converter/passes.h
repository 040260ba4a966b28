// Graph passes of edge-convert, in the order the driver runs them:
// RewriteOps -> Canonicalize -> FuseActivations -> FuseNorms -> FuseGroupNorm -> FuseLinear -> FuseDit
// (timestep embedding, embedding, RoPE, modulate, gated residual) ->
// FuseAttention -> FuseLinearActivation -> Lower. Each pass rewrites the
// graph in place and keeps the node order topological.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "converter/ir.h"

namespace edge {
namespace conv {

// Before fusion: ScatterND, InstanceNormalization, Resize and per-frame 3-D
// Conv into edge ops (converter/rewrite_ops.cc).
void RewriteOps(Graph& g);
// The spatial pads [top, left, bottom, right] of node k when it is a zero Pad
// that RewriteOps folds into the 2-D Convs reading it, else empty.
std::vector<int64_t> PadForConvs(Graph& g, int k);
void Canonicalize(Graph& g);
// Reshape [B,H,..] -> [B*H,..] -> Transpose -> Reshape back: one 4-D Transpose
// (converter/batched_transpose.cc).
void MergeBatchedTransposes(Graph& g);
// Concat of identical Transposes / of Reshapes regrouping the axes after the
// concat axis: the Concat moves above them (converter/concat_views.cc).
void PushConcatsThroughViews(Graph& g);
void FuseActivations(Graph& g);
void FuseNorms(Graph& g);
// GroupNorm's per-channel affine and a following SiLU into the GroupNorm
// (converter/fuse_groupnorm.cc).
void FuseGroupNorm(Graph& g);
void FuseLinear(Graph& g);
void FuseDit(Graph& g);
void FuseAttention(Graph& g);
void FuseLinearActivation(Graph& g);
// Maps every remaining ONNX node to an edge op; returns descriptions of the
// nodes that have none (empty when the whole graph lowered).
std::vector<std::string> Lower(Graph& g);
// False for ONNX op types that no pass can fuse or lower (checked up front so
// one error lists every such node).
bool MayLower(const std::string& op);

// ---- checked access: matchers read nodes only through these ----
// A hostile or cut-down graph can hold a node with fewer inputs than its op
// needs, an absent optional output, a value with no producer or no shape. A
// matcher that indexes n.in / n.out or a shape directly reads past the end on
// such a graph, so every read goes through a check here.
// Input / output k of n, or -1 when n has fewer (or it is an absent optional one).
int In(const Node& n, size_t k);
int Out(const Node& n, size_t k);
// True when the first `ins` inputs and the first `outs` outputs of n are present.
bool HasArity(const Node& n, size_t ins, size_t outs = 1);
// Inputs (all present) an op needs before a matcher may read them: 2 for binary
// ONNX ops, 3 for RoPE/Modulate/GatedResidual/Attention, 1 otherwise.
size_t MinInputs(const Node& n);
// The single node reading v when v is no graph output, else -1.
int SoleUser(Graph& g, int v);

// ---- pattern helpers shared by the passes ----
// Live ONNX node `op` producing v with the op's arity (MinInputs), or -1.
int ProducerOp(Graph& g, int v, const char* op);
// Live edge node of type t producing v with the op's arity, or -1.
int ProducerEdge(Graph& g, int v, fb::OpType t);
// True when every user of v is in `nodes` and v is not a graph output.
bool OnlyUsedBy(Graph& g, int v, const std::set<int>& nodes);
bool ScalarConst(Graph& g, int v, double* val);
// The input of binary node n that is not v (or -1).
int OtherInput(const Node& n, int v);
// New activation value with the given type/shape.
// `shape` by value: the caller's may live in g.values, which adding a value moves.
int NewValue(Graph& g, const std::string& base, int dtype, Shape shape);
int NewConstF32(Graph& g, const std::string& base, const Shape& shape, std::vector<float> data);
// Adds an edge node placed just before node `before` (or at the end).
int AddEdge(Graph& g, fb::OpType t, const std::string& name, const std::vector<int>& in,
            const std::vector<int>& out, const OpAttrs& a = OpAttrs(), int before = -1);
// Replaces the nodes of a matched pattern by one edge node that takes the place
// (and the outputs) of `sink`.
int ReplaceWithEdge(Graph& g, const std::set<int>& pattern, int sink, fb::OpType t,
                    const std::vector<int>& in, const OpAttrs& a);
// A Reshape of v to `shape` (reuses v if the shape already matches).
int ReshapeTo(Graph& g, int v, const Shape& shape, int before, const std::string& name);
bool IsLastAxisReduceMean(Graph& g, int node);
// True when rot is x's interleaved-pair rotation (-x[2i+1], x[2i]) as torch
// exports it; adds the nodes computing it to `nodes` (converter/rope_pairs.cc).
bool IsRotatePairs(Graph& g, int rot, int x, std::set<int>* nodes);
// v = y[..., which] for y an edge Reshape of some x into [..., 2] pairs that
// splits only x's last axis: returns x (or -1), sets y and which (0 or 1) and
// adds the nodes on the way to `nodes`.
int PairSource(Graph& g, int v, int* y, int* which, std::set<int>* nodes);
// RoPE computed on pair halves and written to even/odd slots (Wan), at the
// Concat that interleaves them (converter/fuse_rope_slots.cc).
void FuseRopeSlots(Graph& g, int k);
// Axis normalized to [0, rank).
int NormalizeAxis(int64_t axis, int rank);

}  // namespace conv
}  // namespace edge
