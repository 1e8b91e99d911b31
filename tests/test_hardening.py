"""Limits and counts must be finite and in range, and a run that would score nothing is an error,
on every command line and in params.yaml: one line, status 2, nothing written (issue 19)."""

import os
import shutil
import sqlite3
import subprocess
import sys

import pytest

from tradeoff.model import obtain
import yaml

from test_stage_errors import assert_refused, run_stage, snapshot


def run_module(repo, cwd, module, *args):
    env = {**os.environ, "PYTHONPATH": str(repo)}
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def one_line_refusal(proc, *fragments):
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr[-2000:]
    for f in fragments:
        assert f in lines[0], lines[0]


@pytest.fixture
def spider_files(tmp_path):
    db = tmp_path / "database" / "shop"
    db.mkdir(parents=True)
    con = sqlite3.connect(db / "shop.sqlite")
    con.execute("CREATE TABLE item (id INTEGER, name TEXT)")
    con.execute("INSERT INTO item VALUES (1, 'a')")
    con.commit()
    con.close()
    (tmp_path / "gold.sql").write_text("SELECT count(*) FROM item\tshop\n")
    (tmp_path / "pred.sql").write_text("SELECT count(*) FROM item\n")
    return tmp_path


@pytest.mark.parametrize("args,fragment", [
    (["--timeout", "nan"], "--timeout: 'nan' is not a finite number > 0"),
    (["--timeout", "inf"], "--timeout: 'inf' is not a finite number > 0"),
    (["--timeout", "0"], "--timeout: '0' is not a finite number > 0"),
    (["--timeout", "-1"], "--timeout: '-1' is not a finite number > 0"),
    (["--workers", "-1"], "--workers: '-1' is not an integer > 0"),
    (["--workers", "0"], "--workers: '0' is not an integer > 0"),
])
def test_sql_eval_refuses_limits_out_of_range(repo, spider_files, args, fragment):
    proc = run_module(repo, spider_files, "tradeoff.sql_eval", "--gold", "gold.sql", "--pred", "pred.sql",
                      "--db", "database", "--verdicts", "v.jsonl", *args)
    one_line_refusal(proc, fragment)
    assert not (spider_files / "v.jsonl").exists()


def test_sql_eval_with_a_database_folder_one_level_off_is_an_error(repo, spider_files):
    ok = run_module(repo, spider_files, "tradeoff.sql_eval", "--gold", "gold.sql", "--pred", "pred.sql",
                    "--db", "database", "--workers", "1")
    assert ok.returncode == 0 and "100.00" in ok.stdout
    proc = run_module(repo, spider_files, "tradeoff.sql_eval", "--gold", "gold.sql", "--pred", "pred.sql",
                      "--db", ".", "--verdicts", "v.jsonl", "--workers", "1")
    one_line_refusal(proc, "error: .: no question could be scored", "--db")
    assert not (spider_files / "v.jsonl").exists()


@pytest.mark.parametrize("args,fragment", [
    (["--limit", "-1"], "--limit: '-1' is not an integer > 0"),
    (["--categories", "Bogus"], "--categories: invalid choice: 'Bogus'"),
    (["--dtype", "banana"], "--dtype: invalid choice: 'banana'"),
    (["--batch-size", "0"], "--batch-size: '0' is not an integer > 0"),
])
def test_mmlu_eval_refuses_bad_arguments_in_one_line(repo, tmp_path, args, fragment):
    proc = run_module(repo, tmp_path, "tradeoff.mmlu_eval", "--model", "bundled", "--out", "m.json", *args)
    one_line_refusal(proc, "python -m tradeoff.mmlu_eval", fragment)
    assert not (tmp_path / "m.json").exists()


