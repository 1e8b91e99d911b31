"""Nothing that passes the params check may crash a stage after DVC has deleted its outputs, and
every command checks its output paths before the work: one line, status 2, nothing lost (issue 31)."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import psutil
import pytest
import yaml

from test_hardening import one_line_refusal, run_module
from test_pipeline import project, sh  # noqa: F401 (project: the fixture, a copy of the repo with tiny params)
from test_stage_errors import _spider_zip, assert_refused, run_stage, set_params, snapshot

OFFLINE = {"HF_HUB_OFFLINE": "0", "HF_ENDPOINT": "http://127.0.0.1:9"}  # tries the network, which cannot answer


# the two stages that check params and data, with their commands' arguments as in dvc.yaml
BOTH_CHECKS = [("check_params.py", "--out", "data/params.ok", "--arms", "data/arms"),
               ("prepare.py", "--out", "data/prepared")]

def stage_env(repo, **extra):
    return {**os.environ, "PYTHONPATH": str(repo), "TRADEOFF_MODELS_DIR": str(repo / "models"), **extra}


# 1. values a later stage cannot run with: refused by check_params, before DVC deletes any output

@pytest.mark.parametrize("change,fragment", [
    ({"train__seed": 2**32}, "train.seed = 4294967296 is not allowed; expected an integer from 0 to 2**32 - 1"),
    ({"lora__r": 100_000_000_000}, "lora.r = 100000000000 is larger than the hidden size of the model (576)"),
    ({"lora__target_modules": []}, "lora.target_modules = [] is not allowed"),
    ({"lora__target_modules": ["q_proj", "qkv"]}, "lora.target_modules ['qkv'] are not modules of this model"),
    ({"eval_sql__max_new_tokens": 10**12}, "eval_sql.max_new_tokens = 1000000000000 tokens is more than the "
                                           "model's context of 8192 tokens"),
    ({"train__max_length": 10_000}, "train.max_length = 10000 tokens is more than the model's context"),
    ({"prompt__max_prompt_tokens": 8192, "eval_sql__max_new_tokens": 64},
     "prompt.max_prompt_tokens + eval_sql.max_new_tokens = 8256 tokens"),
    ({"prompt__max_prompt_tokens": 1}, "prompt.max_prompt_tokens = 1 is not allowed; expected an integer >= 128"),
    ({"arms__exp2__lora_r": 1000}, "arms.exp2.lora_r = 1000 is larger than the hidden size of the model (576)"),
])
def test_check_params_refuses_what_a_later_stage_cannot_run_with(repo, bundled, workdir, change, fragment):
    set_params(workdir, **change)
    before = snapshot(workdir)
    proc = run_stage(repo, workdir, "check_params.py", "--out", "data/params.ok", "--arms", "data/arms")
    assert_refused(proc, "params.yaml: ", fragment)
    assert snapshot(workdir) == before


def test_params_that_fit_the_model_pass(repo, bundled, workdir):
    set_params(workdir, lora__target_modules=["q_proj", "v_proj"], lora__r=576)
    proc = run_stage(repo, workdir, "check_params.py", "--out", "data/params.ok", "--arms", "data/arms")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "the params fit the base model" in proc.stderr
    # what each arm trains with, the file its train@<arm> stage depends on: exp2 differs from exp1 in its rate only
    exp1, exp2 = (json.loads((workdir / f"data/arms/{a}.json").read_text()) for a in ("exp1", "exp2"))
    assert exp1["lr"] == 2e-4 and exp1["method"] == "lora" and exp1["lora"]["r"] == 576
    assert {k: v for k, v in exp2.items() if k not in ("arm", "lr")} == {k: v for k, v in exp1.items()
                                                                         if k not in ("arm", "lr")}


def test_prepare_checks_the_model_check_params_could_not_see(repo, bundled, workdir, tmp_path):
    """A model not on the machine yet (never converted, a hub id not downloaded) is checked by prepare,
    right after it obtains the model and before it writes anything."""
    set_params(workdir, lora__r=1000)
    empty = tmp_path / "no-models"
    empty.mkdir()
    passed = run_stage(repo, workdir, "check_params.py", "--out", "data/params.ok", "--arms", "data/arms",
                       env_extra={"TRADEOFF_MODELS_DIR": str(empty)})
    assert passed.returncode == 0 and "prepare checks the params against it" in passed.stderr
    before = snapshot(workdir)
    proc = run_stage(repo, workdir, "prepare.py", "--out", "data/prepared")
    assert_refused(proc, "params.yaml: lora.r = 1000 is larger than the hidden size of the model (576)")
    assert snapshot(workdir) == before


def test_a_local_models_config_is_read_by_check_params(repo, workdir):
    model = workdir / "tiny-model"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"model_type": "llama", "hidden_size": 8,
                                                   "max_position_embeddings": 256}))
    set_params(workdir, model__name=str(model))
    assert_refused(run_stage(repo, workdir, "check_params.py", "--out", "data/params.ok", "--arms", "data/arms"),
                   "lora.r = 16 is larger than the hidden size of the model (8)")
    (model / "config.json").write_text('{"model_type": ')
    assert_refused(run_stage(repo, workdir, "check_params.py", "--out", "data/params.ok", "--arms", "data/arms"),
                   "tiny-model/config.json: not valid JSON")
    assert not (workdir / "data").exists()


def test_a_failed_experiment_keeps_the_previous_results_byte_identical(project):  # noqa: F811
    """The real mechanism: `dvc exp run -S` with a value training cannot run with fails in check_params,
    with one line, and DVC deletes none of the previous outputs."""
    dest, env = project
    sh(["dvc", "repro", "train@exp1"], dest, env)
    sh(["git", "add", "-A"], dest, env)
    sh(["git", "commit", "-qm", "baseline"], dest, env)
    kept = ["data/prepared", "adapters/exp1", "metrics/train_exp1.json", "curves/exp1", "dvc.lock"]
    before = {f: snapshot(dest / f) if (dest / f).is_dir() else (dest / f).read_bytes() for f in kept}
    params_text = (dest / "params.yaml").read_text()
    # a hub id on a machine without a hub: check_params resolves it as prepare does (issue 31's fresh-clone trial)
    offline = {**env, **OFFLINE, "HF_HUB_CACHE": str(dest.parent / f"{dest.name}-empty-hub-cache")}
    for change, fragment in [("train.seed=4294967296", "train.seed = 4294967296 is not allowed"),
                             ("lora.r=100000000000", "lora.r = 100000000000 is larger than the hidden size"),
                             ("lora.target_modules=[]", "lora.target_modules = [] is not allowed"),
                             ("eval_sql.max_new_tokens=1000000000000", "eval_sql.max_new_tokens"),
                             ("data.spider=nowhere/spider_data.zip",
                              "params.yaml: data.spider='nowhere/spider_data.zip': no such file or folder"),
                             ("model.name=nonexistent/model", "params.yaml: model.name='nonexistent/model': the Hugging "
                              "Face Hub cannot be reached (offline?) and the model is not in the local cache")]:
        bad = subprocess.run(["dvc", "exp", "run", "-S", change], cwd=dest, env=offline, capture_output=True, text=True)
        out = bad.stdout + bad.stderr
        assert bad.returncode != 0 and "Traceback" not in out, out[-3000:]
        assert "Running stage 'check_params'" in out and "Running stage 'prepare'" not in out, out[-3000:]
        ours = [line for line in out.splitlines() if line.startswith("error: ")]
        assert len(ours) == 1 and fragment in ours[0], out[-3000:]
        (dest / "params.yaml").write_text(params_text)  # DVC leaves the bad value in the workspace
    after = {f: snapshot(dest / f) if (dest / f).is_dir() else (dest / f).read_bytes() for f in kept}
    assert after == before


# 5. a prepare killed with kill -9 leaves nothing behind, even when DVC then restores it from its run cache

def test_a_killed_prepare_leaves_no_temporaries_after_dvc_restores_it(project):  # noqa: F811
    dest, env = project
    sh(["dvc", "repro", "prepare"], dest, env)  # also fills DVC's run cache with prepare's outputs
    prepared = dest / "data" / "prepared"
    before = snapshot(prepared)
    dvc = subprocess.Popen(["dvc", "repro", "--force", "--single-item", "prepare"], cwd=dest, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while not list(prepared.glob(".*.tmp")):  # prepare is inside its work: building an output
        assert time.monotonic() < deadline and dvc.poll() is None, "prepare never started its work"
        time.sleep(0.01)
    stage = next(p for p in psutil.Process(dvc.pid).children(recursive=True)  # python, not the shell around it
                 if any(a.endswith("stages/prepare.py") for a in p.cmdline()))
    os.kill(stage.pid, signal.SIGKILL)
    dvc.communicate(timeout=60)
    assert dvc.returncode != 0 and list(prepared.glob(".*.tmp"))  # what the issue saw: temporaries left
    out = sh(["dvc", "repro", "prepare"], dest, env)
    assert "Stage 'prepare' is cached - skipping run" in out and "Running stage 'prepare'" not in out
    assert not list(prepared.glob(".*")), "DVC restored prepare but left the killed run's temporaries"
    assert snapshot(prepared) == before


def test_a_temporary_being_written_is_kept_and_a_killed_writers_is_swept(repo, tmp_path):
    """The atomic helpers sweep abandoned temporaries beside their output: only those no living
    process holds (a writer locks its temporary; the kernel drops the lock when the writer dies)."""
    from tradeoff import atomic

    writer = ("import sys, time; from tradeoff import atomic\n"
              "with atomic.output_dir(sys.argv[1]) as tmp:\n"
              "    (tmp / 'half').write_text('x'); time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", writer, str(tmp_path / "spider")],
                            env={**os.environ, "PYTHONPATH": str(repo)})
    deadline = time.monotonic() + 30
    while not list(tmp_path.glob(".spider.*.tmp/half")):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.02)
    live = next(tmp_path.glob(".spider.*.tmp"))
    atomic.write_json(tmp_path / "model.json", {})  # a neighbour written meanwhile
    assert live.exists(), "swept a temporary its writer is still writing"
    proc.kill()
    proc.wait()
    atomic.write_json(tmp_path / "model.json", {})
    assert not live.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json"]


# 2. a hub id the machine cannot reach

def test_an_unreachable_hub_id_is_one_line_in_prepare_and_mmlu_eval(repo, workdir):
    set_params(workdir, model__name="nonexistent/model")
    before = snapshot(workdir)
    proc = run_stage(repo, workdir, "prepare.py", "--out", "data/prepared", env_extra=OFFLINE)
    assert_refused(proc, "params.yaml: model.name='nonexistent/model'", "Hub cannot be reached (offline?)",
                   "local folder")
    assert snapshot(workdir) == before
    proc = subprocess.run([sys.executable, "-m", "tradeoff.mmlu_eval", "--model", "nonexistent/model", "--limit", "1"],
                          cwd=workdir, env=stage_env(repo, **OFFLINE), capture_output=True, text=True, timeout=300)
    one_line_refusal(proc, "--model='nonexistent/model'", "Hub cannot be reached (offline?)", "local folder")


def _hub_cache(root, repo_id, config):
    """A local Hugging Face cache (HF_HUB_CACHE) holding one snapshot of `repo_id` with this config.json."""
    repo = root / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / ("c" * 40)
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text(json.dumps(config))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("c" * 40)
    return root


@pytest.fixture
def fake_hub():
    """A Hugging Face Hub on 127.0.0.1 that knows one model, owner/real (its metadata only)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Hub(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            found = self.path.split("?")[0] == "/api/models/owner/real"
            body = json.dumps({"id": "owner/real", "sha": "b" * 40} if found else {"error": "Repository not found"})
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "application/json")
            if not found:
                self.send_header("X-Error-Code", "RepoNotFound")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield {"HF_HUB_OFFLINE": "0", "HF_ENDPOINT": f"http://127.0.0.1:{server.server_port}"}
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("env,fragment", [
    (OFFLINE, "model.name='nonexistent/model': the Hugging Face Hub cannot be reached (offline?) and the model "
              "is not in the local cache"),
    ({"HF_HUB_OFFLINE": "1"}, "model.name='nonexistent/model': HF_HUB_OFFLINE is set and the model is not in the "
                              "local cache"),
])
def test_check_params_refuses_a_hub_id_this_machine_cannot_have(repo, workdir, tmp_path, env, fragment):
    """`dvc exp run -S model.name=nonexistent/model` offline: refused by check_params, as prepare would refuse
    it, and quickly (the hub is asked with a timeout, or not at all under HF_HUB_OFFLINE)."""
    set_params(workdir, model__name="nonexistent/model")
    before = snapshot(workdir)
    start = time.monotonic()
    proc = run_stage(repo, workdir, "check_params.py", "--out", "data/params.ok", "--arms", "data/arms",
                     env_extra={**env, "HF_HUB_CACHE": str(tmp_path / "empty-hub-cache")})
    assert time.monotonic() - start < 60
    assert_refused(proc, "params.yaml: ", fragment, "local folder")
    assert snapshot(workdir) == before


