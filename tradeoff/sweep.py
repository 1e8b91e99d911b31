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

from . import TradeoffError, atomic, cli, read_text
from .config import FORGETTING_AXES
from .report.sweep import chart, experiments, markdown, points

REPORT = "metrics/report.json"
REWRITE = "; truncated or edited? the report stage writes it again (dvc repro)"


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
    out = Path(args.out_dir)
    atomic.check_writable(*(out / name for name in ("sweep.json", "sweep.md", "sweep.html")))
    cmd = ["dvc", "exp", "show", "--json"] + (["--all-commits"] if args.all_commits else [])
    show = _parse_json(_output(cmd), f"the output of `{' '.join(cmd)}`")
    rows = points(show, {rev: _report(rev) for _, rev, _ in experiments(show)})
    if not rows:
        raise TradeoffError("no experiment has a metrics/report.json yet: run `dvc repro` or `dvc queue start`")
    atomic.write_json(out / "sweep.json", rows)
    atomic.write_text(out / "sweep.md", markdown(rows))
    chart(rows, out / "sweep.html", Path(".dvc/plots"), args.forgetting_axis)
    print(markdown(rows))
    logging.getLogger("sweep").info("wrote %s/sweep.md, sweep.json and sweep.html (%d points)", out, len(rows))


def _output(cmd: list[str]) -> str:
    """What `cmd` prints; a missing program or a failure is one line."""
    try:
        done = subprocess.run(cmd, capture_output=True, text=True)
    except FileNotFoundError:
        raise TradeoffError(f"{cmd[0]}: not found on PATH; activate the project's environment "
                            "(source .venv/bin/activate)") from None
    if done.returncode:
        raise TradeoffError(f"`{' '.join(cmd)}` failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
    return done.stdout


def _parse_json(text: str, what: str, hint: str = ""):
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise TradeoffError(f"{what}: not valid JSON ({e.msg} at line {e.lineno}){hint}") from None


def _report(rev: str) -> dict | None:
    """A revision's metrics/report.json (the workspace's from disk), None where it has none."""
    if rev == "workspace":
        path = Path(REPORT)
        return _parse_json(read_text(path), str(path), REWRITE) if path.is_file() else None
    done = subprocess.run(["git", "show", f"{rev}:{REPORT}"], capture_output=True, text=True)
    return _parse_json(done.stdout, f"{rev}:{REPORT}", REWRITE) if done.returncode == 0 else None


if __name__ == "__main__":
    sys.exit(main())
