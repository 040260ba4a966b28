"""Markdown table and PNG plots from a bench/peers/compare.py report.

    /usr/bin/python3 report.py model.json [--attention model_attention.json]
                               --md model.md --plots PREFIX
writes model.md, PREFIX_pareto.png (latency vs PSNR, Pareto front) and
PREFIX_ops.png (edge's per-op breakdown of one block).
"""
import argparse
import json
import math
import os

PSNR_EXACT = 100.0  # where "identical to FP32" (infinite PSNR) is drawn
NAMES = {"edge": "edge", "ort": "ONNX Runtime", "torch": "PyTorch"}


def fmt_ms(s):
    if not s:
        return "–"
    return f"{s['median']:.1f} ({s['min']:.1f}–{s['max']:.1f})"


def fmt_psnr(q):
    if q is None:
        return "–"
    return "exact" if q.get("psnr_db") is None else f"{q['psnr_db']:.1f}"


def rows_of(d, kind, T):
    return [r for r in d["rows"] if r["kind"] == kind and r["threads"] == T]


def find(d, engine, precision, kind, T):
    for r in d["rows"]:
        if (r["engine"], r["precision"], r["kind"], r["threads"]) == (engine, precision, kind, T):
            return r
    return None


def threads_list(d):
    return sorted({r["threads"] for r in d["rows"]})


def headline_shape(d):
    return d["model"]["tokens"] == 1024 and d["model"]["depth"] == 12


def anchor_any(d, kind, engine, precision, T):
    key = "block_ms" if kind == "block" else "forward_ms"
    v = d.get("anchors", {}).get(key, {}).get(f"{engine}_{precision}")
    return v[T - 1] if v and 1 <= T <= len(v) else None


def anchor(d, kind, engine, precision, T):
    if not headline_shape(d):
        return None  # the anchors are for DiT-B/2 at 1024 tokens
    key = "block_ms" if kind == "block" else "forward_ms"
    v = d.get("anchors", {}).get(key, {}).get(f"{engine}_{precision}")
    return v[T - 1] if v and 1 <= T <= len(v) else None


def latency_table(d, kind):
    out = []
    tok = d["model"]["tokens"]
    title = f"One DiT-B block ({tok} tokens), ms" if kind == "block" else "One forward of the whole model, ms"
    out.append(f"**{title}** (median of {d['settings']['rounds']} alternated rounds, min–max in brackets)\n")
    out.append("| threads | engine | precision | ms | peer / edge FP32 (pairwise) | PSNR vs own FP32 dB | "
               "rel. L2 | anchor ms |")
    out.append("|---|---|---|---|---|---|---|---|")
    for T in threads_list(d):
        for r in rows_of(d, kind, T):
            ratio = r.get("ratio_vs_edge_fp32")
            ratio_s = "1 (reference)" if (r["engine"] == "edge" and r["precision"] == "fp32") else (
                f"{ratio['median']:.2f} ({ratio['min']:.2f}–{ratio['max']:.2f})" if ratio else "–")
            q = r.get("quality_vs_own_fp32")
            a = anchor(d, kind, r["engine"], r["precision"], T)
            out.append(f"| {T} | {NAMES[r['engine']]} | {r['precision']} | {fmt_ms(r['ms'])} | {ratio_s} | "
                       f"{fmt_psnr(q)} | {q['rel_l2']:.2e} | {a if a else '–'} |")
    return "\n".join(out) + "\n"


