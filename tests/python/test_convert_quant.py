"""edge-convert --precision fp32|int8|nvfp4|mixed on the fixture models.

For (a) dit_s2, (b) text_block, (c) video_block: convert at each precision,
run one forward with `edge-run --once` on the saved inputs, and compare with
the FP32 conversion's output (relative L2): INT8 <= 1e-2, NVFP4 <= 5e-2,
mixed between the two. Also:
  * the stored weights are exactly what the NVFP4 / INT8 reference quantizers
    (re-implemented here in numpy from the spec: E4M3 block scales, RNE E2M1,
    by default each block's scale searched for least squared error; with
    --nvfp4-scales amax the spec's amax/6, which must give a larger output
    error on dit_s2; per-channel int8) give for the FP32 weights, in the packed
    layouts the kernels use, with the layout tag in the file (read back
    through flatc);
  * only Linear weights are quantized; the final layer stays FP32 by default;
  * dit_s2: NVFP4 Linear weights <= 0.15x their FP32 bytes (the whole-file
    ratio is printed: FP32 non-Linear tensors such as pos_embed dominate the
    rest of this tiny model);
  * conversions are byte-identical when repeated (mixed included, also with
    --calib-threads 3);
  * --fp32-layout: the default stores every FP32 Linear weight (and nothing
    else) as PackedF32N16, exactly the row-major conversion's values in
    16-column panels (numpy reference); both forms give the same output;
  * mixed: allocation follows the output ranking (each layer's effect on full
    generations per bit saved; --mixed-rank error: its own NVFP4 error) and
    the bit budget;
    --max-error and --precision-override work; bad flags exit 2, NaN weights 4.
"""
import glob
import json
import os
import re
import shutil
import struct
import subprocess
import tempfile

import numpy as np
import onnx
from onnx import numpy_helper

from checks import Checks, run_alone
from convert_util import BUILD, SOURCE, convert, convert_json, fixture, run, run_once

DIT = ["--sampler", "ddim", "--roles", "x=latent,t=timestep,y=condition", "--latent", "4x32x32",
       "--num-classes", "10", "--null-class", "10", "--prediction", "epsilon", "--timestep-scale", "1",
       "--guidance", "4"]
CASES = {
    "dit_s2": DIT,
    "text_block": ["--roles", "x=latent,t=timestep", "--latent", "1x64x96"],
    "video_block": ["--roles", "x=latent,t=timestep", "--latent", "1x256x96"],
}
LIMITS = {"int8": 1e-2, "nvfp4": 5e-2}
# Extra flags of the mixed conversions. The output ranking (one full
# generation per layer) is checked on dit_s2 with one calibration sample so
# that it stays cheap; the other fixtures rank by the layers' own error.
# Nearest rounding: these checks are about the allocation and the stored
# formats; error-feedback rounding (mixed's default) has its own test,
# test_convert_gptq.py.
MIXED = {"dit_s2": ["--calib-classes", "0", "--calib-seeds", "1", "--weight-rounding", "nearest"]}
MIXED_DEFAULT = ["--mixed-rank", "error", "--weight-rounding", "nearest"]


def flatc():
    cache = os.path.join(BUILD, "CMakeCache.txt")
    if os.path.exists(cache):
        for line in open(cache):
            if line.startswith("FLATC:"):
                return line.split("=", 1)[1].strip()
    return shutil.which("flatc")


def read_model(path, tmp):
    """(flatbuffer as JSON, data segment bytes, flatbuffer bytes) of an edge model file."""
    out = tempfile.mkdtemp(dir=tmp)
    subprocess.run([flatc(), "--json", "--strict-json", "--raw-binary", "--size-prefixed", "-o", out,
                    os.path.join(SOURCE, "schema", "edge_model.fbs"), "--", path], check=True)
    meta = json.load(open(glob.glob(os.path.join(out, "*.json"))[0]))
    raw = open(path, "rb").read()
    size = struct.unpack("<I", raw[:4])[0]
    start = (4 + size + 63) // 64 * 64
    meta["_flatbuffer"] = raw[4:4 + size]
    return meta, raw[start:]


def buffer(meta, data, index):
    b = meta["buffers"][index]
    return data[b.get("offset", 0):b.get("offset", 0) + b.get("size", 0)]


# ---- numpy reference quantizers (from the spec, algorithms.md section 1) ----

