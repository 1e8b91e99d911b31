"""The learning-forgetting frontier as a picture (PNG): each arm's gain in Spider EX against what it
cost on MMLU, with 95% intervals, beside how far its MMLU answers moved; and an arm's path over
training when a curve is given. Needs matplotlib (`pip install matplotlib`; not a dependency of the
pipeline).

    python bench/plot_frontier.py --results reports/results.json [--curve [LABEL=]reports/plots/curve_exp1.json ...]
        [--lr exp1=2e-4 ...] --out frontier.png

--results is the report's results.json (`tradeoff.report.table.build` over base and the arms);
arm names like `lr5e-4` label themselves, others take --lr.
"""

import argparse
import json
from pathlib import Path


def label(arm: str, lrs: dict) -> str:
    return f"lr {lrs[arm]}" if arm in lrs else arm.replace("lr", "lr ")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--results", type=Path, required=True, help="the report's results.json")
    ap.add_argument("--curve", action="append", default=[],
                    help="[LABEL=]PATH: a curve's points (the curve stage's JSON), labelled LABEL (default: its arm)")
    ap.add_argument("--curve-note", default="", help="what the curve's MMLU was scored on, for its legend")
    ap.add_argument("--lr", action="append", default=[], help="ARM=RATE labels, e.g. exp1=2e-4")
    ap.add_argument("--title", default="What LoRA on Spider bought (EX) and cost (MMLU)")
    ap.add_argument("--out", type=Path, required=True, help="the PNG to write")
    args = ap.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    result = json.loads(args.results.read_text())
    lrs = dict(kv.split("=", 1) for kv in args.lr)
    arms = [m for m in result["models"] if m != "base"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5.2), sharey=True)
    colors = plt.cm.viridis([i / max(1, len(arms) - 1) for i in range(len(arms))])
    for arm, color in zip(arms, colors):
        ex, mm = result["models"][arm]["EX"], result["models"][arm]["overall"]
        y, (ylo, yhi) = 100 * ex["delta"], (100 * v for v in ex["delta_ci"])
        x, (xlo, xhi) = 100 * mm["delta"], (100 * v for v in mm["delta_ci"])
        left.errorbar([x], [y], xerr=[[x - xlo], [xhi - x]], yerr=[[y - ylo], [yhi - y]], fmt="o", color=color,
                      capsize=3, label=label(arm, lrs))
        fg = result.get("forgetting", {}).get(arm, {}).get("overall")
        if fg and fg["n"]:
            right.errorbar([100 * fg["answers_changed"]], [y], yerr=[[y - ylo], [yhi - y]], fmt="o", color=color,
                           capsize=3, label=label(arm, lrs))
    for spec, style in zip(args.curve, ["--", ":", "-."] * 3):
        name, _, path = spec.rpartition("=")
        points = json.loads(Path(path).read_text())
        xs, ys = [p["d_mmlu"] for p in points], [p["d_ex"] for p in points]
        left.plot(xs, ys, style, color="gray", lw=1,
                  label=f"path over training ({name or points[-1]['arm']}{args.curve_note})")
        for p in points:
            left.annotate(f"step {p['step']}", (p["d_mmlu"], p["d_ex"]), fontsize=7, color="gray",
                          xytext=(4, -10), textcoords="offset points")
    left.axvline(0, color="k", lw=0.5)
    left.axhline(0, color="k", lw=0.5)
    right.axhline(0, color="k", lw=0.5)
    left.set_xlabel("Δ MMLU accuracy vs base (points; left = forgetting)")
    left.set_ylabel("Δ Spider EX vs base (points)")
    right.set_xlabel("MMLU answers changed vs base (% of questions)")
    handles, labels = left.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 5), fontsize=8, frameon=False)
    left.grid(alpha=0.3)
    right.grid(alpha=0.3)
    fig.suptitle(args.title)
    fig.tight_layout(rect=(0, 0.04 * (1 + (len(labels) - 1) // 5), 1, 1))
    fig.savefig(args.out, dpi=120)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
