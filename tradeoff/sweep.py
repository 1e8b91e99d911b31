"""Collect every finished experiment's trade-off, grouped by setting with its spread across seeds,
into tables and one chart: the frontier of learning (ΔEX) against forgetting (ΔMMLU).

    dvc exp run --queue -S lr=1e-4 ; dvc exp run --queue -S lr=3e-4 ; dvc exp run --queue -S lora.r=64
    dvc queue start -j 1 ; dvc queue status      # wait until every task is done
    python -m tradeoff.sweep                     # -> reports/sweep.md, reports/sweep.json, reports/sweep.html

Reads `dvc exp show --json` (the committed baseline, the workspace and the experiments based on
the current commit; --all-commits for the experiments of every baseline) and takes each finished experiment's deltas
from its metrics/report.json (`git show REV:metrics/report.json`). Groups the arms (every arm of
each experiment's params.yaml `arms`) by setting (every shared param but train.seed, with the arm's own
fields in place of those they replace: another model, data, prompt, rate or method is another setting), gives each setting's mean,
sd and range across seeds beside its paired 95% intervals, and calls a difference between two
settings that differ in one param only when their seed ranges separate (at least 2 seeds each) and
their intervals do not overlap. Queued, running and failed experiments, and a workspace or commit
whose params.yaml differs from its dvc.lock, are left out and named with the reason.
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
from .report.sweep import ShowError, chart, collect, experiments, markdown, stale_params, why_left_out

REPORT = "metrics/report.json"
NUMBERS = ("d_ex", "d_ex_lo", "d_ex_hi", "d_mmlu", "d_mmlu_lo", "d_mmlu_hi")
LOCK = "dvc.lock"
REWRITE = "; truncated or edited? the report stage writes it again (dvc repro)"


def main(argv: list[str] | None = None) -> int:
    p = cli.ArgumentParser(prog="python -m tradeoff.sweep", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--all-commits", action="store_true",
                   help="experiments of every baseline commit, not only HEAD's (a commit's own committed metrics "
                        "only where it is HEAD or has experiments)")
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
    what = f"the output of `{' '.join(cmd)}`"
    show = _parse_json(_output(cmd), what)
    head = _output(["git", "rev-parse", "HEAD"]).strip() if args.all_commits else None
    try:
        exps = experiments(show, head)
    except (ShowError, AttributeError, KeyError, TypeError) as e:
        raise TradeoffError(f"{what}: not the shape DVC 3 prints ({e})") from None
    stale = {x["rev"]: stale_params(x["params"], _lock(x["rev"])) for x in exps if not why_left_out(x)}
    sweep = collect(exps, {x["rev"]: _report(x["rev"]) for x in exps if not why_left_out(x, stale.get(x["rev"]))},
                    stale)
    counted = [r for r in sweep["runs"] if r["counted"]]
    if not counted:
        raise TradeoffError("no finished experiment has a metrics/report.json yet: run `dvc repro` or `dvc queue "
                            f"start` ({len(sweep['left_out'])} left out: "
                            + "; ".join(f"{x['experiment']}: {x['why']}" for x in sweep["left_out"]) + ")")
    atomic.write_json(out / "sweep.json", sweep)
    atomic.write_text(out / "sweep.md", markdown(sweep))
    chart(counted, out / "sweep.html", Path(".dvc/plots"), args.forgetting_axis)
    print(markdown(sweep))
    logging.getLogger("sweep").info("wrote %s/sweep.md, sweep.json and sweep.html "
                                    "(%d runs in %d settings, %d left out)",
                                    out, len(counted), len(sweep["settings"]), len(sweep["left_out"]))


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


def _read(rev: str, name: str) -> tuple[str, str] | None:
    """(where, text) of a revision's file (the workspace's from disk), None where it has none."""
    if rev == "workspace":
        path = Path(name)
        return (str(path), read_text(path)) if path.is_file() else None
    done = subprocess.run(["git", "show", f"{rev}:{name}"], capture_output=True, text=True)
    return (f"{rev[:7]}:{name}", done.stdout) if done.returncode == 0 else None


def _report(rev: str) -> dict | None:
    """A revision's metrics/report.json, None where it has none; not an object: one line."""
    found = _read(rev, REPORT)
    if not found:
        return None
    report = _parse_json(found[1], found[0], REWRITE)
    if not isinstance(report, dict):
        raise TradeoffError(f"{found[0]}: not a JSON object{REWRITE}")
    for arm, r in report.items():  # an arm the sweep counts (any of them) has every number it shows
        if arm != "base" and isinstance(r, dict) and "d_ex" in r:
            bad = [k for k in NUMBERS if isinstance(r.get(k), bool) or not isinstance(r.get(k), (int, float))]
            if bad:
                raise TradeoffError(f"{found[0]}: {arm}.{bad[0]} is {json.dumps(r.get(bad[0]))}, not a number{REWRITE}")
    return report


def _lock(rev: str) -> dict | None:
    """A revision's dvc.lock, None where it has none; not valid YAML: one line. Read as DVC reads
    it (ruamel, YAML 1.2), where `5e-05` is a number, not PyYAML's string."""
    from ruamel.yaml import YAML, YAMLError

    found = _read(rev, LOCK)
    if not found:
        return None
    try:
        lock = YAML(typ="safe", pure=True).load(found[1])
    except YAMLError as e:
        raise TradeoffError(f"{found[0]}: not valid YAML ({str(e).splitlines()[0]}); DVC writes it again "
                            "(dvc repro)") from None
    if lock is not None and not (isinstance(lock, dict) and isinstance(lock.get("stages", {}), dict)):
        raise TradeoffError(f"{found[0]}: not a DVC lock file (no `stages` mapping)")
    return lock


if __name__ == "__main__":
    sys.exit(main())
