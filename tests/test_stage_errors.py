"""Bad input at the stage level: one clear line naming the file, exit status 2, nothing written."""

import json
import shutil
import sqlite3
import subprocess
import sys
import zipfile

import pytest
import yaml


def run_stage(repo, workdir, script, *args, env_extra=None):
    import os

    env = {**os.environ, "PYTHONPATH": str(repo), "TRADEOFF_MODELS_DIR": str(repo / "models"), **(env_extra or {})}
    return subprocess.run([sys.executable, str(repo / "stages" / script), *args], cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=300)


def set_params(workdir, **changes):
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    for dotted, value in changes.items():
        node = params
        *path, last = dotted.split("__")
        for key in path:
            node = node[key]
        node[last] = value
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))


def assert_refused(proc, *fragments):
    """Exit 2 and one line `error: ...` holding each fragment. With TRADEOFF_REFUSALS=<file> set,
    each test's line is appended there too (the list of messages an issue's closing note shows)."""
    import os

    assert proc.returncode == 2, proc.stderr[-2000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error: "), proc.stderr[-2000:]
    for f in fragments:
        assert f in last, last
    if os.environ.get("TRADEOFF_REFUSALS"):
        with open(os.environ["TRADEOFF_REFUSALS"], "a") as out:
            out.write(f"{os.environ.get('PYTEST_CURRENT_TEST', '?').split(' ')[0]}\t{last}\n")


def snapshot(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("change,fragments", [
    ({"lr": 0}, ["params.yaml", "lr = 0"]),
    ({"lora__r": -1}, ["lora.r = -1"]),
    ({"model__name": "./no/such/model"}, ["model.name='./no/such/model'", "no such model folder"]),
    ({"data__spider": "/nowhere/spider_data.zip"}, ["data.spider='/nowhere/spider_data.zip'"]),
    ({"data__mmlu": "/nowhere/mmlu"}, ["data.mmlu='/nowhere/mmlu'"]),
])
def test_prepare_refuses_bad_params_and_writes_nothing(repo, workdir, change, fragments):
    set_params(workdir, **change)
    before = snapshot(workdir)
    proc = run_stage(repo, workdir, "prepare.py", "--out", "data/prepared")
    assert_refused(proc, *fragments)
    assert snapshot(workdir) == before


def test_hub_id_offline_says_so(repo, workdir):
    set_params(workdir, model__name="google/gemma-2b-it")
    proc = run_stage(repo, workdir, "prepare.py", "--out", "data/prepared", env_extra={"HF_HUB_OFFLINE": "1"})
    assert_refused(proc, "google/gemma-2b-it", "HF_HUB_OFFLINE", "local folder")
    assert not (workdir / "data" / "prepared" / "model.json").exists()


def test_truncated_zip_keeps_the_previous_output(repo, workdir, sample_spider):
    # a previous good run's output must survive a failed one untouched
    old = workdir / "data" / "prepared" / "spider"
    shutil.copytree(sample_spider, old)
    before = snapshot(workdir / "data")
    zpath = workdir / "spider_data.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for p in sample_spider.rglob("*"):
            if p.is_file():
                zf.write(p, "spider/" + p.relative_to(sample_spider).as_posix())
    zpath.write_bytes(zpath.read_bytes()[:-2000])
    set_params(workdir, data__spider=str(zpath))
    proc = run_stage(repo, workdir, "prepare.py", "--out", "data/prepared")
    assert_refused(proc, str(zpath))
    assert snapshot(workdir / "data") == before
    assert [p.name for p in (workdir / "data" / "prepared").iterdir()] == ["spider"]


def test_database_that_is_not_sqlite(tmp_path, sample_spider):
    from tradeoff import TradeoffError
    from tradeoff.spider.data import check_sqlite_file

    bad = tmp_path / "x.sqlite"
    bad.write_text("not a database")
    with pytest.raises(TradeoffError, match="not an SQLite database"):
        check_sqlite_file(bad)
    good = sample_spider / "database" / "college" / "college.sqlite"
    check_sqlite_file(good)
    assert sqlite3.connect(good).execute("SELECT count(*) FROM department").fetchone()[0] > 0


def test_mmlu_with_a_bad_answer_letter(repo, workdir, tmp_path):
    mmlu = tmp_path / "mmlu"
    (mmlu / "test").mkdir(parents=True)
    (mmlu / "dev").mkdir()
    (mmlu / "test" / "astronomy_test.csv").write_text("Q?,a,b,c,d,A\nQ2?,a,b,c,d,F\n")
    set_params(workdir, data__mmlu=str(mmlu))
    proc = run_stage(repo, workdir, "prepare.py", "--out", "data/prepared")
    assert_refused(proc, "astronomy_test.csv", "row 2", "answer 'F'")
    assert not (workdir / "data" / "prepared" / "mmlu").exists()


def _spider_zip(workdir, sample_spider, mutate):
    """A zip of the sample Spider after `mutate(folder)`, as data.spider."""
    folder = workdir / "src"
    shutil.copytree(sample_spider, folder)
    mutate(folder)
    zpath = workdir / "spider_data.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for p in folder.rglob("*"):
            if p.is_file():
                zf.write(p, "spider_data/" + p.relative_to(folder).as_posix())
    shutil.rmtree(folder)
    return zpath


def _write(rel, text):
    return lambda folder: (folder / rel).write_text(text)


@pytest.mark.parametrize("mutate,fragments", [
    (lambda f: (f / "tables.json").unlink(), ["no tables.json inside"]),
    (_write("dev.json", "[{"), ["dev.json: not valid JSON"]),
    (_write("train_spider.json", json.dumps([{"db_id": "college", "query": "SELECT 1"}])),
     ["train_spider.json: example 0 lacks the text field(s) question"]),
    (_write("dev.json", json.dumps([{"db_id": "atlantis", "question": "q?", "query": "SELECT 1"}])),
     ["dev.json: example 0 names db_id 'atlantis'"]),
    (_write("database/college/college.sqlite", "this is not a database"),
     ["spider_data.zip: database/college/college.sqlite: not an SQLite database"]),
])
def test_prepare_refuses_bad_spider_input(repo, workdir, sample_spider, mutate, fragments):
    zpath = _spider_zip(workdir, sample_spider, mutate)
    set_params(workdir, data__spider=str(zpath))
    before = snapshot(workdir)
    proc = run_stage(repo, workdir, "prepare.py", "--out", "data/prepared")
    assert_refused(proc, *fragments)
    assert snapshot(workdir) == before
    assert not (workdir / "data" / "prepared" / "spider").exists()


@pytest.mark.parametrize("rows,fragments", [
    ("Q?,a,b,c,d\n", ["astronomy_test.csv", "row 1 has 5 columns"]),
    ("", ["astronomy_test.csv", "subject astronomy has no questions"]),
    (b"Q?,a,b,\xff\xfe,d,A\n", ["astronomy_test.csv", "not UTF-8"]),
])
def test_prepare_refuses_bad_mmlu_input(repo, workdir, tmp_path, rows, fragments):
    mmlu = tmp_path / "mmlu"
    (mmlu / "test").mkdir(parents=True)
    path = mmlu / "test" / "astronomy_test.csv"
    path.write_bytes(rows if isinstance(rows, bytes) else rows.encode())
    set_params(workdir, data__mmlu=str(mmlu))
    before = snapshot(workdir)
    proc = run_stage(repo, workdir, "prepare.py", "--out", "data/prepared")
    assert_refused(proc, *fragments)
    assert snapshot(workdir) == before
