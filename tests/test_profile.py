"""Params profiles: what `python -m tradeoff.profile` prints is what DVC applies, and mistakes stop early."""

from pathlib import Path

import pytest
import yaml

from tradeoff import profile
from tradeoff.config import load_params

ROOT = Path(__file__).resolve().parent.parent
DATA = ["--set", "data.spider=/data/spider_data.zip", "--set", "data.mmlu=hf:cais/mmlu"]


@pytest.fixture(autouse=True)
def _in_repo(monkeypatch):
    monkeypatch.chdir(ROOT)


ARMS = ["--set", "arms.exp1.seed=1", "--set", "arms.exp2.lr=1e-3", "--set", "arms.exp3.method=full"]


@pytest.mark.parametrize("profiles, extra", [(["profiles/real-study.yaml"], []),
                                             (["profiles/real-study.yaml", "profiles/gemma-2b-it.yaml"], []),
                                             (["profiles/real-study.yaml"], ARMS)])
def test_dvc_applies_the_printed_overrides_exactly_as_written_params(profiles, extra, tmp_path, capsys):
    from dvc.utils.hydra import apply_overrides  # what `dvc exp run -S` calls

    assert profile.main([*profiles, *DATA, *extra, "--write-params", str(tmp_path / "merged.yaml")]) == 0
    assert profile.main([*profiles, *DATA, *extra]) == 0
    words = capsys.readouterr().out.split()  # the shell splits $(...) the same way
    assert words[0::2] == ["-S"] * (len(words) // 2)
    applied = tmp_path / "params.yaml"
    applied.write_text((ROOT / "params.yaml").read_text())
    apply_overrides(str(applied), words[1::2])
    merged = load_params(tmp_path / "merged.yaml")
    assert load_params(applied) == merged
    assert merged.data.spider == "/data/spider_data.zip" and merged.eval_mmlu.categories == "all"
    assert merged.data.sample_dev_per_db is None and merged.train.max_steps == -1
    if len(profiles) == 2:
        assert merged.model.name == "google/gemma-2b-it" and merged.model.dtype == "auto"
    if extra:  # an arm's new field, a field it had, and a new arm
        assert merged.to_dict()["arms"] == {"exp1": {"seed": 1}, "exp2": {"lr": 1e-3}, "exp3": {"method": "full"}}


@pytest.mark.parametrize("args, message", [
    (["profiles/real-study.yaml"], "profiles/real-study.yaml: data.spider is REQUIRED; give it with --set"),
    (["profiles/real-study.yaml", *DATA, "--set", "train.batch_sise=4"], "--set: train.batch_sise is not a key"),
    (["profiles/real-study.yaml", *DATA, "--set", "train.batch_size=0"], "train.batch_size = 0 is not allowed"),
    (["profiles/real-study.yaml", "--set", "data.spider=/my data/spider.zip", "--set", "data.mmlu=x"],
     "has white space"),
    (["profiles/nope.yaml"], "profiles/nope.yaml: file not found"),
    (["profiles/real-study.yaml", *DATA, "--set", "arms.exp1.sed=1"], "arms.exp1.sed: an arm has no field 'sed'"),
])
def test_mistakes_stop_with_one_line_and_write_nothing(args, message, tmp_path, capsys):
    out = tmp_path / "merged.yaml"
    assert profile.main([*args, "--write-params", str(out)] if "white" not in message else args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err
    assert not out.exists()


def test_a_key_of_an_unknown_profile_file_is_named(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"lora": {"rank": 8}}))
    assert profile.main([str(bad)]) == 2
    assert f"{bad}: lora.rank is not a key of params.yaml" in capsys.readouterr().err


