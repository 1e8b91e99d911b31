"""Params profiles: a named set of overrides of params.yaml (profiles/*.yaml), run as a DVC
experiment, or merged into a params file for the stage scripts.

    python -m tradeoff.profile run profiles/real-study.yaml -n real-study \\
        --set data.spider=/data/spider_data.zip --set data.mmlu=/data/mmlu      # dvc exp run -n real-study -S ...
    python -m tradeoff.profile run profiles/real-study.yaml --set ... --queue   # dvc exp run --queue -S ...
    python -m tradeoff.profile profiles/real-study.yaml profiles/gemma-2b-it.yaml --set ... --write-params real.yaml

Later profiles and --set win over earlier ones. A profile value `REQUIRED` must be given with
--set. Every key must exist in params.yaml and the merged result must pass its checks, so a typo
stops here with one line instead of becoming an experiment that silently ignored it. `run` starts
`dvc exp run` itself only once all of that passed, and exits with DVC's status. (Without `run` the
`-S` arguments are printed; don't put them in `dvc exp run $(...)`: when the profile is refused
that is empty, and DVC runs the defaults.)
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import logging
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

from . import TradeoffError, atomic, cli, read_text
from .config import ArmParams, load_params, parse_params

REQUIRED = "REQUIRED"
ARM_FIELDS = {f.name for f in dataclasses.fields(ArmParams)}


def flatten(tree: dict, prefix: str = "") -> dict[str, object]:
    """{"a": {"b": 1}} -> {"a.b": 1}; lists are values."""
    out = {}
    for key, value in tree.items():
        name = prefix + str(key)
        if isinstance(value, dict):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def read_profile(path: str | Path) -> dict[str, object]:
    path = Path(path)
    if not path.exists():  # a bare name like `real-study`: say what a profile is and where they are
        shipped = ", ".join(sorted(str(f) for f in Path("profiles").glob("*.yaml"))) or "none here"
        raise TradeoffError(f"{path}: file not found; a profile is a YAML file (shipped: {shipped})")
    text = read_text(path)  # a folder or bad bytes: one line naming it
    try:
        tree = yaml.safe_load(text)
    except yaml.YAMLError:
        raise TradeoffError(f"{path}: not valid YAML") from None
    if not isinstance(tree, dict) or not tree:
        raise TradeoffError(f"{path}: a profile is a non-empty mapping of params.yaml keys to values")
    return flatten(tree)


def parse_set(item: str) -> tuple[str, object]:
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise TradeoffError(f"--set {item!r}: expected key=value, e.g. data.mmlu=/data/mmlu")
    try:
        return key, yaml.safe_load(value)
    except yaml.YAMLError:
        raise TradeoffError(f"--set {item!r}: the value is not valid YAML (quote it, or close its brackets)") from None


def merge(base: dict, overrides: dict[str, object], where: dict[str, str]) -> dict:
    """A deep copy of params `base` with the dotted `overrides` applied; `where` names the file
    each override came from, for the error message."""
    params = copy.deepcopy(base)
    for key, value in overrides.items():
        node, parts = params, key.split(".")
        if _is_arm_field(key):  # arms are data: any arm name, any arm field (parse_params checks both)
            params.setdefault("arms", {}).setdefault(parts[1], {})[parts[2]] = value
            continue
        if len(parts) == 3 and parts[0] == "arms":
            raise TradeoffError(f"{where[key]}: {key}: an arm has no field {parts[2]!r}; "
                                f"allowed: {', '.join(sorted(ARM_FIELDS))}")
        for part in parts[:-1]:
            if not isinstance(node.get(part), dict):
                raise TradeoffError(f"{where[key]}: {key} is not a key of params.yaml")
            node = node[part]
        if parts[-1] not in node or isinstance(node[parts[-1]], dict):
            raise TradeoffError(f"{where[key]}: {key} is not a key of params.yaml")
        if value == REQUIRED:
            raise TradeoffError(f"{where[key]}: {key} is {REQUIRED}; give it with --set {key}=...")
        node[parts[-1]] = value
    return params


def _is_arm_field(key: str) -> bool:
    """`arms.<arm>.<field>`: an arm's own setting, which params.yaml may lack (a new arm, or a field
    the arm did not give)."""
    parts = key.split(".")
    return len(parts) == 3 and parts[0] == "arms" and parts[2] in ARM_FIELDS


def _render(value) -> str:
    """A value as `dvc exp run -S` reads it (YAML), in one shell word."""
    if isinstance(value, list):
        text = "[" + ",".join(_render(v) for v in value) + "]"
    elif value is None:
        text = "null"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    else:
        text = str(value)
    return text


def set_arguments(overrides: dict[str, object], where: dict[str, str], shell: bool = True) -> list[str]:
    """The `-S key=value` arguments; for a shell (`shell`) each in one word, without white space."""
    args = []
    for key, value in overrides.items():
        text = _render(value)
        if not text or (shell and any(c.isspace() for c in text)):
            raise TradeoffError(f"{where[key]}: {key} = {value!r} has white space, which the shell would split; "
                                f"give it to dvc yourself as -S '{key}=...'")
        # `++` adds the key or overrides it (DVC's -S is Hydra's grammar): an arm's field may be new
        args += ["-S", f"{'++' if _is_arm_field(key) else ''}{key}={text}"]
    return args


def _profile_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("profiles", nargs="+", help="profile files, applied in order")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="one more override (repeatable), e.g. data.spider=/data/spider_data.zip")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["run"]:
        return run_main(argv[1:])
    p = cli.ArgumentParser(prog="python -m tradeoff.profile", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    _profile_arguments(p)
    p.add_argument("--params", default="params.yaml", help="the params file the profile overrides")
    p.add_argument("--write-params", metavar="FILE",
                   help="write the merged params here (for the stage scripts' --params) instead of printing -S")
    args = p.parse_args(argv)
    cli.setup_logging("%(levelname)s %(name)s: %(message)s")
    return cli.exit_status(lambda: _apply(args))


def run_main(argv: list[str]) -> int:
    """`run`: check the merged profile, then `dvc exp run [-n NAME] [--queue] -S ...`; DVC is not
    started when the profile is refused (status 2, one line naming the file and the problem)."""
    p = cli.ArgumentParser(prog="python -m tradeoff.profile run",
                           description="Run the merged profiles as one DVC experiment: dvc exp run -S ..., "
                                       "started only when every profile and --set passes the checks.")
    _profile_arguments(p)
    p.add_argument("-n", "--name", help="the experiment's name (dvc exp run -n)")
    p.add_argument("--queue", action="store_true", help="queue it (dvc exp run --queue) instead of running it now")
    p.add_argument("--dry-run", action="store_true", help="print the dvc command instead of running it")
    args = p.parse_args(argv)
    cli.setup_logging("%(levelname)s %(name)s: %(message)s")
    return cli.exit_status(lambda: _run(args))


def _merged(args) -> tuple[dict[str, object], dict[str, str], object]:
    """The overrides in order, the file each came from, and the checked merged Params."""
    overrides, where = {}, {}
    for path in args.profiles:
        for key, value in read_profile(path).items():
            overrides.pop(key, None)  # keep the order of the last setting
            overrides[key], where[key] = value, str(path)
    for item in args.set:
        key, value = parse_set(item)
        overrides.pop(key, None)
        overrides[key], where[key] = value, "--set"
    base = getattr(args, "params", "params.yaml")  # `run`: DVC applies -S to params.yaml
    merged = merge(load_params(base).to_dict(), overrides, where)
    # the merged params must pass the same checks as params.yaml itself
    params = parse_params(merged, " + ".join([*args.profiles, *(["--set"] if args.set else [])]))
    return overrides, where, params


def _run(args) -> int:
    overrides, where, _ = _merged(args)
    cmd = ["dvc", "exp", "run", *(["-n", args.name] if args.name else []), *(["--queue"] if args.queue else []),
           *set_arguments(overrides, where, shell=False)]
    if args.dry_run:
        print(shlex.join(cmd))
        return 0
    logging.getLogger(__name__).info("running: %s", shlex.join(cmd))
    try:
        return subprocess.run(cmd).returncode
    except FileNotFoundError:
        raise TradeoffError("dvc: not found on PATH; activate the environment that has DVC") from None


def _apply(args) -> None:
    if args.write_params:
        atomic.check_writable(args.write_params)
    overrides, where, params = _merged(args)
    if args.write_params:
        atomic.write_text(args.write_params, yaml.safe_dump(params.to_dict(), sort_keys=False))
    else:
        print(" ".join(set_arguments(overrides, where)))


if __name__ == "__main__":
    sys.exit(main())
