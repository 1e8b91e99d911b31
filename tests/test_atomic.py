"""A stage killed mid-write leaves the old output or none, never a partial one."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tradeoff import atomic

WRITER = """
import os, sys, time
from pathlib import Path
from tradeoff import atomic
target = Path(sys.argv[2])
if sys.argv[1] == "file":
    os.fsync = lambda fd: time.sleep(60)  # hold the process inside the write, after the bytes
    atomic.write_json(target, {"new": list(range(100000))})
else:
    with atomic.output_dir(target) as tmp:
        (tmp / "adapter_model.safetensors").write_bytes(b"x" * 1000)
        time.sleep(60)  # killed here: half an adapter folder exists, under a temporary name
"""


def _run_and_kill(kind, target, tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", WRITER, kind, str(target)], cwd=tmp_path)
    deadline = time.monotonic() + 60
    while not any(p.name.endswith(".tmp") for p in target.parent.iterdir()):
        assert time.monotonic() < deadline and proc.poll() is None, "writer never started"
        time.sleep(0.05)
    time.sleep(0.3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def test_killed_file_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "metrics" / "sql_base.json"
    atomic.write_json(target, {"old": 1})
    _run_and_kill("file", target, tmp_path)
    assert json.loads(target.read_text()) == {"old": 1}


def test_killed_file_write_leaves_no_file(tmp_path):
    target = tmp_path / "metrics" / "sql_base.json"
    target.parent.mkdir()
    _run_and_kill("file", target, tmp_path)
    assert not target.exists()


def test_killed_folder_write_keeps_the_old_folder(tmp_path):
    target = tmp_path / "adapters" / "exp1"
    target.mkdir(parents=True)
    (target / "adapter_config.json").write_text("{}")
    _run_and_kill("dir", target, tmp_path)
    assert sorted(p.name for p in target.iterdir()) == ["adapter_config.json"]


def test_failed_block_removes_its_temporary_folder(tmp_path):
    target = tmp_path / "out"
    with pytest.raises(RuntimeError):
        with atomic.output_dir(target) as tmp:
            (tmp / "half").write_text("x")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_outputs_take_the_umask_and_stale_temporary_folders_go(tmp_path):
    import os

    old = os.umask(0o022)
    try:
        atomic.write_text(tmp_path / "m.json", "{}")
        stale = tmp_path / ".prepared.abc123.tmp"
        (stale / "spider").mkdir(parents=True)  # what a prepare killed mid-copy leaves
        with atomic.output_dir(tmp_path / "prepared") as out:
            (out / "x").write_text("1")
    finally:
        os.umask(old)
    assert (tmp_path / "m.json").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "prepared").stat().st_mode & 0o777 == 0o755
    assert not stale.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "prepared"]