def test_the_smoke_profile_parses_and_names_only_data_that_exist(tmp_path):
    """profiles/smoke-real.yaml needs no --set; where ../shared is beside the checkout, every file,
    subject and example it names is there (each sampled question with its database)."""
    import json
    import zipfile

    from tradeoff.mmlu.question import category_map

    out = tmp_path / "smoke.yaml"
    assert profile.main(["profiles/smoke-real.yaml", "--write-params", str(out)]) == 0
    params = load_params(out)
    assert params.model.name == "bundled" and params.train.max_train_examples
    spider, mmlu = ROOT / params.data.spider, ROOT / params.data.mmlu
    if not (ROOT.parent / "shared").is_dir():
        pytest.skip(f"{ROOT.parent / 'shared'} is absent (third-party data for tests only)")
    assert spider.is_file() and mmlu.is_dir()
    subjects = [s for s, c in category_map(params.eval_mmlu.category_map).items()
                if c in params.eval_mmlu.categories]
    for subject in subjects:
        assert (mmlu / "test" / f"{subject}_test.csv").is_file() and (mmlu / "dev" / f"{subject}_dev.csv").is_file()
    with zipfile.ZipFile(spider) as z:
        names = set(z.namelist())
        root = next(n[: -len("tables.json")] for n in sorted(names, key=len) if n.endswith("/tables.json"))
        for file, n in (("train_spider.json", params.train.max_train_examples),
                        ("dev.json", params.eval_sql.limit)):
            examples = json.loads(z.read(root + file))[:n]
            assert len(examples) == n
            for ex in examples:
                assert f"{root}database/{ex['db_id']}/{ex['db_id']}.sqlite" in names, (file, ex["db_id"])


@pytest.fixture
def dvc_calls(monkeypatch):
    """`run`'s calls of DVC, recorded instead of made; each answers with status 3."""
    import subprocess

    calls = []

    def fake_run(cmd, *args, **kwargs):
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 3)

    monkeypatch.setattr(profile.subprocess, "run", fake_run)
    return calls


@pytest.mark.parametrize("args, message", [
    (["profiles/nope.yaml"], "profiles/nope.yaml: file not found"),
    (["profiles/real-study.yaml", *DATA, "--set", "arms.exp1.sed=1"], "arms.exp1.sed: an arm has no field 'sed'"),
    (["nope"], "nope: file not found"),
    (["profiles/real-study.yaml"], "profiles/real-study.yaml: data.spider is REQUIRED; give it with --set"),
    (["profiles/real-study.yaml", *DATA, "--set", "train.batch_sise=4"], "--set: train.batch_sise is not a key"),
    (["profiles/real-study.yaml", *DATA, "--set", "train.batch_size=0"], "train.batch_size = 0 is not allowed"),
])
def test_run_with_a_bad_profile_fails_closed_without_starting_dvc(args, message, dvc_calls, capsys):
    """`dvc exp run $(python -m tradeoff.profile BAD)` would run the defaults; `run` starts nothing."""
    assert profile.main(["run", *args, "-n", "x"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err
    assert dvc_calls == []


def test_run_starts_dvc_exp_run_with_the_printed_overrides_and_its_status(dvc_calls, capsys):
    assert profile.main(["profiles/real-study.yaml", *DATA]) == 0
    printed = capsys.readouterr().out.split()
    assert profile.main(["run", "profiles/real-study.yaml", *DATA, "-n", "real-study", "--queue"]) == 3
    assert dvc_calls == [["dvc", "exp", "run", "-n", "real-study", "--queue", *printed]]
    assert profile.main(["run", "profiles/real-study.yaml", *DATA, "--dry-run"]) == 0
    assert capsys.readouterr().out.split() == ["dvc", "exp", "run", *printed] and len(dvc_calls) == 1


def test_run_passes_a_value_with_white_space_as_one_argument(dvc_calls):
    """No shell splits `run`'s arguments, so a path with a space is fine there."""
    assert profile.main(["run", "profiles/real-study.yaml", "--set", "data.spider=/my data/spider.zip",
                         "--set", "data.mmlu=hf:cais/mmlu"]) == 3
    assert "data.spider=/my data/spider.zip" in dvc_calls[0]


@pytest.mark.parametrize("axis", sorted(p.name for p in (ROOT / "profiles").glob("study-*.yaml")))
def test_each_study_profile_passes_the_params_checks_on_top_of_the_real_study(axis, tmp_path):
    out = tmp_path / "merged.yaml"
    assert profile.main(["profiles/real-study.yaml", f"profiles/{axis}", *DATA, "--write-params", str(out)]) == 0
    merged = load_params(out)
    assert merged.model.name == "bundled-qwen-1.5b" and len(merged.arms) >= 2
    for name in merged.arms:  # every arm resolves: its rate, and LoRA alpha = 2r on the rank axis
        arm = merged.arm(name)
        assert arm.lr > 0 and (arm.method == "full" or arm.params.lora.alpha == 2 * arm.params.lora.r)
