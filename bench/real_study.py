"""Run the study's stages in order without DVC (e.g. on a rented GPU) and record what each cost:
wall seconds per stage (model loading included: what a user waits), training tokens/s, and
questions/s of each evaluation.

    python -m tradeoff.profile profiles/real-study.yaml --set data.spider=... --set data.mmlu=... --write-params real.yaml
    python bench/real_study.py --params real.yaml [--stages train@exp1 eval_sql_base ...] [--timeout 900]

Keeps one record per stage, with the hardware and commit, in --out (default bench/results/real_study_timing.json, rewritten
atomically after every stage, so a run cut short keeps what finished) and prints the table.
The stages write their usual outputs (metrics/, predictions/, adapters/, reports/).
"""

import argparse
import json
import logging
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tradeoff import atomic  # noqa: E402

log = logging.getLogger("real_study")


def foreach_items(spec: dict, params: dict | None = None) -> dict | list:
    """A foreach stage's items: as dvc.yaml writes them, or where it names a params key
    (`foreach: ${arms}`) that key of `params` (default: the repository's params.yaml)."""
    items = spec["foreach"]
    if isinstance(items, str) and items.startswith("${") and items.endswith("}"):
        import yaml

        node = params if params is not None else yaml.safe_load((ROOT / "params.yaml").read_text())
        for part in items[2:-1].split("."):
            node = node[part]
        return node
    return items


def stage_names(dvc: dict, params: dict | None = None) -> list[str]:
    """Every stage of dvc.yaml, a foreach stage once per item (`train@exp1`, one per arm of `params`)."""
    names = []
    for name, spec in dvc["stages"].items():
        names += [f"{name}@{key}" for key in foreach_items(spec, params)] if "foreach" in spec else [name]
    return names


def default_stages(dvc: dict, params: dict) -> list[str]:
    """What a run does unless --stages says otherwise: every stage in dvc.yaml's order but the curves."""
    return [s for s in stage_names(dvc, params) if not s.startswith("curve@")]


def stage_spec(dvc: dict, stage: str, params: dict | None = None) -> tuple[str, list[str]]:
    """A stage's command and deps as dvc.yaml declares them, with DVC's ${key}, ${item} and
    ${item.field} filled in for a foreach item."""
    name, _, key = stage.partition("@")
    spec = dvc["stages"][name]
    if "foreach" not in spec:
        return spec["cmd"], spec["deps"]
    items = foreach_items(spec, params)
    item = items[key] if isinstance(items, dict) else key
    fields = {"${key}": key, **({f"${{item.{f}}}": str(v) for f, v in item.items()} if isinstance(item, dict)
                                else {"${item}": str(item)})}

    def fill(text: str) -> str:
        for var, value in fields.items():
            text = text.replace(var, value)
        return text

    return fill(spec["do"]["cmd"]), [fill(d) for d in spec["do"]["deps"]]


def command(stage: str, params: str, tree: dict | None = None) -> list[str]:
    """The stage's command as dvc.yaml declares it (one place says how each stage runs), with
    this interpreter and --params (`tree`: that file read, for the arms); training without DVCLive
    curves where dvclive is missing."""
    import shlex

    import yaml

    cmd, _ = stage_spec(yaml.safe_load((ROOT / "dvc.yaml").read_text()), stage, tree)
    args = shlex.split(cmd)
    if args[0] == "python":
        args[0] = sys.executable
    if stage.startswith("train@") and not dvclive_installed():
        args.append("--no-curves")
    return [*args, "--params", params]


def dvclive_installed() -> bool:
    """Whether DVCLive can be imported (the repo's own dvclive/ folder of curves is not it)."""
    try:
        from dvclive import Live  # noqa: F401
    except ImportError:
        return False
    return True