def e4m3_values():
    v = []
    for c in range(127):
        e, m = c >> 3, c & 7
        v.append(m * 2.0 ** -9 if e == 0 else (1 + m / 8.0) * 2.0 ** (e - 7))
    return np.array(v)


E4M3 = e4m3_values()
E2M1 = np.array([0, 0.5, 1, 1.5, 2, 3, 4, 6])


def rne_index(a, grid):
    """Index of the nearest grid value to a >= 0 (grid ascending), ties to the even index."""
    a = np.minimum(a.astype(np.float64), grid[-1])
    hi = np.clip(np.searchsorted(grid, a), 1, len(grid) - 1)
    lo = hi - 1
    dl, dh = a - grid[lo], grid[hi] - a
    pick_hi = (dh < dl) | ((dh == dl) & (hi % 2 == 0))
    return np.where(pick_hi, hi, lo)


def nvfp4_reference(w):
    """codes [N, K] (0..15), E4M3 scale bytes [N, K/16], g_dec: the spec's quantizer in FP32."""
    w = w.astype(np.float32)
    n, k = w.shape
    amax = np.float32(np.max(np.abs(w)))
    g_enc = np.float32(448.0 * 6.0) / amax if amax > 0 else np.float32(1)
    g_dec = np.float32(1) / g_enc
    kb = (k + 15) // 16
    wp = np.zeros((n, kb * 16), np.float32)
    wp[:, :k] = w
    blocks = wp.reshape(n, kb, 16)
    amax_b = np.max(np.abs(blocks), axis=2).astype(np.float32)
    sb = rne_index((amax_b / np.float32(6.0)) * g_enc, E4M3).astype(np.uint8)
    denom = (E4M3[sb].astype(np.float32) * g_dec).astype(np.float32)
    safe = np.where(denom == 0, np.float32(1), denom)
    q = (blocks / safe[:, :, None]).astype(np.float32)
    q = np.clip(q, -6, 6)
    c = rne_index(np.abs(q), E2M1).astype(np.uint8)
    c = np.where((c != 0) & (q < 0), c | 8, c)
    c = np.where(denom[:, :, None] == 0, 0, c)
    return c.reshape(n, kb * 16)[:, :k], sb, g_dec


def nvfp4_search_reference(w):
    """As nvfp4_reference, but each block's E4M3 scale is the one of least squared error among the
    reference scale, the E4M3 values within 2x of amax_b / 6 * g_enc and the smallest subnormal
    (ties: the reference, then the smaller scale); the error is of the decoded FP32 values, summed
    in float64 in k order (edge-convert's default --nvfp4-scales mse)."""
    w = w.astype(np.float32)
    n, k = w.shape
    _, ref_sb, g_dec = nvfp4_reference(w)
    amax = np.float32(np.max(np.abs(w)))
    g_enc = np.float32(448.0 * 6.0) / amax if amax > 0 else np.float32(1)
    kb = (k + 15) // 16
    wp = np.zeros((n, kb * 16), np.float32)
    wp[:, :k] = w
    blocks = wp.reshape(n, kb, 16)
    ideal = (np.max(np.abs(blocks), axis=2).astype(np.float32) / np.float32(6.0)) * g_enc
    lo, hi = ideal / np.float32(2), ideal * np.float32(2)

    def codes_err(sb):
        s = E4M3[sb].astype(np.float32)
        denom = (s * g_dec).astype(np.float32)
        safe = np.where(denom == 0, np.float32(1), denom)
        q = np.clip((blocks / safe[:, :, None]).astype(np.float32), -6, 6)
        c = rne_index(np.abs(q), E2M1).astype(np.uint8)
        c = np.where((c != 0) & (q < 0), c | 8, c)
        c = np.where(denom[:, :, None] == 0, 0, c)
        mag = np.where(c & 8, -1, 1).astype(np.float32) * E2M1[c & 7].astype(np.float32)
        dec = ((mag * s[:, :, None]).astype(np.float32) * g_dec).astype(np.float32)
        d = blocks.astype(np.float64) - dec.astype(np.float64)
        e = np.zeros(d.shape[:2])
        for j in range(16):
            e = e + d[:, :, j] * d[:, :, j]
        return c, e

    best_sb = ref_sb.astype(np.int64)
    _, best = codes_err(ref_sb)
    for cand in range(1, 127):
        sv = np.float32(E4M3[cand])
        ok = (cand != best_sb) & ((cand == 1) | ((sv >= lo) & (sv <= hi))) & (ideal > 0)
        if not ok.any():
            continue
        _, e = codes_err(np.full(best_sb.shape, cand, np.int64))
        better = ok & (e < best)
        best = np.where(better, e, best)
        best_sb = np.where(better, cand, best_sb)
    c, _ = codes_err(best_sb)
    return c.reshape(n, kb * 16)[:, :k], best_sb.astype(np.uint8), g_dec