@pytest.mark.parametrize("name,fragment", [
    ("./no/such/model", "model.name='./no/such/model': no such model folder"),
    ("not-a-model", "model.name='not-a-model' is neither `bundled`, a folder nor a hub id"),
    ("owner/none", "model.name='owner/none': no such model on the Hugging Face Hub"),
    ("./empty-folder", "empty-folder: no config.json"),
])
def test_check_params_refuses_a_model_prepare_would_refuse(repo, workdir, fake_hub, name, fragment):
    (workdir / "empty-folder").mkdir()
    set_params(workdir, model__name=name)
    before = snapshot(workdir)
    assert_refused(run_stage(repo, workdir, "check_params.py", "--out", "data/params.ok", "--arms", "data/arms", env_extra=fake_hub),
                   fragment)
    assert snapshot(workdir) == before and not (workdir / "data").exists()


def test_check_params_passes_a_hub_id_the_hub_or_the_local_cache_has(repo, workdir, tmp_path, fake_hub):
    """A real user's hub id passes: one the hub knows (not downloaded yet: prepare checks the params against
    it), or one in the local cache when the hub cannot be reached, which prepare then resolves from the cache."""
    set_params(workdir, model__name="owner/real")
    empty = {"HF_HUB_CACHE": str(tmp_path / "empty-hub-cache")}
    proc = run_stage(repo, workdir, "check_params.py", "--out", "data/params.ok", "--arms", "data/arms", env_extra={**fake_hub, **empty})
    assert proc.returncode == 0 and "prepare checks the params against it" in proc.stderr, proc.stderr[-2000:]

    cache = {"HF_HUB_CACHE": str(_hub_cache(tmp_path / "hub-cache", "owner/cached",
                                            {"model_type": "llama", "hidden_size": 8, "max_position_embeddings": 2048}))}
    set_params(workdir, model__name="owner/cached", lora__r=4)
    proc = run_stage(repo, workdir, "check_params.py", "--out", "data/params.ok", "--arms", "data/arms", env_extra={**OFFLINE, **cache})
    assert proc.returncode == 0 and "the params fit the base model" in proc.stderr, proc.stderr[-2000:]
    set_params(workdir, lora__r=16)  # the cached config is what both stages check against
    before = snapshot(workdir)
    for script, *args in BOTH_CHECKS:
        proc = run_stage(repo, workdir, script, *args, env_extra={**OFFLINE, **cache})
        assert_refused(proc, "params.yaml: lora.r = 16 is larger than the hidden size of the model (8)")
    assert snapshot(workdir) == before