def test_mmlu_without_dev_shots_is_refused_not_run_zero_shot(repo, bundled, tmp_path):
    from tradeoff.mmlu.data import write_sample_mmlu

    data = tmp_path / "mmlu"
    write_sample_mmlu(data, 0)
    for f in (data / "dev").iterdir():
        f.unlink()
    (data / "dev").rmdir()
    proc = run_module(repo, tmp_path, "tradeoff.mmlu_eval", "--model", "bundled", "--models-dir",
                      str(repo / "models"), "--data", str(data), "--shots", "5", "--limit", "1", "--out", "m.json")
    one_line_refusal(proc, "MMLU 5-shot: 9 subjects have fewer than 5 dev questions", "dev/ folder")
    assert not (tmp_path / "m.json").exists()


@pytest.mark.parametrize("key,value,fragment", [
    ("eval_sql.timeout_s", float("inf"), "eval_sql.timeout_s = inf"),
    ("eval_sql.timeout_s", float("nan"), "eval_sql.timeout_s = nan"),
    ("eval_sql.timeout_s", 0, "eval_sql.timeout_s = 0"),
    ("eval_sql.timeout_s", -1, "eval_sql.timeout_s = -1"),
    ("eval_sql.workers", -1, "eval_sql.workers = -1"),
    ("eval_sql.batch_size", 0, "eval_sql.batch_size = 0"),
    ("lr", float("nan"), "lr = nan"),
    ("lr", float("inf"), "lr = inf"),
    ("train.weight_decay", float("inf"), "train.weight_decay = inf"),
])
def test_params_limits_must_be_finite_and_in_range(repo, workdir, key, value, fragment):
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    *path, last = key.split(".")
    node = params
    for k in path:
        node = node[k]
    node[last] = value
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    before = snapshot(workdir)
    proc = run_stage(repo, workdir, "prepare.py", "--out", "data/prepared")
    assert_refused(proc, "params.yaml", fragment)
    assert snapshot(workdir) == before


def test_params_with_a_duplicate_key_bad_bytes_or_a_folder_are_refused(repo, workdir):
    text = (workdir / "params.yaml").read_text()
    (workdir / "params.yaml").write_text(text.replace("lr: 2.0e-4", "lr: 2.0e-4\nlr: 1.0e-3", 1))
    assert_refused(run_stage(repo, workdir, "prepare.py", "--out", "data/prepared"),
                   "params.yaml", "duplicate key 'lr'")
    (workdir / "params.yaml").write_bytes(text.encode() + b"\n# caf\xe9\n")
    assert_refused(run_stage(repo, workdir, "prepare.py", "--out", "data/prepared"), "params.yaml", "not UTF-8")
    (workdir / "params.yaml").write_text(text.replace("lr: 2.0e-4", "lr: [2.0e-4", 1))
    proc = run_stage(repo, workdir, "prepare.py", "--out", "data/prepared")
    line = next(n for n, t in enumerate(text.splitlines(), 1) if t.startswith("lr:"))
    assert_refused(proc, f"params.yaml: not valid YAML at line {line}")
    (workdir / "params.yaml").write_text(text)
    (workdir / "conf").mkdir()
    assert_refused(run_stage(repo, workdir, "prepare.py", "--out", "data/prepared", "--params", "conf"),
                   "conf: is a folder")
    assert not (workdir / "data").exists()


def test_a_stage_before_the_stage_it_needs_and_a_truncated_predictions_file(repo, workdir):
    proc = run_stage(repo, workdir, "eval_sql.py", "--data", "data/prepared", "--adapter", "none",
                     "--out", "p.jsonl", "--metrics", "m.json")
    assert_refused(proc, "data/prepared/model.json: not there; run the prepare stage first")
    preds = workdir / "predictions"
    preds.mkdir()
    for name in ("sql_base", "sql_exp1", "sql_exp2", "mmlu_base", "mmlu_exp1", "mmlu_exp2"):
        (preds / f"{name}.jsonl").write_text('{"index": 0}\n')
    (preds / "mmlu_exp1.jsonl").write_text('{"index": 0}\n{"subject": "astro')  # cut mid-record
    proc = run_stage(repo, workdir, "report.py", "--predictions", "predictions", "--reports", "reports",
                     "--metrics", "metrics/arms.json", "--summary", "metrics/report.json")
    assert_refused(proc, "mmlu_exp1.jsonl: line 2 is not a JSON record")
    assert not (workdir / "reports").exists() and not (workdir / "metrics").exists()