def pack_nvfp4(codes, scales):
    n, k = codes.shape
    npad, kpad = -(-n // 16) * 16, -(-k // 16) * 16
    c = np.zeros((npad, kpad), np.uint8)
    c[:n, :k] = codes
    c = c.reshape(npad // 16, 16, kpad // 16, 2, 2, 4)  # p, r, b, h, hi, j
    byte = c[:, :, :, :, 0, :] | (c[:, :, :, :, 1, :] << 4)  # p, r, b, h, j
    packed = byte.transpose(0, 2, 3, 1, 4).reshape(-1)
    s = np.zeros((npad, kpad // 16), np.uint8)
    s[:n, :] = scales
    return packed.tobytes(), s.reshape(npad // 16, 16, kpad // 16).transpose(0, 2, 1).reshape(-1).tobytes()


def int8_reference(w):
    w = w.astype(np.float32)
    amax = np.max(np.abs(w), axis=1).astype(np.float32)
    s = np.where(amax > 0, amax / np.float32(127), np.float32(1)).astype(np.float32)
    q = np.clip(np.rint((w / s[:, None]).astype(np.float32)), -127, 127).astype(np.int8)
    return q, s


def pack_int8(q):
    n, k = q.shape
    npad, kpad = -(-n // 16) * 16, -(-k // 4) * 4
    p = np.zeros((npad, kpad), np.int8)
    p[:n, :k] = q
    return p.reshape(npad // 16, 16, kpad // 4, 4).transpose(0, 2, 1, 3).reshape(-1).tobytes()


def check_stored_weights(c, name, fp32_path, q_path, report, tmp, nvfp4_ref=nvfp4_search_reference):
    """Every quantized tensor equals the reference quantizer's packed bytes."""
    m32, d32 = read_model(fp32_path, tmp)
    mq, dq = read_model(q_path, tmp)
    f32 = {t["name"]: t for t in m32["tensors"]}
    want = {l["weight"]: l["precision"] for l in report["quantization"]["layers"]}
    seen = {"int8": 0, "nvfp4": 0}
    bad = []
    for t in mq["tensors"]:
        dt = t.get("dtype", "F32")
        if dt not in ("I8", "NVFP4"):
            continue
        ref_t = f32[t["name"]]
        w = np.frombuffer(buffer(m32, d32, ref_t["buffer"]), np.float32).reshape(ref_t["shape"])
        if dt == "NVFP4":
            codes, scales, g_dec = nvfp4_ref(w)
            pc, ps = pack_nvfp4(codes, scales)
            ok = (t.get("layout") == "PackedNvfp4N16K64" and buffer(mq, dq, t["buffer"]) == pc and
                  buffer(mq, dq, t["quant"]["scale_buffer"]) == ps and
                  # flatc prints floats rounded: the exact FP32 bytes must be in the table
                  abs(t["quant"]["tensor_scale"] - g_dec) <= 0.01 * g_dec and
                  struct.pack("<f", g_dec) in mq["_flatbuffer"] and want.get(t["name"]) == "nvfp4")
            seen["nvfp4"] += 1
        else:
            q, s = int8_reference(w)
            ok = (t.get("layout") == "PackedInt8N16K4" and buffer(mq, dq, t["buffer"]) == pack_int8(q) and
                  buffer(mq, dq, t["quant"]["scale_buffer"]) == s.tobytes() and want.get(t["name"]) == "int8")
            seen["int8"] += 1
        if not ok:
            bad.append(t["name"])
    n_q = sum(1 for l in report["quantization"]["layers"] if l["precision"] != "fp32")
    c.check(not bad and seen["int8"] + seen["nvfp4"] == n_q,
            "%s: %d int8 + %d nvfp4 stored tensors equal the numpy reference quantizer, packed, with layout "
            "tags (mismatches: %s)" % (name, seen["int8"], seen["nvfp4"], bad[:3]))
    # Nothing but Linear weights is quantized.
    linear_w = {mq["tensors"][op["inputs"][1]]["name"] for op in mq["operators"]
                if op.get("type", "Linear") == "Linear"}  # Linear = 0 is not printed
    others = [t["name"] for t in mq["tensors"] if t.get("dtype", "F32") in ("I8", "NVFP4") and t["name"] not in linear_w]
    c.check(not others, "%s: only Linear weights quantized (others: %s)" % (name, others[:3]))


def pack_f32(w):
    """PackedF32N16 (ops/quant_format.h): 16-column panels, the 16 values of one k contiguous."""
    n, k = w.shape
    npad = -(-n // 16) * 16
    p = np.zeros((npad, k), np.float32)
    p[:n] = w
    return p.reshape(npad // 16, 16, k).transpose(0, 2, 1).reshape(-1).tobytes()


def check_fp32_layouts(c, name, packed_path, rows_path, tmp):
    """The packed conversion holds the row-major one's Linear weights in panels, the rest unchanged."""
    mp, dp = read_model(packed_path, tmp)
    mr, dr = read_model(rows_path, tmp)
    linear_w = {op["inputs"][1] for op in mp["operators"] if op.get("type", "Linear") == "Linear"}
    bad, packed = [], 0
    for i, (tp, tr) in enumerate(zip(mp["tensors"], mr["tensors"])):
        if "buffer" not in tp or tp.get("dtype", "F32") != "F32":
            continue
        rows = buffer(mr, dr, tr["buffer"])
        if tr.get("layout", "RowMajor") != "RowMajor":
            bad.append(tr["name"] + " (row-major conversion)")
        elif i in linear_w:
            packed += 1
            w = np.frombuffer(rows, np.float32).reshape(tr["shape"])
            if tp.get("layout") != "PackedF32N16" or buffer(mp, dp, tp["buffer"]) != pack_f32(w):
                bad.append(tp["name"])
        elif tp.get("layout", "RowMajor") != "RowMajor" or buffer(mp, dp, tp["buffer"]) != rows:
            bad.append(tp["name"])
    c.check(packed > 0 and not bad and len(mp["tensors"]) == len(mr["tensors"]),
            "%s: %d FP32 Linear weights stored PackedF32N16 = numpy panels of the row-major conversion, "
            "other tensors unchanged (mismatches: %s)" % (name, packed, bad[:3]))


def stored_bits(n, k, precision):
    """Bits per weight of the packed layouts, scales included (converter/quantize.cc StoredBits)."""
    np16 = -(-n // 16) * 16
    if precision == "int8":
        return 8.0 * (np16 * (-(-k // 4) * 4) + 4 * n) / (n * k)
    kp = -(-k // 16) * 16
    return 8.0 * (np16 * kp // 2 + np16 * kp // 16) / (n * k)


def saved_bits(layer):
    n, k = layer["N"], layer["K"]
    return (stored_bits(n, k, "int8") - stored_bits(n, k, "nvfp4")) * n * k


def rel_l2(ref, got):
    ref = ref.astype(np.float64)
    return float(np.linalg.norm(got - ref) / max(1e-30, np.linalg.norm(ref)))


def test_convert_quant():
    c = Checks()
    summary = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, flags in CASES.items():
            d = fixture(name, tmp)
            meta = json.load(open(os.path.join(d, "meta.json")))
            onnx_path = os.path.join(d, "model.onnx")
            inputs = {k: os.path.join(d, k + ".npy") for k in meta["inputs"]}
            outs, sizes, reps = {}, {}, {}
            mixed_flags = MIXED.get(name, MIXED_DEFAULT)
            for p in ["fp32", "int8", "nvfp4", "mixed"]:
                fb = os.path.join(tmp, "%s_%s.fb" % (name, p))
                extra = mixed_flags if p == "mixed" else []
                reps[p] = convert_json(onnx_path, fb, "--precision", p, *extra, *flags)
                if p == "mixed" and "--mixed-rank" not in extra:
                    pass  # the output-ranked conversion is repeated with --calib-threads 3 below
                else:
                    fb2 = os.path.join(tmp, "%s_%s_2.fb" % (name, p))
                    convert(onnx_path, fb2, "--precision", p, *extra, *flags)
                    c.check(open(fb, "rb").read() == open(fb2, "rb").read(),
                            "%s %s: two conversions byte-identical" % (name, p))
                sizes[p] = os.path.getsize(fb)
                od = os.path.join(tmp, "%s_%s_out" % (name, p))
                run_once(fb, inputs, od)
                outs[p] = np.load(os.path.join(od, meta["output"] + ".npy"))
            ref = outs["fp32"]
            # The same FP32 weights stored row-major (older files; packed at load).
            fb_rows = os.path.join(tmp, "%s_fp32_rows.fb" % name)
            convert(onnx_path, fb_rows, "--fp32-layout", "row-major", *flags)
            check_fp32_layouts(c, name, os.path.join(tmp, "%s_fp32.fb" % name), fb_rows, tmp)
            od = os.path.join(tmp, "%s_fp32_rows_out" % name)
            run_once(fb_rows, inputs, od)
            rows_out = np.load(os.path.join(od, meta["output"] + ".npy"))
            c.check(rel_l2(ref, rows_out) <= 1e-6, "%s fp32: row-major vs packed weights rel L2 %.2e" %
                    (name, rel_l2(ref, rows_out)))
            torch_ref = np.load(os.path.join(d, "expected_" + meta["output"] + ".npy"))
            c.check(rel_l2(torch_ref, ref) <= 1e-5, "%s fp32: edge vs PyTorch rel L2 %.2e" % (name, rel_l2(torch_ref, ref)))
            errs = {p: rel_l2(ref, outs[p]) for p in ["int8", "nvfp4", "mixed"]}
            for p, lim in LIMITS.items():
                c.check(errs[p] <= lim, "%s %s: output rel L2 vs FP32 %.4f (limit %g), file %d bytes (%.3fx)" %
                        (name, p, errs[p], lim, sizes[p], sizes[p] / sizes["fp32"]))
            c.check(errs["int8"] <= errs["mixed"] <= errs["nvfp4"],
                    "%s mixed: rel L2 %.4f between int8 %.4f and nvfp4 %.4f, file %d bytes (%.3fx)" %
                    (name, errs["mixed"], errs["int8"], errs["nvfp4"], sizes["mixed"], sizes["mixed"] / sizes["fp32"]))
            c.check(sizes["nvfp4"] < sizes["mixed"] < sizes["int8"] < sizes["fp32"], "%s: file sizes ordered" % name)
            for p in ["int8", "nvfp4"]:
                check_stored_weights(c, "%s %s" % (name, p), fb_rows,
                                     os.path.join(tmp, "%s_%s.fb" % (name, p)), reps[p], tmp)
            if name == "dit_s2":
                # --nvfp4-scales amax: exactly the reference quantizer (amax/6 block scales).
                fb_a = os.path.join(tmp, "%s_nvfp4_amax.fb" % name)
                ra = convert_json(onnx_path, fb_a, "--precision", "nvfp4", "--nvfp4-scales", "amax", *flags)
                check_stored_weights(c, "%s nvfp4 --nvfp4-scales amax" % name, fb_rows,
                                     fb_a, ra, tmp, nvfp4_ref=nvfp4_reference)
                od = os.path.join(tmp, "%s_nvfp4_amax_out" % name)
                run_once(fb_a, inputs, od)
                e_amax = rel_l2(ref, np.load(os.path.join(od, meta["output"] + ".npy")))
                c.check(errs["nvfp4"] < e_amax, "%s nvfp4: output rel L2 %.4f with MSE-searched scales < %.4f with "
                        "amax scales" % (name, errs["nvfp4"], e_amax))
            layers = reps["nvfp4"]["quantization"]["layers"]
            c.check(layers[-1]["precision"] == "fp32" and layers[-1]["reason"] == "final layer" and
                    all(l["precision"] == "nvfp4" for l in layers[:-1] if l["N"] * l["K"] >= 4096 and l["K"] >= 16),
                    "%s nvfp4: every Linear but the final layer (and small ones) is NVFP4" % name)
            q = reps["nvfp4"]["quantization"]
            lin_ratio = q["linear_weight_bytes"] / q["linear_weight_bytes_fp32"]
            if name == "dit_s2":
                other = sizes["fp32"] - q["linear_weight_bytes_fp32"]
                c.check(lin_ratio <= 0.15, "dit_s2 nvfp4: Linear weights %.3fx FP32 (limit 0.15); whole file %.3fx "
                        "(%d bytes of FP32 non-Linear tensors and header)" %
                        (lin_ratio, sizes["nvfp4"] / sizes["fp32"], other))
            # Mixed: allocation consistent with the calibration: ranked by each layer's effect on full
            # generations per bit saved (dit_s2), or by its own NVFP4 error (--mixed-rank error).
            mq = reps["mixed"]["quantization"]
            mix = [l for l in mq["layers"] if l["reason"].startswith("mixed")]
            c.check(mix and all(l["err_int8"] < l["err_nvfp4"] for l in mix) and mq["mixed_average_bits"] <= 6.0 and
                    "calibration" in mq, "%s mixed: %d layers calibrated, INT8 error below NVFP4 error for each, "
                    "%.2f bits/weight" % (name, len(mix), mq["mixed_average_bits"]))
            if "--mixed-rank" not in mixed_flags:
                cost = {l["name"]: l["out_mse"] / saved_bits(l) for l in mix if "out_mse" in l}
                nv = [cost[l["name"]] for l in mix if l["precision"] == "nvfp4"]
                i8 = [cost[l["name"]] for l in mix if l["precision"] == "int8"]
                c.check(len(cost) == len(mix) and nv and i8 and max(nv) <= min(i8) and mq["mixed_rank"] == "output" and
                        mq["output_ranking"]["generations"] == len(mix) + 1,
                        "%s mixed: %d NVFP4 / %d INT8 layers, NVFP4 to the least output effect per bit saved (max of "
                        "NVFP4 layers %.3g <= min of INT8 layers %.3g); rank correlation with the own-error order "
                        "%.3f" % (name, len(nv), len(i8), max(nv or [0]), min(i8 or [0]),
                                  mq.get("output_ranking", {}).get("spearman_vs_error", 0)))
                fb_t = os.path.join(tmp, "%s_mixed_t3.fb" % name)
                convert(onnx_path, fb_t, "--precision", "mixed", "--calib-threads", "3", *mixed_flags, *flags)
                c.check(open(fb_t, "rb").read() == open(os.path.join(tmp, "%s_mixed.fb" % name), "rb").read(),
                        "%s mixed: byte-identical with --calib-threads 3 and 1" % name)
            else:
                nv = [l["err_nvfp4"] for l in mix if l["precision"] == "nvfp4"]
                i8 = [l["err_nvfp4"] for l in mix if l["precision"] == "int8"]
                c.check(nv and i8 and max(nv) <= min(i8) and mq["mixed_rank"] == "error" and
                        "output_ranking" not in mq and not any("out_mse" in l for l in mix),
                        "%s mixed --mixed-rank error: NVFP4 to the least own error (max %.4f <= min of INT8 layers "
                        "%.4f)" % (name, max(nv or [0]), min(i8 or [0])))
            cor = mq["calibration"]["correlation"]
            print("%s predictor Gamma vs NVFP4 error: blocks n=%d pearson %.3f spearman %.3f; (block, step) n=%d "
                  "pearson %.3f spearman %.3f" % (name, cor["blocks"]["n"], cor["blocks"]["pearson"],
                                                  cor["blocks"]["spearman"], cor["block_steps"]["n"],
                                                  cor["block_steps"]["pearson"], cor["block_steps"]["spearman"]))
            summary.append((name, errs, sizes))

        # --max-error, overrides, final layer flag (dit_s2).
        d = fixture("dit_s2", tmp)
        onnx_path = os.path.join(d, "model.onnx")
        fb = os.path.join(tmp, "flags.fb")
        r = convert_json(onnx_path, fb, "--precision", "mixed", "--max-error", "0.08", *MIXED_DEFAULT, *DIT)
        mix = [l for l in r["quantization"]["layers"] if l["reason"].startswith("mixed")]
        c.check(all((l["precision"] == "nvfp4") == (l["err_nvfp4"] <= 0.08) for l in mix) and
                any(l["precision"] == "nvfp4" for l in mix) and any(l["precision"] == "int8" for l in mix),
                "--max-error 0.08: NVFP4 exactly for the layers with NVFP4 error <= 0.08")
        r = convert_json(onnx_path, fb, "--precision", "nvfp4", "--precision-override", "/blocks.0/*=fp32",
                         "--precision-override", "*final_layer/linear*=int8", "--precision-override",
                         "onnx::MatMul_654/t=int8", *DIT)
        by = {l["name"]: l for l in r["quantization"]["layers"]}
        ok = all(l["precision"] == ("int8" if l["weight"] == "onnx::MatMul_654/t" else "fp32")
                 for n, l in by.items() if n.startswith("/blocks.0/"))
        ok = ok and by["/final_layer/linear/Add"]["precision"] == "int8"
        ok = ok and all(l["precision"] == "nvfp4" for n, l in by.items()
                        if n.startswith("/blocks.1/") or n.startswith("/t_embedder"))
        c.check(ok, "--precision-override by op-name glob and by weight name (later wins)")
        run_once(fb, {k: os.path.join(d, k + ".npy") for k in ["x", "t", "y"]}, os.path.join(tmp, "ovr"))
        r = convert_json(onnx_path, fb, "--precision", "int8", "--final-layer", "quantize", "--quant-min-size",
                         "40000", *DIT)
        by = {l["name"]: l for l in r["quantization"]["layers"]}
        c.check(by["/final_layer/linear/Add"]["precision"] == "fp32" and
                by["/t_embedder/mlp/mlp.0/Gemm"]["precision"] == "fp32" and
                by["/blocks.0/mlp/fc1/Add"]["precision"] == "int8",
                "--quant-min-size 40000 keeps layers with N*K < 40000 in FP32")
        r = convert_json(onnx_path, fb, "--precision", "int8", "--final-layer", "quantize", *DIT)
        c.check(r["quantization"]["layers"][-1]["precision"] == "int8", "--final-layer quantize")

        # Bad flags -> 2.
        for bad in (["--precision", "fp16"], ["--precision-override", "x"], ["--precision-override", "a=int4"],
                    ["--precision-override", "/no/such/*=int8"], ["--target-bits", "-1"], ["--max-error", "nan"],
                    ["--calib-steps", "0"], ["--calib-seeds", "1.5"], ["--calib-classes", "0,x"],
                    ["--final-layer", "maybe"], ["--quant-min-size", "-3"], ["--nvfp4-scales", "max"],
                    ["--mixed-rank", "layer"], ["--calib-threads", "0"], ["--fp32-layout", "columns"]):
            r = convert(onnx_path, fb, *(DIT + bad), expect_rc=None)
            c.check(r.returncode == 2, "bad flag %s -> exit 2 (got %d)" % (" ".join(bad), r.returncode))
        r = convert(onnx_path, fb, "--precision", "mixed", "--calib-classes", "12", *DIT, expect_rc=None)
        c.check(r.returncode == 2, "--calib-classes outside the model's classes -> exit 2")
        r = convert(os.path.join(fixture("video_block", tmp), "model.onnx"), fb, "--precision", "mixed",
                    expect_rc=None)
        c.check(r.returncode == 2 and "pipeline metadata" in r.stderr, "mixed without pipeline metadata -> exit 2")

        # NaN weight -> exit 4 naming the weight and (n, k).
        m = onnx.load(onnx_path)
        for init in m.graph.initializer:
            if init.name == "onnx::MatMul_654":  # blocks.0 fc1, ONNX [K=128, N=512]
                a = numpy_helper.to_array(init).copy()
                a[3, 7] = np.nan
                init.CopyFrom(numpy_helper.from_array(a, init.name))
        bad_path = os.path.join(tmp, "nan.onnx")
        onnx.save(m, bad_path)
        for p in ["int8", "nvfp4", "mixed"]:
            r = convert(bad_path, fb, "--precision", p, *DIT, expect_rc=None)
            c.check(r.returncode == 4 and "weight 'onnx::MatMul_654/t' has a NaN/Inf at (7, 3)" in r.stderr,
                    "NaN weight at --precision %s -> exit 4 with its name and (n, k): %s" %
                    (p, r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ""))

    print("\nsummary (output relative L2 vs the FP32 conversion; file size vs FP32):")
    for name, errs, sizes in summary:
        print("  %-12s int8 %.4f (%.3fx)  nvfp4 %.4f (%.3fx)  mixed %.4f (%.3fx)" %
              (name, errs["int8"], sizes["int8"] / sizes["fp32"], errs["nvfp4"], sizes["nvfp4"] / sizes["fp32"],
               errs["mixed"], sizes["mixed"] / sizes["fp32"]))
    c.done()


if __name__ == "__main__":
    run_alone(__file__)
