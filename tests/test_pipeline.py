"""The real pipeline end to end (dvc repro, a second repro, dvc exp run), with a tiny params override."""

import json
import os
import shlex
import shutil
import subprocess
import sys

import pytest
import yaml

TINY = {
    ("lr",): 2e-4,  # the shipped value, whatever the workspace holds
    ("data", "sample_dev_per_db"): 3,
    ("train", "max_steps"): 2,
    ("train", "batch_size"): 2,
    ("train", "save_steps"): 1,
    ("train", "logging_steps"): 1,
    ("eval_sql", "limit"): 6,
    ("eval_sql", "max_new_tokens"): 24,
    ("eval_mmlu", "limit_per_subject"): 2,
}


# README, "Varying and comparing": `dvc exp show` of a sweep over lr in 120 columns
EXP_SHOW_RECIPE = ["--only-changed", "--drop", "Created|adapters/|^predictions|curves/|data/", "--keep", r"^exp1\."]


def make_show_args(repo) -> list[str]:
    """The arguments of `dvc exp show` in the Makefile's `show` target, as make passes them."""
    recipe = (repo / "Makefile").read_text().split("\nshow: setup\n", 1)[1].split("\n\n", 1)[0]
    args = shlex.split(recipe.replace("\\\n", " ").replace("$$", "$"))
    return args[args.index("show") + 1:]


