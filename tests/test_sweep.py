"""`python -m tradeoff.sweep` tells the truth about the experiments (issue 34): arms grouped by the
full setting (every param but train.seed), queued, running and failed experiments and a stale
workspace left out and named, a failed experiment's row empty, a difference called only when the
seed ranges separate and the paired intervals do not overlap. The recorded `dvc exp show --json`
(tests/exp_show_dvc3.json) is DVC 3.67.1's own output from a throwaway repository."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tradeoff.report import sweep

from test_hardening import one_line_refusal

RECORDED = json.loads((Path(__file__).parent / "exp_show_dvc3.json").read_text())
PARAMS = {"lr": 2e-4, "exp2": {"lr": 5e-5}, "model": {"name": "bundled"}, "data": {"spider": "sample", "seed": 0},
          "prompt": {"sample_rows": 0}, "lora": {"r": 16, "alpha": 32}, "train": {"seed": 0, "max_steps": 40}}


def _arm(d_ex, d_mmlu, lr, half=5.0):
    return {"ex": 10 + d_ex, "mmlu": 30 + d_mmlu, "lr": lr, "d_ex": d_ex, "d_ex_lo": d_ex - half,
            "d_ex_hi": d_ex + half,
            "p_ex": 0.01, "d_mmlu": d_mmlu, "d_mmlu_lo": d_mmlu - half, "d_mmlu_hi": d_mmlu + half, "p_mmlu": 0.5}


def _report(params, d_ex=20.0, d_mmlu=-2.0):
    return {"base": {"ex": 10.0, "mmlu": 30.0}, "exp1": _arm(d_ex, d_mmlu, params["lr"]),
            "exp2": _arm(d_ex / 2, d_mmlu / 2, params["exp2"]["lr"])}


def _with(**changes):
    """PARAMS with dotted keys changed: _with(**{"model.name": "x"})."""
    params = json.loads(json.dumps(PARAMS))
    for key, value in changes.items():
        node, *path = key.split(".")
        target = params
        for part in [node, *path][:-1]:
            target = target[part]
        target[([node, *path])[-1]] = value
    return params


def _rev(name, params, error=None):
    return {"rev": name.ljust(40, "0"), "name": name, "error": error,
            "data": {"params": {"params.yaml": {"data": params}}, "metrics": {}}}


def _show(*exps, base=PARAMS):
    """A `dvc exp show --json` of one baseline `main` and `exps`: (name, params[, state[, error]])."""
    experiments = []
    for name, params, *rest in exps:
        state = rest[0] if rest else None
        executor = None if state is None else {"state": state, "name": None, "local": {"log": f"/tmp/{name}.out"}}
        experiments.append({"revs": [_rev(name, params, rest[1] if len(rest) > 1 else None)], "executor": executor,
                            "name": name})
    return [{**_rev("main", base), "experiments": experiments}]


def _collect(show, reports):
    exps = sweep.experiments(show)
    return sweep.collect(exps, {x["rev"]: reports.get(x["experiment"]) for x in exps})


def _settings(result):
    return {s["label"]: s for s in result["settings"]}


def test_arms_are_grouped_by_the_full_setting_and_seeds_merge():
    exps = [("seed1", _with(**{"train.seed": 1})), ("seed2", _with(**{"train.seed": 2})),
            ("qwen", _with(**{"model.name": "bundled-qwen"})), ("real", _with(**{"data.spider": "spider.zip"})),
            ("rows", _with(**{"prompt.sample_rows": 3})), ("r64", _with(**{"lora.r": 64})),
            ("lr1e-4", _with(lr=1e-4)), ("as-exp2", _with(lr=5e-5, **{"train.seed": 7}))]
    reports = {"main": _report(PARAMS, 20.0), "seed1": _report(PARAMS, 22.0), "seed2": _report(PARAMS, 24.0),
               **{name: _report(p, 30.0) for name, p in exps[2:]}}
    result = _collect(_show(*exps), reports)
    by_label = _settings(result)
    # exp1 at 2e-4 over three seeds is one setting; another model, data, prompt or rank is another
    s = next(s for s in result["settings"] if s["params"] == sweep.arm_setting(sweep.flatten(PARAMS), "exp1"))
    assert s["n"] == 3 and s["seeds"] == [0, 1, 2]
    assert s["d_ex"] == {"mean": 22.0, "sd": 2.0, "min": 20.0, "max": 24.0, "ci_lo": 15.0, "ci_hi": 29.0}
    distinct = {json.dumps(x["params"], sort_keys=True) for x in result["settings"]}
    # exp1: 2e-4, qwen, real, rows, r64, 1e-4; exp2 (5e-5): the default, qwen, real, rows, r64
    assert len(distinct) == len(result["settings"]) == 11
    assert any("model.name=bundled-qwen" in label for label in by_label)
    assert any("data.spider=spider.zip" in label for label in by_label)
    # experiment 1 at exp2's rate is exp2's setting: it adds seed 7 to it
    exp2 = next(s for s in result["settings"] if s["params"] == sweep.arm_setting(sweep.flatten(PARAMS), "exp2"))
    assert exp2["seeds"] == [0, 1, 2, 7] and "as-exp2:exp1" in exp2["runs"]
    # the exp2 arm of seed-0 experiments that only moved another knob of exp1: counted once, said so
    twin = next(r for r in result["runs"] if r["experiment"] == "lr1e-4" and r["arm"] == "exp2")
    assert not twin["counted"] and "same setting and seed as main exp2" in twin["why"]
    assert not result["left_out"]


def test_all_commits_lists_a_commits_own_run_only_at_head_or_beside_its_experiments():
    # `dvc exp show --all-commits` lists every commit of the history; a study spread over sessions has
    # experiments on a few of them, and the old commits' committed default runs must not fill its tables
    head, old_study, old_plain = (_show(("q-s0", _with(lr=1e-3)))[0] for _ in range(3))
    head = {**head, "rev": "a" * 40, "name": "main", "experiments": []}
    old_study = {**old_study, "rev": "b" * 40, "name": None}
    old_plain = {**old_plain, "rev": "c" * 40, "name": None, "experiments": []}
    show = [{**_rev("workspace", PARAMS), "rev": "workspace"}, head, old_study, old_plain]
    listed = [x["experiment"] for x in sweep.experiments(show, head="a" * 40)]
    assert listed == ["main", "bbbbbbb", "q-s0", "workspace"]
    # without --all-commits every baseline DVC prints is listed, as before
    assert "ccccccc" in [x["experiment"] for x in sweep.experiments(show)]


def test_queued_running_and_failed_are_left_out_named_and_empty_from_dvc_3_output():
    final, running = RECORDED["final"], RECORDED["running"]
    exps = sweep.experiments(final)
    # every revision gets a report, the failed ones not theirs (as `git show REV:` gives one)
    reports = {x["rev"]: _report({"lr": x["params"]["lr"], "exp2": {"lr": 5e-5}}) for x in exps}
    result = sweep.collect(exps, reports)
    left = {x["experiment"]: x for x in result["left_out"]}
    assert set(left) == {"waiting", "qbad", "queued"}
    assert left["waiting"]["why"].startswith("queued")
    assert left["qbad"]["why"].startswith("failed (Experiment run failed")
    assert ".out" in left["qbad"]["why"]  # DVC's log of the run
    # the failed rows carry no number at all
    for row in (r for r in result["runs"] if r["experiment"] in left):
        assert row["arm"] is None and row["d_ex"] is None and row["d_mmlu_hi"] is None and not row["counted"]
    md = sweep.markdown(result)
    assert "| qbad | failed | — | — | — | — | — | — | — | left out |" in md
    assert "- qbad (c88b606, failed): failed" in md and "- waiting (9ea1da0, queued): queued: not run yet" in md
    assert {r["experiment"] for r in result["runs"] if r["counted"]} == {"master", "slow", "good"}
    # while `slow` ran: DVC says running, and it is left out as such
    exps = sweep.experiments(running)
    result = sweep.collect(exps, {x["rev"]: _report({"lr": 1e-4, "exp2": {"lr": 5e-5}}) for x in exps})
    left = {x["experiment"]: x["why"] for x in result["left_out"]}
    assert left["slow"] == "running: not finished" and left["waiting"] == "queued: not run yet"


def test_a_failed_experiment_from_a_recorded_shape_shows_no_numbers_even_with_the_baselines_report():
    show = _show(("bad", _with(lr=2.0), "failed", {"msg": "Experiment run failed", "type": ""}), ("ok", _with(lr=1e-4)),
                 ("later", _with(lr=3e-4), "queued"), ("now", _with(lr=4e-4), "running"))
    result = _collect(show, {"main": _report(PARAMS), "bad": _report(PARAMS), "ok": _report(_with(lr=1e-4)),
                             "later": _report(PARAMS), "now": _report(PARAMS)})
    assert [x["experiment"] for x in result["left_out"]] == ["bad", "later", "now"]
    assert {r["experiment"] for r in result["runs"] if r["counted"]} == {"main", "ok"}
    assert all(r["arm"] is None for r in result["runs"] if r["experiment"] == "bad")
    assert "+20.0" not in next(line for line in sweep.markdown(result).splitlines() if line.startswith("| bad |"))


def test_a_workspace_whose_params_differ_from_its_dvc_lock_is_left_out():
    lock = {"stages": {"train_exp1": {"params": {"params.yaml": {"lr": 2e-4, "train": {"seed": 0}}}},
                       "prepare": {"params": {"params.yaml": {"model.name": "bundled"}}}}}
    params = sweep.flatten(_with(lr=3e-4))
    assert sweep.stale_params(params, lock) == ["lr: 0.0003 vs 0.0002"]
    assert sweep.stale_params(sweep.flatten(PARAMS), lock) == [] and sweep.stale_params(params, None) == []
    assert sweep.stale_params(sweep.flatten(_with(**{"model.name": "x"})), lock) == ["model.name: x vs bundled"]
    show = [{**_rev("main", PARAMS), "experiments": None}, {**_rev("workspace", _with(lr=3e-4)), "rev": "workspace"}]
    exps = sweep.experiments(show)
    stale = {"workspace": sweep.stale_params(exps[-1]["params"], lock)}
    result = sweep.collect(exps, {"main".ljust(40, "0"): _report(PARAMS), "workspace": _report(PARAMS)}, stale)
    assert [(x["experiment"], x["state"]) for x in result["left_out"]] == [("workspace", "workspace")]
    assert "params.yaml differs from dvc.lock in the workspace (lr: 0.0003 vs 0.0002)" in result["left_out"][0]["why"]


def _setting(name, values, half=5.0):
    return {"setting": name, "n": len(values), "d_ex": sweep.spread(values, [v - half for v in values],
                                                                     [v + half for v in values])}


@pytest.mark.parametrize("a,b,called,why", [
    ([10.0], [30.0, 31.0], False, "S1 has fewer than 2 seeds"),
    ([10.0, 20.0], [15.0, 30.0], False, "the seed ranges overlap"),
    ([10.0, 12.0], [14.0, 16.0], False, "the seed ranges separate (seeds [+10.0, +12.0] vs [+14.0, +16.0]) but"),
    ([10.0, 12.0], [30.0, 31.0, 33.0], True, "separate and the 95% intervals [+5.0, +17.0] vs [+25.0, +38.0] do not"),
])
def test_a_difference_is_called_only_when_seed_ranges_separate_and_intervals_do_not_overlap(a, b, called, why):
    result = sweep.separation(_setting("S1", a), _setting("S2", b), "d_ex")
    assert result["called"] is called and why in result["why"]
    assert result["higher"] == ("S2" if called else None)
    assert sweep.separation(_setting("S2", b), _setting("S1", a), "d_ex")["called"] is called


def test_only_settings_that_differ_in_one_param_are_compared():
    show = _show(*[(f"{lr}-{seed}", _with(lr=lr, **{"train.seed": seed})) for lr in (1e-4, 1e-3) for seed in (1, 2)],
                 ("qwen", _with(lr=1e-3, **{"model.name": "qwen"})))
    d_ex = {"main": 20.0, "0.0001-1": 5.0, "0.0001-2": 6.0, "0.001-1": 40.0, "0.001-2": 41.0, "qwen": 50.0}
    reports = {}
    for baseline in show:
        for rev in [baseline] + [e["revs"][0] for e in baseline["experiments"]]:
            reports[rev["name"]] = _report(rev["data"]["params"]["params.yaml"]["data"], d_ex[rev["name"]], -1.0)
    result = _collect(show, reports)
    names = {s["label"]: s["setting"] for s in result["settings"]}
    lo, hi = names["lr=0.0001, model.name=bundled"], names["lr=0.001, model.name=bundled"]
    call = next(c for c in result["comparisons"] if {c["a"], c["b"]} == {lo, hi} and c["metric"] == "d_ex")
    assert call["called"] and call["higher"] == hi and call["param"] == "lr"
    mmlu = next(c for c in result["comparisons"] if {c["a"], c["b"]} == {lo, hi} and c["metric"] == "d_mmlu")
    assert not mmlu["called"] and "overlap" in mmlu["why"]
    assert f"- {lo} vs {hi} (lr 0.0001 vs 0.001), ΔEX: {hi} higher" in sweep.markdown(result)
    qwen, exp2 = names["lr=0.001, model.name=qwen"], names["lr=5e-05, model.name=bundled"]
    assert any({c["a"], c["b"]} == {qwen, hi} and c["param"] == "model.name" and "fewer than 2 seeds" in c["why"]
               for c in result["comparisons"])
    off = next(c for c in result["not_compared"] if {c["a"], c["b"]} == {qwen, exp2})
    assert off["differs"] == ["lr", "model.name"] and "differ in 2 params" in off["why"]


def test_bad_exp_show_output_is_a_shape_error():
    for bad in ({"rev": "workspace"}, [{"name": "x"}], ["x"]):
        with pytest.raises(sweep.ShowError):
            sweep.experiments(bad)


# the command, in a throwaway DVC repository (a fake stage of seconds) and with a fake `dvc`

STAGE = """\
import json, sys, yaml
p = yaml.safe_load(open("params.yaml"))
if p["lr"] >= 1:
    sys.exit("lr too big")
