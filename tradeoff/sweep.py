"""Collect every experiment's trade-off into one table and one chart: the frontier of learning
(ΔEX) against forgetting (ΔMMLU) across learning rates and LoRA ranks.

    dvc exp run --queue -S lr=1e-4 ; dvc exp run --queue -S lr=3e-4 ; dvc exp run --queue -S lora.r=64
    dvc queue start -j 1 ; dvc queue status      # wait until every task is done
    python -m tradeoff.sweep                     # -> reports/sweep.md, reports/sweep.json, reports/sweep.html

Reads `dvc exp show --json` (the committed baseline, the workspace and the experiments based on
the current commit; --all-commits for every baseline), takes each arm's deltas from its
metrics/report.json, and keeps one point per distinct arm setting (the exp2 arm is the same in a
sweep over `lr`, so it appears once).
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
from pathlib import Path

from . import TradeoffError, atomic

log = logging.getLogger(__name__)
LORA_KEYS = ("r", "alpha", "dropout")


def experiments(show: list[dict]) -> list[tuple[str, dict]]:
    """(name, data) of every revision in `dvc exp show --json` output that has data."""
    out = []
    for baseline in show:
        if baseline.get("data"):
            rev = baseline["rev"]
            out.append((baseline.get("name") or (rev if rev == "workspace" else rev[:7]), baseline["data"]))
        for exp in baseline.get("experiments") or []:
            for rev in exp.get("revs") or []:
                if rev.get("data"):
                    out.append((rev.get("name") or rev["rev"][:7], rev["data"]))
    # the workspace last: where it equals a commit, the commit's name is the one kept
    return sorted(out, key=lambda item: item[0] == "workspace")


def points(show: list[dict]) -> list[dict]:
    """One row per distinct arm setting: experiment, arm, lr, LoRA settings, ΔEX and ΔMMLU with
    their 95% intervals and McNemar p-values (points, i.e. percent)."""
    rows, seen = [], set()
    for name, data in experiments(show):
        params = data.get("params", {}).get("params.yaml", {}).get("data", {})
        report = data.get("metrics", {}).get("metrics/report.json", {}).get("data")
        if not report or "exp1" not in report or "d_ex" not in report["exp1"]:
            log.warning("%s: no metrics/report.json of this version (not reproduced yet?); left out", name)
            continue
        lora = params.get("lora", {})
        for arm in ("exp1", "exp2"):
            r = report[arm]
            setting = (r["lr"], *(lora.get(k) for k in LORA_KEYS), json.dumps(params.get("train", {}), sort_keys=True),
                       json.dumps(params.get("model", {}), sort_keys=True))
            if setting in seen:
                continue
            seen.add(setting)
            rows.append({"experiment": name, "arm": arm, "lr": r["lr"], **{f"lora_{k}": lora.get(k) for k in LORA_KEYS},
                         "base_ex": report["base"]["ex"], "base_mmlu": report["base"]["mmlu"],
                         **{k: r[k] for k in ("d_ex", "d_ex_lo", "d_ex_hi", "p_ex", "d_mmlu", "d_mmlu_lo",
                                              "d_mmlu_hi", "p_mmlu")}})
    return sorted(rows, key=lambda x: (x["lora_r"] or 0, x["lr"]))


def markdown(rows: list[dict]) -> str:
    lines = ["| experiment | arm | lr | LoRA r | ΔEX [95% CI] | p | ΔMMLU [95% CI] | p |", "|---|---|---|---|---|---|---|---|"]
    for x in rows:
        lines.append(f"| {x['experiment']} | {x['arm']} | {x['lr']:g} | {x['lora_r']} | "
                     f"{x['d_ex']:+.1f} [{x['d_ex_lo']:+.1f}, {x['d_ex_hi']:+.1f}] | {x['p_ex']:.3g} | "
                     f"{x['d_mmlu']:+.1f} [{x['d_mmlu_lo']:+.1f}, {x['d_mmlu_hi']:+.1f}] | {x['p_mmlu']:.3g} |")
    return "\n".join(lines) + "\n\nΔ in points against the base model of the same data; p: exact McNemar.\n"


def chart(rows: list[dict], out: Path, template_dir: Path) -> None:
    """The trade-off plane of every point, with DVC's own renderer and template."""
    from dvc_render import VegaRenderer, render_html

    data = [{**x, "rev": f"LoRA r {x['lora_r']}", "label": f"lr {x['lr']:g} ({x['experiment']})"} for x in rows]
    renderer = VegaRenderer(data, "sweep", template="tradeoff_plane", template_dir=str(template_dir),
                            title="Sweep: learning (ΔEX) vs forgetting (ΔMMLU), one point per arm setting",
                            x="d_mmlu", y="d_ex")
    tmp = out.with_name(out.name + ".tmp.html")
    render_html([renderer], tmp, html_template=template_dir / "page.html")  # UTF-8, for the minus signs
    tmp.replace(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("--all-commits", action="store_true", help="experiments of every baseline commit, not only HEAD's")
    p.add_argument("--out-dir", default="reports", help="where sweep.md, sweep.json and sweep.html go")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        cmd = ["dvc", "exp", "show", "--json"] + (["--all-commits"] if args.all_commits else [])
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode:
            raise TradeoffError(f"`{' '.join(cmd)}` failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
        rows = points(json.loads(done.stdout))
        if not rows:
            raise TradeoffError("no experiment has a metrics/report.json yet: run `dvc repro` or `dvc queue start`")
    except TradeoffError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out = Path(args.out_dir)
    atomic.write_json(out / "sweep.json", rows)
    atomic.write_text(out / "sweep.md", markdown(rows))
    chart(rows, out / "sweep.html", Path(".dvc/plots"))
    print(markdown(rows))
    log.info("wrote %s/sweep.md, sweep.json and sweep.html (%d points)", out, len(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