# 3. data with nothing to train or score on

@pytest.mark.parametrize("mutate,fragment", [
    (lambda f: (f / "dev.json").write_text("[]"), "spider_data.zip: dev.json: no examples (an empty list)"),
    (lambda f: (f / "train_spider.json").write_text("[]"), "spider_data.zip: train_spider.json: no examples"),
    (lambda f: shutil.rmtree(f / "database"), "train examples has its database there"),
    (lambda f: (f / "dev.json").write_text("[{"), "spider_data.zip: dev.json: not valid JSON"),
])
def test_check_params_and_prepare_refuse_spider_data_with_no_examples(repo, workdir, sample_spider, mutate, fragment):
    """check_params reads the splits without extracting, so that `dvc exp run` fails before DVC
    deletes the previous outputs (a failing prepare cost them); prepare keeps its own check."""
    set_params(workdir, data__spider=str(_spider_zip(workdir, sample_spider, mutate)))
    before = snapshot(workdir)
    for script, *args in BOTH_CHECKS:
        assert_refused(run_stage(repo, workdir, script, *args), fragment)
    assert snapshot(workdir) == before


def test_check_params_refuses_missing_data(repo, workdir, tmp_path):
    for key, value, fragment in [
            ("spider", "nowhere/spider_data.zip", "params.yaml: data.spider='nowhere/spider_data.zip': no such file or folder"),
            ("spider", str(tmp_path), "no tables.json found"),
            ("mmlu", "nowhere/mmlu", "params.yaml: data.mmlu=nowhere/mmlu: no such folder")]:
        set_params(workdir, **{f"data__{key}": value})
        assert_refused(run_stage(repo, workdir, "check_params.py", "--out", "data/params.ok", "--arms", "data/arms"), fragment)
        set_params(workdir, **{f"data__{key}": "sample"})