def arm(lr, d):
    return {"ex": 10 + d, "mmlu": 29.0, "lr": lr, "d_ex": d, "d_ex_lo": d - 5, "d_ex_hi": d + 5, "p_ex": 0.01,
            "d_mmlu": -1.0, "d_mmlu_lo": -4.0, "d_mmlu_hi": 2.0, "p_mmlu": 0.5}
r = {"base": {"ex": 10, "mmlu": 30}, "exp1": arm(p["lr"], 1e4 * p["lr"] + p["train"]["seed"]),
     "exp2": arm(p["exp2"]["lr"], 1e4 * p["exp2"]["lr"] + p["train"]["seed"])}
json.dump(r, open("metrics/report.json", "w"))
json.dump({a: {k: r[a][k] for k in ("ex", "mmlu", "d_ex", "d_mmlu")} for a in ("exp1", "exp2")},
          open("metrics/arms.json", "w"))
"""
DVC_YAML = """\
stages:
  report:
    cmd: python stage.py
    deps: [stage.py]
    params: [lr, exp2, model, data, train]
    outs:
      - metrics/report.json:
          cache: false
    metrics:
      - metrics/arms.json:
          cache: false
"""


def _env(repo, path=None):
    return {**os.environ, "PYTHONPATH": str(repo),
            "PATH": path or f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}",
            "DVC_NO_ANALYTICS": "1", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@t"}


def _sweep(repo, cwd, *args, path=None):
    return subprocess.run([sys.executable, "-m", "tradeoff.sweep", *args], cwd=cwd, env=_env(repo, path),
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def dvc_repo(repo, tmp_path_factory):
    """A throwaway DVC repository: the baseline, `seed1` run in the workspace, `bad` queued and
    failed (lr 2), `later` queued and never started."""
    d = tmp_path_factory.mktemp("dvc_sweep")
    env = _env(repo)

    def sh(*cmd):
        proc = subprocess.run(cmd, cwd=d, env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"{cmd}: {proc.stdout[-2000:]}{proc.stderr[-2000:]}"
        return proc.stdout

    (d / "metrics").mkdir()
    (d / "stage.py").write_text(STAGE)
    (d / "dvc.yaml").write_text(DVC_YAML)
    (d / "params.yaml").write_text("lr: 2.0e-4\nexp2:\n  lr: 5.0e-5\nmodel:\n  name: bundled\ndata:\n  spider: sample\n"
                                   "train:\n  seed: 0\n")
    sh("git", "init", "-q")
    sh("dvc", "init", "-q")
    (d / ".dvc" / "plots").mkdir(exist_ok=True)
    for f in [*(repo / ".dvc" / "plots").glob("*.html"), *(repo / ".dvc" / "plots").glob("tradeoff_*.json")]:
        (d / ".dvc" / "plots" / f.name).write_text(f.read_text())  # the chart's template
    sh("dvc", "repro", "-q")
    sh("git", "add", "-A")
    sh("git", "commit", "-qm", "baseline")
    sh("dvc", "exp", "run", "-q", "-n", "seed1", "-S", "train.seed=1")
    sh("dvc", "exp", "run", "--queue", "-n", "bad", "-S", "lr=2")
    sh("dvc", "queue", "start", "-j", "1")
    deadline = time.time() + 240
    while "Failed" not in sh("dvc", "queue", "status") and time.time() < deadline:
        time.sleep(2)
    sh("dvc", "queue", "stop")  # else the worker, still up, runs `later` too
    sh("dvc", "exp", "run", "--queue", "-n", "later", "-S", "lr=3e-4")
    return d


def test_the_command_in_a_real_dvc_repo_leaves_out_the_failed_and_the_queued(repo, dvc_repo):
    proc = _sweep(repo, dvc_repo)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads((dvc_repo / "reports" / "sweep.json").read_text())
    assert set(out) == {"runs", "settings", "comparisons", "left_out", "not_compared"}
    left = {x["experiment"]: x for x in out["left_out"]}
    assert set(left) == {"bad", "later"}, out["left_out"]
    assert left["bad"]["state"] == "failed" and left["bad"]["why"].startswith("failed (Experiment run failed")
    assert left["later"]["state"] == "queued"
    assert "| bad | failed | — | — | — | — | — | — | — | left out |" in proc.stdout
    bad = next(r for r in out["runs"] if r["experiment"] == "bad")  # DVC shows numbers not its own for it
    assert bad["arm"] is None and bad["d_ex"] is None and bad["d_mmlu"] is None
    counted = sorted((r["experiment"], r["arm"], r["seed"]) for r in out["runs"] if r["counted"])
    assert counted == [("master", "exp1", 0), ("master", "exp2", 0), ("seed1", "exp1", 1), ("seed1", "exp2", 1)]
    assert sorted((s["label"], s["n"]) for s in out["settings"]) == [("lr=0.0002", 2), ("lr=5e-05", 2)]
    assert (dvc_repo / "reports" / "sweep.html").is_file()
    # the workspace with an lr that was never reproduced: left out, named
    params = dvc_repo / "params.yaml"
    before = params.read_text()
    params.write_text(before.replace("lr: 2.0e-4", "lr: 7.0e-4"))
    try:
        proc = _sweep(repo, dvc_repo)
    finally:
        params.write_text(before)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "- workspace (workspace): params.yaml differs from dvc.lock in the workspace (lr: 0.0007 vs 0.0002)" \
        in proc.stdout


def test_sweep_mistakes_are_one_line(repo, tmp_path):
    one_line_refusal(_sweep(repo, tmp_path, path="/usr/bin:/bin"), "dvc: not found on PATH",
                     "source .venv/bin/activate")
    fake = tmp_path / "bin"  # a `dvc` whose `exp show --json` prints what show.json holds

    def dvc_prints(text):
        (tmp_path / "show.json").write_text(text)
        return f"{fake}:/usr/bin:/bin"

    fake.mkdir()
    (fake / "dvc").write_text(f"#!/bin/sh\ncat '{tmp_path / 'show.json'}'\n")
    (fake / "dvc").chmod(0o755)
    workspace = json.dumps([_rev("workspace", PARAMS) | {"rev": "workspace"}])
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics" / "report.json").write_text('{"exp1": {"d_ex": ')
    one_line_refusal(_sweep(repo, tmp_path, path=dvc_prints(workspace)), "metrics/report.json: not valid JSON")
    (tmp_path / "metrics" / "report.json").write_text("[1, 2]")
    one_line_refusal(_sweep(repo, tmp_path, path=dvc_prints(workspace)), "metrics/report.json: not a JSON object")
    report = _report(PARAMS)
    del report["exp2"]["d_mmlu_lo"]
    (tmp_path / "metrics" / "report.json").write_text(json.dumps(report))
    one_line_refusal(_sweep(repo, tmp_path, path=dvc_prints(workspace)),
                     "metrics/report.json: exp2.d_mmlu_lo is null, not a number")
    (tmp_path / "metrics" / "report.json").write_text(json.dumps(_report(PARAMS)))
    one_line_refusal(_sweep(repo, tmp_path, path=dvc_prints('{"rev": 1}')), "dvc exp show --json`: not the shape")
    one_line_refusal(_sweep(repo, tmp_path, path=dvc_prints("[{")), "dvc exp show --json`: not valid JSON")
    (tmp_path / "dvc.lock").write_text("stages: [1\n")
    one_line_refusal(_sweep(repo, tmp_path, path=dvc_prints(workspace)), "dvc.lock: not valid YAML")
    (tmp_path / "dvc.lock").write_text("- 1\n")
    one_line_refusal(_sweep(repo, tmp_path, path=dvc_prints(workspace)), "dvc.lock: not a DVC lock file")
    (tmp_path / "dvc.lock").unlink()
    queued = json.dumps(_show(("q", PARAMS, "queued"), base={}))
    one_line_refusal(_sweep(repo, tmp_path, path=dvc_prints(queued)), "no finished experiment",
                     "q: queued: not run yet")
    (tmp_path / "reports").write_text("a file")
    one_line_refusal(_sweep(repo, tmp_path, path=dvc_prints(workspace)),
                     "reports: is a file; reports/")
    assert (tmp_path / "reports").read_text() == "a file"


ARMS = {**{k: v for k, v in PARAMS.items() if k != "exp2"},
        "arms": {"exp1": {}, "exp2": {"lr": 5e-5}}}


def test_arms_as_data_group_by_their_resolved_setting_and_read_as_before():
    """params.yaml's `arms` (issue 34): any number of arms, each its own fields over the shared ones.
    The shipped two arms are the settings a commit from before (top-level lr and exp2.lr) had."""
    flat = sweep.flatten(ARMS)
    assert sweep.arms_of(flat) == {"exp1": {}, "exp2": {"lr": 5e-5}} == sweep.arms_of(sweep.flatten(PARAMS))
    for arm in ("exp1", "exp2"):
        assert sweep.arm_setting(flat, arm) == sweep.arm_setting(sweep.flatten(PARAMS), arm)
    three = json.loads(json.dumps(ARMS))
    three["arms"]["full"] = {"method": "full", "seed": 3}
    three["arms"]["r4"] = {"lora_r": 4}
    flat3 = sweep.flatten(three)
    assert sweep.arm_seed(flat3, "full") == 3 and sweep.arm_seed(flat3, "r4") == 0
    assert sweep.arm_setting(flat3, "full")["method"] == "full" and sweep.arm_setting(flat3, "r4")["lora.r"] == 4
    assert sweep.arm_setting(flat3, "r4") == {**sweep.arm_setting(flat, "exp1"), "lora.r": 4}
    # an arm added as data is counted with the others; exp1 and exp2 of the new shape join the old baseline's
    report = {**_report(PARAMS), "full": _arm(5.0, -10.0, 2e-4), "r4": _arm(15.0, -1.0, 2e-4)}
    result = _collect(_show(("three", three)), {"main": _report(PARAMS), "three": report})
    counted = [(r["experiment"], r["arm"], r["seed"]) for r in result["runs"] if r["counted"]]
    assert counted == [("main", "exp1", 0), ("main", "exp2", 0), ("three", "full", 3), ("three", "r4", 0)]
    labels = sorted(s["label"] for s in result["settings"])
    assert labels == ["lora.r=16, lr=0.0002, method=full", "lora.r=16, lr=0.0002, method=lora",
                      "lora.r=16, lr=5e-05, method=lora", "lora.r=4, lr=0.0002, method=lora"]
    # an experiment whose report lacks one of its arms is left out, named
    result = _collect(_show(("three", three)), {"main": _report(PARAMS), "three": _report(PARAMS)})
    assert result["left_out"][0]["why"].startswith("no metrics/report.json with every arm's deltas")
