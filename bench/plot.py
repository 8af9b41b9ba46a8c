#!/usr/bin/python3
"""Draw bench/run.py's JSON results: IOPS and latency against queue depth (ours beside the ceiling), and the
latency distribution of the queue-depth-32 cases.

    /usr/bin/python3 bench/plot.py bench/results/latest-interrupt.json [more.json ...] --out DIR

Needs Debian's python3-matplotlib (apt-get install python3-matplotlib); run it with /usr/bin/python3, which is
the interpreter that package installs into.
"""
import argparse
import json
import math
import pathlib
import sys

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker
except ImportError:
    sys.exit("plot.py needs matplotlib: apt-get install python3-matplotlib, then run it with /usr/bin/python3")

QD_SERIES = [("randread", "4 KiB random read"), ("randwrite", "4 KiB random write")]


def load(paths):
    docs = []
    for p in paths:
        with open(p) as f:
            docs.append(json.load(f))
    return docs


def series(doc, pattern, side, metric):
    """(queue depth, value) points of one side ("ours" or "ceiling") per backend, for 4 KiB `pattern` cases. The
    ceiling is measured again in every backend's pass; the first pass's figures stand for it."""
    out = {}
    first_backend = doc["results"][0]["backend"] if doc["results"] else None
    for r in doc["results"]:
        w = r["workload"]
        if w["pattern"] != pattern or w["io_size"] != 4096 or not r[side].get("ok"):
            continue
        if side == "ceiling" and r["backend"] != first_backend:
            continue
        key = "ceiling" if side == "ceiling" else f"ours ({r['backend']})"
        out.setdefault(key, []).append((w["queue_depth"], metric(r[side])))
    return {k: sorted(v) for k, v in out.items()}


def iops(s):
    return s["iops"]


def lat(key):
    return lambda s: s["latency_us"][key]


def draw_vs_qd(docs, out):
    fig, axes = plt.subplots(2, len(QD_SERIES), figsize=(11, 8), squeeze=False)
    for col, (pattern, title) in enumerate(QD_SERIES):
        for doc in docs:
            mode = doc["mode"]
            for side in ("ours", "ceiling"):
                for name, pts in series(doc, pattern, side, iops).items():
                    style = "--" if side == "ceiling" else "-"
                    axes[0][col].plot([q for q, _ in pts], [v for _, v in pts], style, marker="o",
                                      label=f"{name}, {mode}")
                for key, marker in (("mean", "o"), ("p99", "^")):
                    for name, pts in series(doc, pattern, side, lat(key)).items():
                        style = "--" if side == "ceiling" else "-"
                        axes[1][col].plot([q for q, _ in pts], [v for _, v in pts], style, marker=marker,
                                          label=f"{name}, {mode}, {key}")
        axes[0][col].set_title(f"{title}: IOPS")
        axes[0][col].set_ylabel("IOPS")
        axes[1][col].set_title(f"{title}: latency")
        axes[1][col].set_ylabel("µs")
        axes[1][col].set_yscale("log")
        for ax in (axes[0][col], axes[1][col]):
            ax.set_xscale("log", base=2)
            ax.set_xticks([1, 2, 4, 8, 16, 32, 64, 128])
            ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
            ax.set_xlabel("queue depth")
            ax.grid(True, which="both", alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=7)
    fig.suptitle("nvmf target + nvmf perf vs the io_uring TCP ceiling (target/server core 0, host/client core 1)")
    fig.tight_layout()
    fig.savefig(out / "iops-latency-vs-qd.png", dpi=110)
    plt.close(fig)


def rebin(histogram, edges):
    """Counts per common log-spaced bin: the two tools' buckets differ in width, so both are folded into one
    grid before they are compared. A bucket goes to the bin holding its upper edge."""
    counts = [0] * (len(edges) - 1)
    total = sum(b["count"] for b in histogram) or 1
    for b in histogram:
        i = next((i for i in range(len(edges) - 1) if b["le_us"] < edges[i + 1]), len(edges) - 2)
        counts[i] += b["count"]
    return [c / total for c in counts]


def cdf(histogram):
    total = sum(b["count"] for b in histogram) or 1
    xs, ys, seen = [], [], 0
    for b in histogram:
        seen += b["count"]
        xs.append(max(b["le_us"], 1e-3))
        ys.append(100.0 * seen / total)
    return xs, ys


def draw_qd32(docs, out):
    rows = []
    for doc in docs:
        for r in doc["results"]:
            if r["workload"]["queue_depth"] == 32 and r["workload"]["io_size"] == 4096:
                rows.append((doc["mode"], r))
    if not rows:
        return False
    fig, axes = plt.subplots(len(rows), 2, figsize=(11, 3.2 * len(rows)), squeeze=False)
    for row, (mode, r) in enumerate(rows):
        sides = [(f"ours ({r['backend']})", r["ours"]), ("ceiling", r["ceiling"])]
        sides = [(n, s) for n, s in sides if s.get("ok") and s.get("histogram")]
        values = [b["le_us"] for _, s in sides for b in s["histogram"] if b["le_us"] > 0]
        if not values:
            continue
        lo, hi = math.log10(min(values)), math.log10(max(values))
        edges = [10 ** (lo + (hi - lo + 1e-9) * i / 60) for i in range(61)]
        for name, s in sides:
            axes[row][0].step(edges[:-1], [100 * f for f in rebin(s["histogram"], edges)], where="post", label=name)
            axes[row][1].plot(*cdf(s["histogram"]), label=name)
        axes[row][0].set_title(f"{r['case']} ({r['backend']}), {mode}: share of I/Os per latency bin")
        axes[row][0].set_ylabel("% of I/Os")
        axes[row][1].set_title(f"{r['case']} ({r['backend']}), {mode}: cumulative")
        axes[row][1].set_ylabel("% of I/Os at or below")
        for ax in axes[row]:
            ax.set_xscale("log")
            ax.set_xlabel("latency (µs)")
            ax.grid(True, which="both", alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "latency-distribution-qd32.png", dpi=110)
    plt.close(fig)
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", nargs="+", help="JSON files written by bench/run.py")
    ap.add_argument("--out", default=str(pathlib.Path(__file__).parent / "results"), help="directory for PNGs")
    args = ap.parse_args()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    docs = load(args.results)
    draw_vs_qd(docs, out)
    wrote = ["iops-latency-vs-qd.png"]
    if draw_qd32(docs, out):
        wrote.append("latency-distribution-qd32.png")
    else:
        print("no queue-depth-32 case in the results: no distribution plot", file=sys.stderr)
    print("wrote " + ", ".join(str(out / w) for w in wrote))


if __name__ == "__main__":
    main()
