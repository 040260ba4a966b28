"""Markdown report of an `edge-convert --target-psnr ... --json` run: the
chosen configuration, the held-back check, the grid comparison when
--tune-grid ran, and the quality-speed front of every configuration the
search measured (calibration PSNR against predicted speed-up over FP32).

Usage: python3 bench/quality/tune_report.py REPORT.json [--title T] [--command CMD] > OUT.md
"""
import argparse
import json


def front(points):
    """Configurations no other one beats in both PSNR and speed-up."""
    keep, seen = [], set()
    for p in points:
        key = (round(p["psnr"], 3), round(p["speedup"], 3))
        if key in seen:
            continue  # the same outcome under another setting (e.g. a threshold that never triggers)
        seen.add(key)
        if not any(q["psnr"] >= p["psnr"] and q["speedup"] > p["speedup"] or
                   q["psnr"] > p["psnr"] and q["speedup"] >= p["speedup"] for q in points):
            keep.append(p)
    return sorted(keep, key=lambda p: p["speedup"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("report")
    ap.add_argument("--title", default="edge-convert --target-psnr")
    ap.add_argument("--command", default="")
    a = ap.parse_args()
    with open(a.report) as f:
        t = json.load(f)["tuning"]
    base = t["trace"][0]["predicted_s"]
    pts = []
    for c in t["trace"]:
        pts.append(dict(c, speedup=base / c["predicted_s"] if c["predicted_s"] > 0 else 0.0))
    ch = t["chosen"]
    print(f"# {a.title}\n")
    if a.command:
        print(f"`{a.command}`\n")
    print(f"Target {t['target_psnr']} dB (+{t['margin_db']} dB on calibration); objective: {t['objective']} "
          f"({t['isa']}: {t['isa_source']}); {t['generations']} generations in {t['seconds']:.0f} s.\n")
    print("| | configuration | PSNR (dB) | worst sample (dB) | speed-up |")
    print("|---|---|---|---|---|")
    print(f"| chosen, calibration | {ch['config']} | {ch['psnr']:.2f} | {ch['worst_psnr']:.2f} | "
          f"{t['predicted_speedup']:.2f}x predicted |")
    if t["holdout_psnr"] >= 0:
        print(f"| chosen, held-back classes | same | {t['holdout_psnr']:.2f} | {t['holdout_worst_psnr']:.2f} | "
              f"{t['holdout_measured_speedup']:.2f}x measured (CPU time) |")
    if "grid_best" in t:
        g = t["grid_best"]
        print(f"| best of the full grid ({t['grid_points']} points) | {g['config']} | {g['psnr']:.2f} | "
              f"{g['worst_psnr']:.2f} | {base / g['predicted_s']:.2f}x predicted |")
        print(f"\nThe greedy choice reaches {100 * t['greedy_vs_grid_speedup']:.0f}% of the grid's best speed-up.")
    print("\n## Quality-speed front of the configurations the search ran (calibration set)\n")
    print("| configuration | PSNR (dB) | worst (dB) | skipped | exact pairs | rows computed | predicted speed-up |")
    print("|---|---|---|---|---|---|---|")
    for p in front(pts):
        # (reports from before token reuse was searched have no rows)
        print(f"| {p['config']} | {p['psnr']:.2f} | {p['worst_psnr']:.2f} | {100 * p['skip_fraction']:.0f}% | "
              f"{100 * p['exact_fraction']:.0f}% | {100 * p.get('rows_fraction', 1.0):.0f}% | {p['speedup']:.2f}x |")
    print("\n## Search trace\n")
    print("| step | configuration | PSNR (dB) | keeps target | predicted speed-up |")
    print("|---|---|---|---|---|")
    for p in pts:
        print(f"| {p['step']} | {p['config']} | {p['psnr']:.2f} | {'yes' if p['keeps_target'] else 'no'} | "
              f"{p['speedup']:.2f}x |")


if __name__ == "__main__":
    main()