def generation_table(d):
    out = ["**Sampling run** (edge: measured Pipeline::Generate; peers: steps x their median forward "
           "from the alternated rounds; edge's runs follow the rounds, not interleaved with them, so these ratios "
           "carry more drift than the tables above; the step cache's skips depend on this random-weight model)\n",
           "| threads | edge config | edge ms (median step) | blocks skipped | ORT FP32 | ORT INT8 | "
           "speedup vs ORT FP32 | speedup vs ORT INT8 | PSNR vs edge FP32 dB |",
           "|---|---|---|---|---|---|---|---|---|"]
    for g in d["edge_generate"]:
        T = g["threads"]
        of = find(d, "ort", "fp32", "full", T)
        oi = find(d, "ort", "int8", "full", T)
        steps = g["steps"]
        of_ms = of["ms"]["median"] * steps if of else None
        oi_ms = oi["ms"]["median"] * steps if oi else None
        q = g.get("quality_vs_fp32")
        cfg = f"{g['precision']}, cache {g['cache']}, density {g['attention_density']:g}"
        sk = f"{g.get('blocks_skipped', 0)}/{(g.get('blocks_skipped') or 0) + (g.get('blocks_computed') or 0)}"
        out.append(f"| {T} | {cfg} | {g['total_ms']:.0f} ({g['step_ms']['median']:.0f}) | {sk} | "
                   f"{of_ms:.0f} | {oi_ms:.0f} | {of_ms / g['total_ms']:.2f}x | {oi_ms / g['total_ms']:.2f}x | "
                   f"{fmt_psnr(q) if q else 'exact (reference)'} |")
    return "\n".join(out) + "\n"


