"""Every performance or quality figure in the READMEs names the committed
results file it comes from (bench/results/..., written by a bench script),
and that file exists.

What counts as a figure: a number with a unit of speed or quality (ms, s,
dB, GOP/s, GFLOP/s, a speed-up such as 1.28x, a percentage, KiB). Checked:
  - each Markdown table holding figures: the table's caption (the text
    between the previous table or heading and the table) or one of its rows
    must cite a bench/results file;
  - each prose paragraph or list item holding a speed figure (GOP/s,
    GFLOP/s, ms, a speed-up such as 1.28x): it must cite a bench/results file
    itself, or sit under a paragraph that does (for a paragraph the one right
    before it, for a list item the paragraph that leads into the list; within
    the same section).
A model's README (models/NAME/README.md) may cite its training logs
(logs/...) instead, for the facts of its training run. Every path cited
(globs and {a,b} lists included) must match a committed file.
"""
import glob
import os
import re
from checks import run_alone

SOURCE = os.environ.get("EDGE_SOURCE_DIR", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
READMES = ["README.md", "models/demo/README.md", "models/testbed/README.md"]

# A speed-up carries decimals (1.28x); "4x" alone is a shape (an MLP ratio).
FIGURE = re.compile(r"\d(?:[\d.,]*\d)?\s?(?:ms\b|s\b|dB\b|GOP/s|GFLOP/s|TOP/s|%|KiB\b)|\d\.\d+x\b")
SPEED = re.compile(r"\d(?:[\d.,]*\d)?\s?(?:ms\b|GOP/s|GFLOP/s|TOP/s)|\d\.\d+x\b")
CITE = re.compile(r"bench/results/[\w.*{},/-]+")
LOGS = re.compile(r"(?<![\w/])logs/[\w.*{},/-]+")


def expand(path):
    """bench/results/cache_curves_{image,video}.md -> both paths."""
    m = re.search(r"\{([^}]*)\}", path)
    if not m:
        return [path]
    return [q for alt in m.group(1).split(",") for q in expand(path[:m.start()] + alt + path[m.end():])]


def cited_paths(text, model_dir=None):
    """Results files cited in `text` (relative to the repo); in a model's
    README also its logs."""
    out = []
    for c in CITE.findall(text):
        out += expand(c.rstrip(".,)`"))
    if model_dir:
        for c in LOGS.findall(text):
            out += [os.path.join(model_dir, q) for q in expand(c.rstrip(".,)`"))]
    return out


def is_item(body):
    return re.match(r"\s*(?:[-*]|\d+\.)\s", body[0]) is not None


def blocks(lines):
    """Splits Markdown into blocks: ('table', rows), ('heading', line),
    ('code', lines) and ('text', lines) paragraphs, with their first line number."""
    i, out = 0, []
    while i < len(lines):
        ln = lines[i]
        if ln.startswith("```"):
            j = i + 1
            while j < len(lines) and not lines[j].startswith("```"):
                j += 1
            out.append(("code", lines[i:j + 1], i + 1))
            i = j + 1
        elif ln.startswith("|"):
            j = i
            while j < len(lines) and lines[j].startswith("|"):
                j += 1
            out.append(("table", lines[i:j], i + 1))
            i = j
        elif ln.startswith("#"):
            out.append(("heading", [ln], i + 1))
            i += 1
        elif not ln.strip():
            i += 1
        else:
            # A paragraph, or one list item (an item ends where the next starts).
            j = i + 1
            while (j < len(lines) and lines[j].strip() and not lines[j].startswith(("|", "#", "```"))
                   and not is_item([lines[j]])):
                j += 1
            out.append(("text", lines[i:j], i + 1))
            i = j
    return out


def check_readme(path, problems):
    lines = open(os.path.join(SOURCE, path), encoding="utf-8").read().split("\n")
    model_dir = os.path.dirname(path) if path.startswith("models/") else None
    cites = lambda t: cited_paths(t, model_dir)
    bl = blocks(lines)
    for c in cites("\n".join(lines)):
        if not glob.glob(os.path.join(SOURCE, c)):
            problems.append(f"{path}: cites {c}, which does not exist")
    for k, (kind, body, line) in enumerate(bl):
        text = "\n".join(body)
        # Text blocks back to the previous table or heading, nearest first.
        before = []
        for kind2, body2, _ in reversed(bl[:k]):
            if kind2 in ("table", "heading"):
                break
            if kind2 == "text":
                before.append(body2)
        if kind == "table":
            rows = [r for r in body[2:] if FIGURE.search(r)]
            if rows and not cites(text) and not any(cites("\n".join(b)) for b in before):
                problems.append(f"{path}:{line}: table with figures (e.g. {rows[0][:80]!r}) cites no bench/results file")
        elif kind == "text":
            speed = SPEED.findall(text)
            if is_item(body):
                lead = [b for b in before if not is_item(b)][:1]
            else:
                lead = before[:1]
            if speed and not cites(text) and not any(cites("\n".join(b)) for b in lead):
                problems.append(f"{path}:{line}: paragraph with speed figures ({', '.join(speed[:3])}) cites no "
                                f"bench/results file")


def test_readme_figures():
    problems = []
    for r in READMES:
        if os.path.exists(os.path.join(SOURCE, r)):
            check_readme(r, problems)
    assert not problems, f"{len(problems)} figure(s) without a results file:\n" + "\n".join(problems)


if __name__ == "__main__":
    run_alone(__file__)