def rates(stage: str) -> dict:
    """What the stage's own metrics say about its speed."""
    name, _, model = stage.partition("@")
    metrics = ROOT / "metrics"
    if name == "train":
        speed = json.loads((ROOT / "speed" / f"train_{model}.json").read_text())
        train = json.loads((metrics / f"train_{model}.json").read_text())
        return {"tokens_per_s": speed["tokens_per_s"], "train_s": speed["wall_s"], "tokens": train["tokens_seen"],
                "steps": train["steps"], "peak_memory_mb": speed["peak_memory_mb"]}
    if name in ("eval_sql", "eval_sql_base"):
        m = json.loads((metrics / f"sql_{model or 'base'}.json").read_text())
        return {"questions": m["n_scored"], "ex": m["ex"]}
    if name in ("eval_mmlu", "eval_mmlu_base"):
        m = json.loads((metrics / f"mmlu_{model or 'base'}.json").read_text())
        return {"questions": m["n"], "acc": m["acc"]}
    return {}


def hardware() -> str:
    import os

    import torch

    if torch.cuda.is_available():
        return f"{torch.cuda.device_count()}x {torch.cuda.get_device_name()}"
    return f"CPU, {os.cpu_count()} cores"


def commit() -> str | None:
    try:
        done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    except FileNotFoundError:  # no git on this machine
        return None
    return done.stdout.strip() if done.returncode == 0 else None  # None: a copy of the tree without .git


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--params", required=True, help="the params file for every stage (see tradeoff.profile)")
    p.add_argument("--stages", nargs="+", help="stages to run, in this order (default: every stage of dvc.yaml "
                                              "but the curves, one per arm of the params file)")
    p.add_argument("--timeout", type=float, default=None, help="stop a stage after this many seconds")
    p.add_argument("--budget", type=float, default=None,
                   help="stop the whole run after this many seconds (a rented machine's time left); "
                        "finished stages keep their records")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "real_study_timing.json")
    args = p.parse_args()
    params = str(Path(args.params).resolve())
    import yaml

    dvc = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    try:
        tree = yaml.safe_load(Path(params).read_text())
        known = stage_names(dvc, tree)
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError):
        tree, known = None, None  # a broken params file: check_params (or the stage itself) says what is wrong
    stages = args.stages or (default_stages(dvc, tree) if tree is not None else ["check_params"])
    unknown = [s for s in stages if known is not None and s not in known]
    if unknown:
        p.error(f"no stage {unknown[0]!r} for {args.params}; its stages: {', '.join(known)}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        datefmt="%H:%M:%S")
    run = json.loads(args.out.read_text()) if args.out.is_file() else {"stages": []}
    run.update({"hardware": hardware(), "commit": commit(), "params": params})
    records = run["stages"]
    deadline = None if args.budget is None else time.monotonic() + args.budget
    for stage in stages:
        log.info("%s: %s", stage, " ".join(command(stage, params, tree)[1:]))
        start = time.monotonic()
        timeout = args.timeout
        if deadline is not None:  # the stage gets what is left of the budget, at most --timeout
            timeout = deadline - start if timeout is None else min(timeout, deadline - start)
        try:
            rc = subprocess.run(command(stage, params, tree), cwd=ROOT, timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
        wall = time.monotonic() - start
        record = {"stage": stage, "exit": rc, "wall_s": round(wall, 1)}
        if rc == 0:
            record.update(rates(stage))
            if "questions" in record:
                record["questions_per_s"] = round(record["questions"] / wall, 2)
        records = [r for r in records if r["stage"] != stage] + [record]
        run["stages"] = records
        atomic.write_json(args.out, run)
        log.info("%s", record)
        if rc != 0:
            break
    print(f"\n{run['hardware']}, commit {run['commit']}\n\n| stage | exit | wall s | tokens/s | questions/s |\n"
          "|---|---|---|---|---|")
    for r in records:
        tps = f"{r['tokens_per_s']:,.0f}" if "tokens_per_s" in r else ""
        print(f"| {r['stage']} | {r['exit']} | {r['wall_s']:.1f} | {tps} | {r.get('questions_per_s', '')} |")
    return 0 if all(r["exit"] == 0 for r in records) else 1


if __name__ == "__main__":
    sys.exit(main())