def goals_table(d):
    G = d["goals"]
    out = ["**Goals: where we stand** (best configuration edge can run today)\n",
           "| goal | target | now | status |", "|---|---|---|---|"]
    for T in threads_list(d):
        best = min((r for r in rows_of(d, "block", T) if r["engine"] == "edge" and (
            r["quality_vs_own_fp32"]["psnr_db"] is None or r["quality_vs_own_fp32"]["psnr_db"] >= G["psnr_db"])),
            key=lambda r: r["ms"]["median"], default=None)
        tgt = G["block_ms"].get(str(T))
        if best and tgt:
            now = best["ms"]["median"]
            out.append(f"| one block, {T} thread(s), INT8/NVFP4 | <= {tgt:g} ms | {now:.1f} ms ({best['precision']}) "
                       f"| {'met' if now <= tgt else f'{now / tgt:.1f}x too slow'} |")
            # The same goal against the best peer measured in this run, which
            # cancels the machine's load: target/anchor of ORT INT8 (30/54, 17/31).
            oi = find(d, "ort", "int8", "block", T)
            anc = anchor_any(d, "block", "ort", "int8", T)
            if oi and anc:
                want = tgt / anc
                ratios = [e / o for e, o in zip(best["rounds_ms"], oi["rounds_ms"])]
                r = sorted(ratios)[len(ratios) // 2]
                out.append(f"| same, relative to ORT INT8 side by side | edge/ORT <= {want:.2f} ({tgt:g}/{anc:g}) | "
                           f"{r:.2f} (ORT INT8 {oi['ms']['median']:.1f} ms) | "
                           f"{'met' if r <= want else f'{r / want:.1f}x too slow'} |")
    for T in threads_list(d):
        # The fastest edge generation whose output stays >= the PSNR goal vs FP32.
        ok = [g for g in d["edge_generate"] if g["threads"] == T and (
            "quality_vs_fp32" not in g or g["quality_vs_fp32"]["psnr_db"] is None or
            g["quality_vs_fp32"]["psnr_db"] >= G["psnr_db"])]
        if not ok:
            continue
        g = min(ok, key=lambda x: x["total_ms"])
        q = g.get("quality_vs_fp32")
        cfg = (f"{g['precision']}, cache {g['cache']}, density {g['attention_density']:g}, "
               f"PSNR {fmt_psnr(q) if q else 'exact'}")
        for prec, key in (("fp32", "speedup_vs_ort_fp32"), ("int8", "speedup_vs_ort_int8")):
            r = find(d, "ort", prec, "full", T)
            if not r:
                continue
            sp = r["ms"]["median"] * g["steps"] / g["total_ms"]
            tgt = G[key]
            out.append(f"| full stack {g['steps']} steps vs ORT {prec.upper()}, {T} thread(s) | >= {tgt:g}x at >= "
                       f"{G['psnr_db']:g} dB | {sp:.2f}x ({cfg}) | "
                       f"{'met' if sp >= tgt else f'needs {tgt / sp:.1f}x more'} |")
    return "\n".join(out) + "\n"


def unavailable_table(d):
    if not d["unavailable"]:
        return ""
    seen, out = set(), ["**Configurations not available yet** (listed, not measured)\n",
                        "| configuration | reason |", "|---|---|"]
    for u in d["unavailable"]:
        cfg = ", ".join(f"{k} {v}" for k, v in u.items() if k not in ("engine", "reason", "threads", "kind"))
        if (cfg, u["reason"]) in seen:
            continue
        seen.add((cfg, u["reason"]))
        out.append(f"| edge {cfg} | {u['reason']} |")
    return "\n".join(out) + "\n"


def block_op_keys(d):
    """Block breakdowns to show: FP32 and INT8 (dense) at every thread count."""
    keys = [k for k in d["edge_ops"] if k.startswith("block_") and k.count("_") == 1]
    keys += [k for k in d["edge_ops"] if k.startswith("block_int8_t")]
    return sorted(keys, key=lambda k: (k.split("_t")[1], "int8" in k))


def col_name(k):
    prec = "int8" if "int8" in k else "fp32"
    return f"{prec}, {k.split('_t')[1]} thr."


def ops_table(d):
    out = ["**edge per-op breakdown of one block** (median ms)\n"]
    keys = block_op_keys(d)
    if not keys:
        return ""
    names = None
    cols = []
    for k in keys:
        ops = [o for o in d["edge_ops"][k]["ops"] if o["block"] == 0]
        cols.append({o["name"].split(".", 2)[-1]: o for o in ops})
        names = names or [o["name"].split(".", 2)[-1] for o in ops]
    out.append("| op | " + " | ".join(col_name(k) for k in keys) + " | kernels |")
    out.append("|---|" + "---|" * len(keys) + "---|")
    for n in names:
        kernels = sorted({c[n]["kernel"] for c in cols if n in c})
        out.append(f"| {n} | " + " | ".join(f"{c[n]['ms']['median']:.2f}" if n in c else "–" for c in cols) +
                   f" | {', '.join(kernels)} |")
    out.append("| **total** | " + " | ".join(f"{sum(o['ms']['median'] for o in c.values()):.1f}" for c in cols) + " | |")
    return "\n".join(out) + "\n"


def attention_section(att):
    if not att:
        return ""
    out = ["**Attention kernel alone** (12 heads, d=64, FP32, dense tiled; PyTorch SDPA figures are the anchors; "
           "tiles 25%: block-sparse over 64-key tiles at density 0.25, run after dense in the same process)\n",
           "| tokens | threads | edge ms | PyTorch SDPA anchor ms | anchor / edge | tiles 25% ms | dense / tiles 25% |",
           "|---|---|---|---|---|---|---|"]
    for a in att:
        anc = a.get("pytorch_sdpa_anchor_ms")
        sparse = [v for v in a.get("variants", []) if v["variant"] == "tiles density 0.25"]
        tail = (f"{fmt_ms(sparse[0]['ms'])} | {sparse[0]['speedup_vs_dense']:.2f}x |" if sparse else "– | – |")
        out.append(f"| {a['tokens']} | {a['threads']} | {fmt_ms(a['ms'])} | {anc if anc else '–'} | "
                   + (f"{a['speedup_vs_anchor']:.2f} | " if anc else "– | ") + tail)
    return "\n".join(out) + "\n"


def sizes_section(d):
    fb = d["model"].get("file_bytes", {})
    bins = d.get("binaries_bytes", {})
    mb = lambda b: f"{b / 1e6:.1f} MB"
    parts = [f"{k}: {mb(v)}" for k, v in fb.items()]
    out = "**Sizes**: model files " + ", ".join(parts) + ". Binaries: " + \
          ", ".join(f"{k} {v / 1024:.0f} KiB" for k, v in bins.items()) + "."
    peak = {k: v["peak_rss_bytes"] for k, v in d["edge_ops"].items()}
    if peak:
        out += " edge peak RSS: " + ", ".join(f"{k} {v / 2**20:.0f} MiB" for k, v in peak.items()) + "."
    return out + "\n"


def headline(d, plots_prefix_rel):
    """The short tables for the README: ms, median of alternated rounds."""
    cols = [("edge", "fp32"), ("edge", "int8"), ("edge", "int8+sparse0.25"), ("ort", "fp32"), ("ort", "int8"),
            ("torch", "fp32"), ("torch", "int8")]
    head = " | ".join(f"{NAMES[e]} {p.upper() if '+' not in p else 'INT8 + sparse 25%'}" for e, p in cols)
    out = []
    for kind, title in (("block", "one DiT-B block"), ("full", "one forward, 12 blocks")):
        out += [f"| {title}, threads | {head} |", "|---" * (len(cols) + 1) + "|"]
        for T in threads_list(d):
            cells = []
            for e, p in cols:
                r = find(d, e, p, kind, T)
                cells.append(f"{r['ms']['median']:.0f}" if r else "–")
            out.append(f"| {T} | " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def plot_pareto(d, path):
    """Latency vs PSNR of one forward, one panel per thread count, Pareto front dashed."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    Ts = threads_list(d)
    fig, axes = plt.subplots(1, len(Ts), figsize=(5.2 * len(Ts), 4.6), squeeze=False)
    colors = {"edge": "tab:blue", "ort": "tab:orange", "torch": "tab:green"}
    short = {"edge": "edge", "ort": "ORT", "torch": "PT"}
    for ax, T in zip(axes[0], Ts):
        pts = []
        for r in rows_of(d, "full", T):
            q = r["quality_vs_own_fp32"]["psnr_db"]
            y = PSNR_EXACT if q is None else min(q, PSNR_EXACT)
            x = r["ms"]["median"]
            ax.scatter(x, y, color=colors[r["engine"]], s=40, zorder=3)
            prec = r["precision"].replace("+sparse", "+sp")
            ax.annotate(f"{short[r['engine']]} {prec}", (x, y), fontsize=7, rotation=25,
                        xytext=(3, 3), textcoords="offset points")
            pts.append((x, y))
        front, best = [], -math.inf
        for x, y in sorted(pts):
            if y > best:
                front.append((x, y))
                best = y
        ax.plot([p[0] for p in front], [p[1] for p in front], "--", color="gray", lw=1, label="Pareto front")
        ax.axhline(d["goals"]["psnr_db"], color="red", lw=0.8, ls=":", label=f"{d['goals']['psnr_db']:g} dB")
        ax.set_xscale("log")
        ax.set_xlabel("one forward, ms (log)")
        ax.set_ylabel(f"PSNR vs same engine FP32, dB ({PSNR_EXACT:g} = exact)")
        ax.set_ylim(25, PSNR_EXACT + 12)
        ax.set_title(f"{T} thread(s)", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="center right")
    fig.suptitle(f"DiT-B/2-like ({d['model']['tokens']} tokens, {d['model']['depth']} blocks): latency vs quality "
                 "(edge blue, ONNX Runtime orange, PyTorch green)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_ops(d, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    keys = block_op_keys(d)
    if not keys:
        return
    fig, ax = plt.subplots(figsize=(7, 4.5))
    names = None
    width = 0.8 / len(keys)
    for i, k in enumerate(keys):
        ops = [o for o in d["edge_ops"][k]["ops"] if o["block"] == 0]
        names = names or [o["name"].split(".", 2)[-1] for o in ops]
        vals = [o["ms"]["median"] for o in ops]
        ax.barh([j + i * width for j in range(len(vals))], vals, height=width,
                label=f"{col_name(k)}: total {sum(vals):.1f} ms")
    ax.set_yticks([j + width * (len(keys) - 1) / 2 for j in range(len(names))])
    ax.set_yticklabels(names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("ms (median)")
    ax.set_title(f"edge, one DiT-B block ({d['model']['tokens']} tokens): time per op", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("json")
    ap.add_argument("--attention", action="append", default=[], help="edge-bench attention --json outputs")
    ap.add_argument("--md", required=True)
    ap.add_argument("--plots", required=True, help="path prefix of the PNG files")
    ap.add_argument("--headline", help="write the README table here")
    a = ap.parse_args()
    d = json.load(open(a.json))
    att = []
    for p in a.attention:
        for line in open(p):
            if line.strip():
                att.append(json.loads(line))
    os.makedirs(os.path.dirname(os.path.abspath(a.plots)), exist_ok=True)
    os.makedirs(os.path.dirname(os.path.abspath(a.md)), exist_ok=True)
    pareto, ops = a.plots + "_pareto.png", a.plots + "_ops.png"
    plot_pareto(d, pareto)
    plot_ops(d, ops)
    m = d["machine"]
    rel = lambda p: os.path.relpath(p, os.path.dirname(os.path.abspath(a.md)))
    ps = d.get("peer_settings", {})
    text = [
        "# edge-bench: DiT-B/2-like model against ONNX Runtime and PyTorch\n",
        f"Machine: {m['cpu_model']} (family {m.get('cpu family')}, model {m.get('model')}), "
        f"{m['cores_online']} cores, ISA: {', '.join(m['isa'])}; {m.get('os', '')}, kernel {m.get('kernel')}"
        + (f", {m['date']}" if m.get("date") else "") + ". "
        f"Load average at start: {', '.join(f'{x:.1f}' for x in m.get('load_avg_at_start', []))}"
        + (" — the machine was shared with other work, so absolute times are inflated and 2-thread runs "
           "suffer most (a descheduled thread stalls every barrier); compare the pairwise ratios, and the "
           "anchors column for undisturbed figures." if m.get("load_avg_at_start", [0])[0] > 1.5 * m["cores_online"]
           else "") + "\n",
        f"Command: `{d['command']}` ({d['wall_s']} s). Versions: ONNX Runtime "
        f"{d.get('versions', {}).get('onnxruntime')} (Python package), PyTorch {d.get('versions', {}).get('torch')}"
        f" (peers under Python {d.get('versions', {}).get('peer_python')}).\n",
        "Method: one worker process per engine holds every variant; each round runs one timed forward of every "
        "variant in turn (start rotated), so drift of the shared machine hits all alike, and each peer's time is "
        "divided by edge FP32's time of the same round (median of the per-round ratios; > 1 means edge is faster). "
        "All engines run the same network with the same weights and inputs (edge's builder model; the ONNX is exported "
        "from a PyTorch module loading those weights; FP32 outputs agree, see PSNR vs edge FP32 in the JSON). "
        f"PyTorch at its best: tcmalloc preloaded ({ps.get('pytorch', {}).get('ld_preload')}), OPENBLAS_CORETYPE unset, "
        f"BLAS {ps.get('pytorch', {}).get('blas')}, torch.set_num_threads(T), dynamic INT8 on the "
        f"{ps.get('pytorch', {}).get('quantized_engine')} engine. ONNX Runtime: all graph optimizations, intra-op "
        "threads T; INT8 = DynamicQuantizeLinear + MatMulInteger (per-column int8 weights), 4-bit = MatMulNBits "
        "(block 32, int8 compute).\n",
        latency_table(d, "block"),
        latency_table(d, "full"),
        generation_table(d) if d["edge_generate"] else "",
        goals_table(d) if headline_shape(d) else "(Goals are stated for the DiT-B/2 shape; this run used another.)\n",
        unavailable_table(d),
        f"![latency vs PSNR]({rel(pareto)})\n",
        f"![per-op breakdown]({rel(ops)})\n",
        ops_table(d),
        attention_section(att),
        sizes_section(d),
    ]
    with open(a.md, "w") as f:
        f.write("\n".join(t for t in text if t))
    if a.headline:
        with open(a.headline, "w") as f:
            f.write(headline(d, a.plots))
    print("wrote", a.md, pareto, ops)


if __name__ == "__main__":
    main()