def test_prepare_refuses_an_mmlu_dataset_with_no_test_questions(repo, workdir):
    """hf:<dataset> whose test split is empty (the hub replaced by a stand-in: no network here)."""
    set_params(workdir, data__mmlu="hf:cais/mmlu")
    run = ("import runpy, sys, datasets\n"
           "datasets.load_dataset = lambda *a, **k: {'test': [], 'dev': []}\n"
           "sys.argv = sys.argv[1:]\n"
           "runpy.run_path(sys.argv[0], run_name='__main__')\n")
    before = snapshot(workdir)
    proc = subprocess.run([sys.executable, "-c", run, str(repo / "stages" / "prepare.py"), "--out", "data/prepared"],
                          cwd=workdir, env=stage_env(repo), capture_output=True, text=True, timeout=300)
    assert_refused(proc, "params.yaml: data.mmlu=hf:cais/mmlu: its test split has no questions")
    assert snapshot(workdir) == before


# 4. a byte-order mark in an MMLU CSV

def test_a_byte_order_mark_is_not_part_of_the_first_question(repo, workdir, tmp_path):
    from tradeoff.mmlu.data import load_csv_dir

    mmlu = tmp_path / "mmlu"
    (mmlu / "test").mkdir(parents=True)
    (mmlu / "test" / "astronomy_test.csv").write_bytes("\ufeffWhat is a star?,a,b,c,d,A\n".encode())
    questions, _ = load_csv_dir(mmlu)
    assert questions["astronomy"][0].question == "What is a star?"
    set_params(workdir, data__mmlu=str(mmlu))
    assert run_stage(repo, workdir, "prepare.py", "--out", "data/prepared").returncode == 0
    prepared = workdir / "data" / "prepared" / "mmlu" / "test" / "astronomy_test.csv"
    assert prepared.read_bytes().startswith(b"What is a star?,")