def test_ctrl_c_is_one_line_and_status_130(repo, bundled, workdir):
    import signal
    import time

    assert run_stage(repo, workdir, "prepare.py", "--out", "data/prepared").returncode == 0
    env = {**os.environ, "PYTHONPATH": str(repo), "TRADEOFF_MODELS_DIR": str(repo / "models")}
    proc = subprocess.Popen([sys.executable, str(repo / "stages" / "eval_sql.py"), "--data", "data/prepared",
                             "--adapter", "none", "--out", "p.jsonl", "--metrics", "m.json"],
                            cwd=workdir, env=env, stderr=subprocess.PIPE, text=True,
                            # a run in the background of a script inherits SIGINT ignored: give it Ctrl-C back
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    seen = []
    for line in proc.stderr:  # wait until it is inside its work (model loading prints a bar)
        seen.append(line)
        if "Loading weights" in line or "generate SQL" in line:
            break
    time.sleep(1)
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=120)
    err = "".join(seen) + rest
    assert proc.returncode == 130, err[-2000:]
    assert err.strip().splitlines()[-1].startswith("error: interrupted"), err[-2000:]
    assert "Traceback" not in err
    assert not (workdir / "p.jsonl").exists() and not (workdir / "m.json").exists()


def test_a_zip_member_with_a_corrupt_deflate_stream(repo, workdir, sample_spider):
    import zipfile

    zpath = workdir / "spider_data.zip"
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(sample_spider.rglob("*")):
            if p.is_file():
                zf.write(p, "spider/" + p.relative_to(sample_spider).as_posix())
    data = bytearray(zpath.read_bytes())
    start = data.find(b"spider/tables.json") + len("spider/tables.json") + 16
    data[start:start + 24] = bytes(b ^ 0xFF for b in data[start:start + 24])  # inside its compressed data
    zpath.write_bytes(bytes(data))
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    params["data"]["spider"] = str(zpath)
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    proc = run_stage(repo, workdir, "prepare.py", "--out", "data/prepared")
    assert_refused(proc, "spider_data.zip: a member's compressed data is corrupt")
    assert not (workdir / "data" / "prepared" / "spider").exists()


def _eval_sql(repo, workdir, adapter):
    return run_stage(repo, workdir, "eval_sql.py", "--data", "data/prepared", "--adapter", adapter,
                     "--out", "predictions/sql_exp1.jsonl", "--metrics", "metrics/sql_exp1.json")


