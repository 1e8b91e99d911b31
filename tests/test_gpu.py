"""One GPU per dvc queue worker: concurrent stage processes take different GPUs."""

import subprocess
import sys
import time

CLAIM = ("import os, sys, time; from tradeoff.gpu import claim_gpu; "
         "g = claim_gpu(lock_dir=sys.argv[1], poll_s=0.1); print(g, os.environ['CUDA_VISIBLE_DEVICES'], flush=True); "
         "time.sleep(float(sys.argv[2]))")


def start(tmp_path, hold, gpus="0,1"):
    env = {"PATH": "/usr/bin:/bin", "TRADEOFF_GPUS": gpus}
    return subprocess.Popen([sys.executable, "-c", CLAIM, str(tmp_path), str(hold)], stdout=subprocess.PIPE,
                            text=True, env=env)


def test_workers_take_different_gpus_and_wait_when_all_are_busy(tmp_path):
    first = start(tmp_path, 3)
    assert first.stdout.readline().split() == ["0", "0"]
    second = start(tmp_path, 6)
    assert second.stdout.readline().split() == ["1", "1"]
    t = time.monotonic()
    third = start(tmp_path, 0)  # both busy: waits until the first exits
    assert third.stdout.readline().split() == ["0", "0"]
    assert time.monotonic() - t > 1
    for p in (first, second, third):
        p.wait(timeout=10)


def test_without_the_variable_nothing_changes(monkeypatch):
    from tradeoff.gpu import claim_gpu

    monkeypatch.delenv("TRADEOFF_GPUS", raising=False)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    assert claim_gpu() is None
    import os

    assert os.environ["CUDA_VISIBLE_DEVICES"] == "3"