def sh(cmd, cwd, env):
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def project(repo, bundled, tmp_path_factory):
    """A copy of the repository's tracked files, as a fresh git repo, with the tiny params."""
    dest = tmp_path_factory.mktemp("project")
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=repo, capture_output=True,
                           text=True, check=True).stdout.split()
    for f in files:
        if f.startswith(("metrics/", "dvclive/", "reports/")) or f == "dvc.lock" or not (repo / f).exists():
            continue
        (dest / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(repo / f, dest / f)
    params = yaml.safe_load((dest / "params.yaml").read_text())
    for path, value in TINY.items():
        node = params
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = {**os.environ, "PATH": f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}",
           "PYTHONPATH": str(dest), "TRADEOFF_MODELS_DIR": str(repo / "models"), "DVC_NO_ANALYTICS": "1",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    sh(["git", "init", "-q"], dest, env)
    sh(["git", "add", "-A"], dest, env)
    sh(["git", "commit", "-qm", "init"], dest, env)
    return dest, env


def test_repro_then_nothing_then_an_experiment(project):
    dest, env = project
    out = sh(["dvc", "repro"], dest, env)
    for stage in ("check_params", "prepare", "train@exp1", "train@exp2", "eval_sql_base", "eval_mmlu@exp2", "report"):
        assert f"Running stage '{stage}'" in out
    assert "results (also in reports/results.md)" in out
    for m in ("base", "exp1", "exp2"):
        sql = json.loads((dest / f"metrics/sql_{m}.json").read_text())
        assert sql["n_total"] == 6 and sql["n_scored"] == 6
        mm = json.loads((dest / f"metrics/mmlu_{m}.json").read_text())
        assert set(mm["categories"]) == {"STEM", "humanities", "social sciences"} and mm["n"] == 18
    for arm in ("exp1", "exp2"):
        assert (dest / f"adapters/{arm}/adapter_config.json").is_file()
        assert not list((dest / f"adapters/{arm}").glob("model*.safetensors"))  # adapter only, never merged
        train = json.loads((dest / f"metrics/train_{arm}.json").read_text())
        assert train["steps"] == 2 and train["trainable_params"] > 0
        assert (dest / f"dvclive/{arm}/plots/metrics/loss.tsv").is_file()
    report = json.loads((dest / "metrics/report.json").read_text())
    assert set(report) == {"base", "exp1", "exp2"} and report["exp1"]["lr"] == 2e-4
    assert {"d_ex", "d_ex_lo", "d_ex_hi", "p_ex", "d_mmlu", "d_mmlu_lo", "d_mmlu_hi", "p_mmlu"} <= set(report["exp2"])
    for chart in ("ex_by_hardness", "mmlu_by_category", "tradeoff"):
        assert json.loads((dest / f"reports/plots/{chart}.json").read_text())
    assert json.loads((dest / "reports/plots/curve_exp1.json").read_text()) == []  # curve.checkpoints: 0
    assert "| exp1 |" in (dest / "reports/results.md").read_text()
    # the declared metrics are each arm's EX, MMLU and deltas: one screen, not thousands of columns
    shown = sh(["dvc", "metrics", "show"], dest, env)
    assert "metrics/arms.json" in shown and "exp1.d_mmlu" in shown and "exp2.ex" in shown
    assert "metrics/sql_exp1.json" not in shown and max(map(len, shown.splitlines())) <= 120

    again = sh(["dvc", "repro"], dest, env)
    assert "Running stage" not in again

    sh(["git", "add", "-A"], dest, env)
    sh(["git", "commit", "-qm", "baseline"], dest, env)
    exp = sh(["dvc", "exp", "run", "-S", "lr=5e-5"], dest, env)  # written as 5e-05, a string to PyYAML
    ran = {line.split("'")[1] for line in exp.splitlines() if line.startswith("Running stage")}
    # check_params reruns for any params change, but writes the same params.ok (prepare does not rerun) and
    # the same data/arms/exp2.json: exp2 has its own rate, so only experiment 1 retrains
    assert ran == {"check_params", "train@exp1", "eval_sql@exp1", "eval_mmlu@exp1", "report"}  # curve off
    table = sh(["dvc", "exp", "show", "--no-pager", "--csv"], dest, env)
    assert "5e-05" in table

    # a bad value fails in check_params, before DVC deletes any stage's outputs
    kept = ["adapters/exp1/adapter_model.safetensors", "metrics/train_exp1.json", "metrics/sql_exp1.json",
            "metrics/report.json", "predictions/sql_exp1.jsonl"]
    before = {f: (dest / f).read_bytes() for f in kept}
    params_text = (dest / "params.yaml").read_text()
    bad = subprocess.run(["dvc", "exp", "run", "-S", "lr=abc"], cwd=dest, env=env, capture_output=True, text=True)
    assert bad.returncode != 0
    assert "Running stage 'check_params'" in bad.stdout and "Running stage 'train@exp1'" not in bad.stdout
    assert "error: " in bad.stdout + bad.stderr and "lr = 'abc'" in bad.stdout + bad.stderr
    assert {f: (dest / f).read_bytes() for f in kept} == before
    (dest / "params.yaml").write_text(params_text)  # DVC leaves the bad value in the workspace

    # `dvc exp run --temp` (what each `dvc queue` worker does) runs in a temporary copy of the repo
    # holding only what git and DVC track: the converted base model must be found from there too
    assert "path" not in json.loads((dest / "data/prepared/model.json").read_text())  # not a path in dest
    adapter_config = json.loads((dest / "adapters/exp1/adapter_config.json").read_text())
    assert adapter_config["base_model_name_or_path"].startswith("smollm2-135m-instruct-")  # nor in the adapter
    assert adapter_config["target_modules"] == sorted(adapter_config["target_modules"])  # same bytes every run
    assert env["TRADEOFF_MODELS_DIR"] not in (dest / "adapters/exp1/README.md").read_text()
    temp = sh(["dvc", "exp", "run", "--temp", "-n", "in-temp", "-S", "lr=1e-4"], dest, env)
    assert "Running stage 'train@exp1'" in temp and "Running stage 'report'" in temp
    assert "0.0001" in sh(["dvc", "exp", "show", "--no-pager", "--csv"], dest, env)
    # the README's recipe for a 120-column terminal: each experiment's arms, nothing cut to `…`
    table = sh(["dvc", "exp", "show", "--no-pager", *EXP_SHOW_RECIPE], dest, {**env, "COLUMNS": "120"})
    assert "exp1.d_mmlu" in table and "in-temp" in table and "…" not in table, table
    assert max(map(len, table.splitlines())) <= 120, table
    # `make show`: every arm's deltas, lr and the seed, and no file hash (DVC matches --drop from a column's start)
    table = sh(["dvc", "exp", "show", "--no-pager", *make_show_args(dest)], dest, {**env, "COLUMNS": "120"})
    header = table.splitlines()[1]
    assert all(c in header for c in ("exp1.d_ex", "exp2.d_mmlu", "lr", "train.seed")), table
    assert "/" not in header and "predictions" not in header and "exp1.ex" not in header and "…" not in table, table


def test_an_arm_added_as_data(project):
    """`dvc exp run -S '+arms.exp3...'` adds an arm (DVC's `+`: a key params.yaml lacks): its stages
    run, no other arm's, and the report takes it; method full trains and scores the whole model."""
    dest, env = project
    sh(["dvc", "repro"], dest, env)
    before = (dest / "params.yaml").read_text()
    out = sh(["dvc", "exp", "run", "-S", "+arms.exp3.method=full", "-S", "+arms.exp3.lr=1e-5"], dest, env)
    ran = {line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage")}
    assert ran == {"check_params", "train@exp3", "eval_sql@exp3", "eval_mmlu@exp3", "curve@exp3", "report"}
    assert (dest / "adapters/exp3/model.safetensors").is_file()
    assert not (dest / "adapters/exp3/adapter_config.json").exists()
    assert json.loads((dest / "metrics/train_exp3.json").read_text())["lr"] == 1e-5
    assert set(json.loads((dest / "metrics/arms.json").read_text())) == {"exp1", "exp2", "exp3"}
    assert "| exp3 |" in (dest / "reports/results.md").read_text()
    (dest / "params.yaml").write_text(before)  # the shipped two arms again: no arm retrains, the report reruns
    again = sh(["dvc", "repro"], dest, env)  # (check_params comes back from DVC's run cache)
    ran = {line.split("'")[1] for line in again.splitlines() if line.startswith("Running stage")}
    assert "report" in ran and ran <= {"check_params", "report"}


def test_a_queued_experiment_reuses_the_base_scores(project):
    """Each `dvc queue` worker runs its experiment in a fresh copy of the repo (what `--temp` does), where
    only DVC's run cache can skip a stage: the base model's scores, the same for every arm and seed at
    the same settings, come back from it instead of being computed again (their outputs are all cached)."""
    dest, env = project
    sh(["dvc", "repro"], dest, env)
    first = sh(["dvc", "exp", "run", "--temp", "-S", "eval_sql.max_new_tokens=20"], dest, env)
    assert "Running stage 'eval_sql_base'" in first
    second = sh(["dvc", "exp", "run", "--temp", "-S", "eval_sql.max_new_tokens=20", "-S", "lr=1e-4"], dest, env)
    assert "Running stage 'train@exp1'" in second  # a new experiment...
    assert "Stage 'eval_sql_base' is cached - skipping run" in second  # ...whose base scores were not recomputed
    assert "Running stage 'eval_sql_base'" not in second


def test_learning_forgetting_curve_switch(project):
    dest, env = project
    sh(["dvc", "repro"], dest, env)
    out = sh(["dvc", "exp", "run", "-S", "curve.checkpoints=2"], dest, env)
    assert "Running stage 'curve@exp2'" in out
    for arm in ("exp1", "exp2"):
        points = json.loads((dest / f"reports/plots/curve_{arm}.json").read_text())
        assert [p["step"] for p in points] == [0, 1, 2]  # the base model, then 2 evenly spaced of 2 steps
        assert points[0]["d_ex"] == 0 and all(p["d_ex_lo"] <= p["d_ex"] <= p["d_ex_hi"] for p in points)
        # the last checkpoint is the final adapter: its point is the report's point for the arm
        final = {p["arm"]: p for p in json.loads((dest / "reports/plots/tradeoff.json").read_text())}[arm]
        assert (points[-1]["d_ex"], points[-1]["d_mmlu"]) == (final["d_ex"], final["d_mmlu"])


def test_stages_without_dvc_record_their_cost(project, tmp_path):
    """bench/real_study.py (the real study on a machine without DVC): per stage wall seconds and
    rates, kept for the stages that finished when a later one fails."""
    dest, env = project
    timing = tmp_path / "timing.json"
    script = [sys.executable, "bench/real_study.py", "--out", str(timing)]
    out = sh([*script, "--params", "params.yaml", "--stages", "prepare", "eval_mmlu_base"], dest, env)
    run = json.loads(timing.read_text())
    records = run["stages"]
    assert run["hardware"].startswith(("CPU", "1x")) and run["params"].endswith("params.yaml")
    assert [r["stage"] for r in records] == ["prepare", "eval_mmlu_base"] and all(r["exit"] == 0 for r in records)
    mmlu = records[1]
    assert mmlu["questions"] == 18 and mmlu["questions_per_s"] == pytest.approx(18 / mmlu["wall_s"], rel=0.02)
    assert "| eval_mmlu_base | 0 |" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text("lr: -1\n")
    proc = subprocess.run([*script, "--params", str(bad), "--stages", "eval_sql_base", "report"], cwd=dest, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 1 and f"{bad}: " in proc.stderr
    records = json.loads(timing.read_text())["stages"]
    assert [(r["stage"], r["exit"]) for r in records] == [("prepare", 0), ("eval_mmlu_base", 0), ("eval_sql_base", 2)]
    # --budget stops the run itself (a rented machine's time): the cut stage says so, nothing after it runs
    proc = subprocess.run([*script, "--params", "params.yaml", "--budget", "1", "--stages", "eval_mmlu@exp1", "report"],
                          cwd=dest, env=env, capture_output=True, text=True)
    records = json.loads(timing.read_text())["stages"]
    assert proc.returncode == 1 and records[-1]["stage"] == "eval_mmlu@exp1" and records[-1]["exit"] == "timeout"
    assert records[-1]["wall_s"] < 10 and "report" not in [r["stage"] for r in records]


def test_a_dvclive_folder_of_curves_is_not_dvclive(repo, tmp_path):
    """On a machine without DVCLive, the repo's own dvclive/ folder (the curves) imports as an
    empty namespace package; bench/real_study.py must still see that DVCLive is missing."""
    (tmp_path / "dvclive" / "exp1").mkdir(parents=True)
    bench = str(repo / "bench")
    check = f"import sys; sys.path.insert(0, {bench!r}); import real_study; print(real_study.dvclive_installed())"
    # -S: no site-packages, so the installed DVCLive is out of reach and only the folder is found
    without = subprocess.run([sys.executable, "-S", "-c", check], cwd=tmp_path, capture_output=True, text=True)
    assert without.stdout.strip() == "False", without.stderr
