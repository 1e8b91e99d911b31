"""Collect every experiment's trade-off into one table and one chart: the frontier of learning
(ΔEX) against forgetting (ΔMMLU) across learning rates and LoRA ranks.

    dvc exp run --queue -S lr=1e-4 ; dvc exp run --queue -S lr=3e-4 ; dvc exp run --queue -S lora.r=64
    dvc queue start -j 1 ; dvc queue status      # wait until every task is done
    python -m tradeoff.sweep                     # -> reports/sweep.md, reports/sweep.json, reports/sweep.html

Reads `dvc exp show --json` (the committed baseline, the workspace and the experiments based on
the current commit; --all-commits for every baseline), takes each arm's deltas from that
revision's metrics/report.json (`git show REV:metrics/report.json`), and keeps one point per
distinct arm setting (the exp2 arm is the same in a sweep over `lr`, so it appears once).
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
from pathlib import Path

from . import TradeoffError, atomic, cli
from .config import FORGETTING_AXES
from .report.sweep import chart, experiments, markdown, points

REPORT = "metrics/report.json"


def main(argv: list[str] | None = None) -> int:
    p = cli.ArgumentParser(prog="python -m tradeoff.sweep", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--all-commits", action="store_true", help="experiments of every baseline commit, not only HEAD's")
    p.add_argument("--out-dir", default="reports", help="where sweep.md, sweep.json and sweep.html go")
    p.add_argument("--forgetting-axis", choices=FORGETTING_AXES, default="mmlu",
                   help="the chart's x: Δ MMLU accuracy (default), Δ gold-letter probability (no interval in "
                        "the metrics), the share of answers changed, or the KL divergence")
    args = p.parse_args(argv)
    cli.setup_logging("%(levelname)s %(name)s: %(message)s")
    return cli.exit_status(lambda: _collect(args))


def _collect(args) -> None:
    cmd = ["dvc", "exp", "show", "--json"] + (["--all-commits"] if args.all_commits else [])
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        raise TradeoffError(f"`{' '.join(cmd)}` failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
    show = json.loads(done.stdout)
    rows = points(show, {rev: _report(rev) for _, rev, _ in experiments(show)})
    if not rows:
        raise TradeoffError("no experiment has a metrics/report.json yet: run `dvc repro` or `dvc queue start`")
    out = Path(args.out_dir)
    atomic.write_json(out / "sweep.json", rows)
    atomic.write_text(out / "sweep.md", markdown(rows))
    chart(rows, out / "sweep.html", Path(".dvc/plots"), args.forgetting_axis)
    print(markdown(rows))
    logging.getLogger("sweep").info("wrote %s/sweep.md, sweep.json and sweep.html (%d points)", out, len(rows))


def _report(rev: str) -> dict | None:
    """A revision's metrics/report.json (the workspace's from disk), None where it has none."""
    if rev == "workspace":
        path = Path(REPORT)
        return json.loads(path.read_text()) if path.is_file() else None
    done = subprocess.run(["git", "show", f"{rev}:{REPORT}"], capture_output=True, text=True)
    return json.loads(done.stdout) if done.returncode == 0 else None


if __name__ == "__main__":
    sys.exit(main())