# 6. output paths checked before the work; every mistake one line

def test_mmlu_eval_checks_out_before_scoring(repo, tmp_path):
    (tmp_path / "file").write_text("previous")
    start = time.monotonic()
    proc = run_module(repo, tmp_path, "tradeoff.mmlu_eval", "--model", "bundled", "--limit", "1",
                      "--out", "file/m.json")
    one_line_refusal(proc, "file: is a file; file/")
    assert time.monotonic() - start < 30 and (tmp_path / "file").read_text() == "previous"
    (tmp_path / "m.json").mkdir()
    one_line_refusal(run_module(repo, tmp_path, "tradeoff.mmlu_eval", "--model", "bundled", "--out", "m.json"),
                     "m.json: is a folder; this output is a file")


def test_mmlu_eval_refuses_an_unwritable_folder_before_scoring(tmp_path, monkeypatch, capsys):
    """In-process: root (the test machine's user) may write anywhere, so the folder's permission is
    simulated (as in test_hardening_sql); loading the model would fail the test."""
    from tradeoff import mmlu_eval

    ro = tmp_path / "ro"
    ro.mkdir()
    monkeypatch.setattr(os, "access", lambda path, mode: os.path.abspath(path) != str(ro))
    monkeypatch.setattr(mmlu_eval.load, "load_for_eval", lambda *a, **k: pytest.fail("loaded before checking --out"))
    assert mmlu_eval.main(["--model", "bundled", "--limit", "1", "--out", str(ro / "m.json")]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [f"error: {ro}: not writable; outputs go there"]


def test_a_read_only_folder_is_refused_even_for_root(tmp_path):
    """os.access answers yes to root everywhere: the check writes a probe file."""
    from tradeoff import TradeoffError, atomic

    if not os.path.isdir("/sys"):
        pytest.skip("no /sys here")
    with pytest.raises(TradeoffError, match=r"^/sys: not writable"):
        atomic.check_writable("/sys/m.json")
    atomic.check_writable(tmp_path / "m.json")
    assert list(tmp_path.iterdir()) == []  # the probe is gone


@pytest.mark.parametrize("out,fragment", [
    ("data", "data: is a folder; this output is a file"),
    ("params.yaml/ok", "params.yaml: is a file; params.yaml/ok needs a folder there"),
])
def test_check_params_out_that_cannot_be_written(repo, workdir, out, fragment):
    (workdir / "data").mkdir()
    before = snapshot(workdir)
    assert_refused(run_stage(repo, workdir, "check_params.py", "--out", out, "--arms", "data/arms"), fragment)
    assert snapshot(workdir) == before


@pytest.mark.parametrize("setup,args,fragment", [
    (lambda d: (d / "p.yaml").write_bytes(b"lr: 1.0e-4 # caf\xe9\n"), ["p.yaml"], "p.yaml: not UTF-8 text"),
    (lambda d: (d / "p.yaml").mkdir(), ["p.yaml"], "p.yaml: is a folder, not a file"),
    (lambda d: (d / "p.yaml").write_text("lr: 1.0e-4\n"), ["p.yaml", "--set", "lr=[1"],
     "--set 'lr=[1': the value is not valid YAML"),
    (lambda d: [(d / "p.yaml").write_text("lr: 1.0e-4\n"), (d / "merged.yaml").mkdir()],
     ["p.yaml", "--write-params", "merged.yaml"], "merged.yaml: is a folder; this output is a file"),
])
def test_profile_mistakes_are_one_line(repo, workdir, setup, args, fragment):
    setup(workdir)
    before = snapshot(workdir)
    one_line_refusal(run_module(repo, workdir, "tradeoff.profile", *args), fragment)
    assert snapshot(workdir) == before