def test_an_adapter_of_another_base_model_or_a_truncated_one(repo, bundled, prepared):
    import json

    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(obtain.model_path(bundled), dtype=torch.float32)
    peft = get_peft_model(model, LoraConfig(r=4, target_modules=["q_proj"], task_type="CAUSAL_LM"))
    good = prepared / "adapters" / "exp1"
    peft.save_pretrained(good)
    foreign = prepared / "adapters" / "foreign"
    shutil.copytree(good, foreign)
    weights = foreign / "adapter_model.safetensors"
    from safetensors.torch import load_file, save_file

    tensors = {k: torch.zeros(v.shape[0] + 7, *v.shape[1:]) if "lora_B" in k else v for k, v in load_file(weights).items()}
    save_file(tensors, weights)  # shapes of a model with another hidden size
    assert_refused(_eval_sql(repo, prepared, "adapters/foreign"), "adapters/foreign: cannot apply this adapter")
    truncated = prepared / "adapters" / "truncated"
    shutil.copytree(good, truncated)
    data = (truncated / "adapter_model.safetensors").read_bytes()
    (truncated / "adapter_model.safetensors").write_bytes(data[: len(data) // 2])
    assert_refused(_eval_sql(repo, prepared, "adapters/truncated"), "adapters/truncated: cannot apply this adapter")
    assert json.loads((good / "adapter_config.json").read_text())["r"] == 4
    assert not (prepared / "predictions").exists()


def test_outputs_that_cannot_be_written_are_refused_before_the_work(repo, prepared):
    (prepared / "metrics" / "sql_exp1.json").mkdir(parents=True)  # a folder where the file goes
    assert_refused(_eval_sql(repo, prepared, "none"), "metrics/sql_exp1.json: is a folder")
    (prepared / "metrics" / "sql_exp1.json").rmdir()
    (prepared / "predictions").write_text("")  # a file where the output folder goes (root can write anywhere)
    assert_refused(_eval_sql(repo, prepared, "none"), "predictions: is a file; predictions/")
    assert not (prepared / "metrics" / "sql_exp1.json").exists()


def test_lora_targets_the_model_lacks_are_refused_with_the_ones_it_has(bundled):
    import torch
    from transformers import AutoModelForCausalLM

    from tradeoff import TradeoffError
    from tradeoff.model.fit import check_target_modules

    model = AutoModelForCausalLM.from_pretrained(obtain.model_path(bundled), dtype=torch.float32)
    check_target_modules(model, ["q_proj", "v_proj"])
    check_target_modules(model, "all-linear")
    with pytest.raises(TradeoffError, match=r"lora.target_modules \['query_key_value'\] are not modules .*'q_proj'"):
        check_target_modules(model, ["q_proj", "query_key_value"])


def test_sql_eval_refuses_gold_or_predictions_that_are_not_utf8(repo, spider_files):
    (spider_files / "pred.sql").write_bytes(b"SELECT 'caf\xe9'\n")
    proc = run_module(repo, spider_files, "tradeoff.sql_eval", "--gold", "gold.sql", "--pred", "pred.sql",
                      "--db", "database", "--verdicts", "v.jsonl")
    one_line_refusal(proc, "pred.sql: not UTF-8 text")
    assert not (spider_files / "v.jsonl").exists()


def test_messages_name_the_users_file_not_our_temporary_copy(repo, workdir, sample_spider):
    import zipfile

    zpath = workdir / "spider_data.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for p in sorted(sample_spider.rglob("*")):
            if p.is_file():
                data = b'[{"db_id": "college", "question": ' if p.name == "dev.json" else p.read_bytes()
                zf.writestr("spider/" + p.relative_to(sample_spider).as_posix(), data)
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    params["data"]["spider"] = str(zpath)
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    proc = run_stage(repo, workdir, "prepare.py", "--out", "data/prepared")
    assert_refused(proc, f"{zpath}: dev.json: not valid JSON")
    assert ".tmp" not in proc.stderr
    assert not (workdir / "data" / "prepared").exists() or not any((workdir / "data" / "prepared").iterdir())


def test_messages_name_the_setting_that_was_given(repo, workdir):
    import os

    env = {**os.environ, "PYTHONPATH": str(repo), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-m", "tradeoff.mmlu_eval", "--model", "nobody/nothing", "--data", "sample"],
                          cwd=workdir, env=env, capture_output=True, text=True, timeout=300)
    assert_refused(proc, "--model='nobody/nothing'", "HF_HUB_OFFLINE")
    assert "params.yaml" not in proc.stderr
    other = workdir / "other.yaml"
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    params["data"]["mmlu"] = "/nowhere/mmlu"
    other.write_text(yaml.safe_dump(params))
    proc = run_stage(repo, workdir, "prepare.py", "--out", "data/prepared", "--params", str(other))
    assert_refused(proc, f"{other}: data.mmlu='/nowhere/mmlu'")
