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


def stage_env(repo, **extra):
    return {**os.environ, "PYTHONPATH": str(repo), "TRADEOFF_MODELS_DIR": str(repo / "models"), **extra}


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
