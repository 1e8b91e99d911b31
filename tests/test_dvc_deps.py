"""dvc.yaml tells DVC the truth: every stage depends on every project file its command runs, so
that a change to any of them reruns the stage (and nothing is left up to date that is not)."""

import ast
import shlex
from pathlib import Path

import yaml


def project_imports(repo: Path, path: Path) -> set[Path]:
    """The project's module files that `path` imports, anywhere in it (lazy imports included)."""
    package = path.parent.relative_to(repo).as_posix().replace("/", ".")
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the file's own package, up level - 1 packages
                parts = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            if name.split(".")[0] != "tradeoff":
                continue
            for candidate in (repo / (name.replace(".", "/") + ".py"), repo / name.replace(".", "/") / "__init__.py"):
                if candidate.is_file():
                    found.add(candidate)
            # importing a.b.c runs a/__init__.py and a/b/__init__.py too
            parts = name.split(".")
            for i in range(1, len(parts)):
                init = repo.joinpath(*parts[:i], "__init__.py")
                if init.is_file():
                    found.add(init)
    return found


def files_run_by(repo: Path, script: Path) -> set[Path]:
    """The script and every project module it imports, transitively."""
    seen, todo = {script}, [script]
    while todo:
        for module in project_imports(repo, todo.pop()):
            if module not in seen:
                seen.add(module)
                todo.append(module)
    return seen


def stage_commands(dvc: dict) -> dict[str, tuple[str, list[str]]]:
    """Stage name -> (its command, its deps), one entry per foreach item, filled in as DVC does
    (bench/real_study.py's reading, the one that runs the stages without DVC)."""
    from real_study import stage_names, stage_spec  # bench/, on the path by conftest

    return {name: stage_spec(dvc, name) for name in stage_names(dvc)}


def uncovered(repo: Path, cmd: str, deps: list[str]) -> list[str]:
    """The files the command runs that no dep (a file, or a folder above it) covers."""
    script = next(repo / a for a in shlex.split(cmd) if a.endswith(".py"))
    covered = [repo / d for d in deps]
    missing = []
    for f in sorted(files_run_by(repo, script)):
        if not any(f == d or d in f.parents for d in covered):
            missing.append(f.relative_to(repo).as_posix())
    return missing


def unused(repo: Path, cmd: str, deps: list[str]) -> list[str]:
    """Code deps (stages/, tradeoff/) that hold no file the command runs: they would rerun the
    stage for changes that cannot affect it."""
    script = next(repo / a for a in shlex.split(cmd) if a.endswith(".py"))
    ran = files_run_by(repo, script)
    return [d for d in deps if d.startswith(("stages/", "tradeoff/"))
            and not any(f == repo / d or repo / d in f.parents for f in ran)]


def test_every_stage_depends_on_every_file_it_runs(repo):
    dvc = yaml.safe_load((repo / "dvc.yaml").read_text())
    problems = {name: m for name, (cmd, deps) in stage_commands(dvc).items() if (m := uncovered(repo, cmd, deps))}
    assert not problems, f"dvc.yaml misses dependencies: {problems}"


def test_no_stage_depends_on_code_it_does_not_run(repo):
    dvc = yaml.safe_load((repo / "dvc.yaml").read_text())
    problems = {name: m for name, (cmd, deps) in stage_commands(dvc).items() if (m := unused(repo, cmd, deps))}
    assert not problems, f"dvc.yaml lists code the stage does not run: {problems}"


def test_the_check_sees_a_missing_module(repo):
    """The check itself: drop one imported module from a stage's deps and it must complain."""
    dvc = yaml.safe_load((repo / "dvc.yaml").read_text())
    cmd, deps = stage_commands(dvc)["report"]
    assert "stages/report.py" in uncovered(repo, cmd, [d for d in deps if d != "stages/report.py"])
    ran = files_run_by(repo, repo / "stages" / "train.py")
    assert repo / "tradeoff" / "__init__.py" in ran
    assert any("training" in p.as_posix() for p in ran)


def stage_outs(dvc: dict) -> dict[str, list[str]]:
    """Each stage's outputs (a foreach stage once per item, its variables filled in; `${arms}`:
    one per arm of params.yaml)."""
    from bench.real_study import foreach_items

    out = {}
    for name, spec in dvc["stages"].items():
        items = foreach_items(spec) if "foreach" in spec else None
        body = spec["do"] if items is not None else spec
        keys = list(items) if items is not None else [None]
        for key in keys:
            paths = []
            for o in body.get("outs", []) + body.get("metrics", []):
                path = next(iter(o)) if isinstance(o, dict) else o
                if key is not None:
                    path = path.replace("${key}", key).replace("${item}", key)
                paths.append(path)
            out[f"{name}@{key}" if key is not None else name] = paths
    return out


def test_every_stage_runs_after_check_params(repo):
    """A bad params file fails in check_params before DVC deletes any other stage's outputs: every
    stage must come after it in DVC's graph."""
    from bench.real_study import stage_spec

    dvc = yaml.safe_load((repo / "dvc.yaml").read_text())
    outs = stage_outs(dvc)

    def producers(dep: str) -> set[str]:
        return {s for s, paths in outs.items() for p in paths
                if dep == p or dep.startswith(p + "/") or p.startswith(dep + "/")}

    for stage in outs:
        if stage == "check_params":
            continue
        seen, todo = set(), [stage]
        while todo:
            s = todo.pop()
            for dep in stage_spec(dvc, s)[1]:
                for up in producers(dep) - seen:
                    seen.add(up)
                    todo.append(up)
        assert "check_params" in seen, f"{stage} can run before check_params"


def test_one_train_eval_and_curve_stage_per_arm(repo):
    """The arms of params.yaml are the foreach items: the shipped two, and a third added as data."""
    from real_study import stage_names, stage_spec

    dvc = yaml.safe_load((repo / "dvc.yaml").read_text())
    params = yaml.safe_load((repo / "params.yaml").read_text())
    per_arm = ["train", "eval_sql", "eval_mmlu", "curve"]
    names = stage_names(dvc, params)
    assert names == ["check_params", "prepare", "train@exp1", "train@exp2", "eval_sql_base", "eval_sql@exp1",
                     "eval_sql@exp2", "eval_mmlu_base", "eval_mmlu@exp1", "eval_mmlu@exp2", "curve@exp1", "curve@exp2",
                     "report"]
    params["arms"]["exp3"] = {"lr": 1e-4, "method": "full"}
    assert [n for n in stage_names(dvc, params) if n.endswith("@exp3")] == [f"{s}@exp3" for s in per_arm]
    cmd, deps = stage_spec(dvc, "train@exp3", params)
    assert "--arm exp3" in cmd and "--adapter adapters/exp3" in cmd and "data/arms/exp3.json" in deps
    cmd, deps = stage_spec(dvc, "eval_mmlu@exp3", params)
    assert "--adapter adapters/exp3" in cmd and "adapters/exp3" in deps
    # training reruns for its arm's resolved settings (check_params writes them), not for every arm's params
    assert dvc["stages"]["train"]["do"]["params"] == ["prompt", "model.dtype", "curve"]
    assert "data/arms" in dvc["stages"]["check_params"]["outs"] and "arms" in dvc["stages"]["check_params"]["params"]
