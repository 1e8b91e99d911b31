"""The pinning of torch's CPU kernels (tradeoff/numerics.py): what it sets, and when it stays out."""

import os
import platform
import subprocess
import sys

import pytest

from tradeoff.numerics import PINNED_ENV, gpu_visible, pin_cpu_numerics

x86 = pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"), reason="pins x86 kernels only")


@x86
def test_a_cpu_run_is_pinned_to_avx2_and_two_threads(tmp_path):
    env = {}
    assert pin_cpu_numerics(env, dev=tmp_path) == {**PINNED_ENV, "OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"}
    assert env["ATEN_CPU_CAPABILITY"] == "avx2" and env["MKL_CBWR"] == "AVX2,STRICT"


@x86
def test_what_the_user_set_is_kept(tmp_path):
    env = {"OMP_NUM_THREADS": "8", "ATEN_CPU_CAPABILITY": "default"}
    pinned = pin_cpu_numerics(env, dev=tmp_path)
    assert pinned["OMP_NUM_THREADS"] == "8" and pinned["ATEN_CPU_CAPABILITY"] == "default"


def test_a_gpu_run_is_left_alone(tmp_path):
    (tmp_path / "nvidia0").touch()
    env = {}
    assert gpu_visible(env, tmp_path)
    assert pin_cpu_numerics(env, dev=tmp_path) == {} and env == {}
    # hidden from torch, the GPU does not count
    assert not gpu_visible({"CUDA_VISIBLE_DEVICES": ""}, tmp_path)


@x86
def test_torch_follows_the_pinning_in_a_stage_process():
    """torch reads the variables once, at import: cli.run must set them before anything imports torch."""
    code = ("from tradeoff.numerics import pin_cpu_numerics; pin_cpu_numerics(); import torch; "
            "print(torch.backends.cpu.get_cpu_capability(), torch.get_num_threads())")
    env = {k: v for k, v in os.environ.items() if k not in (*PINNED_ENV, "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    env["CUDA_VISIBLE_DEVICES"] = ""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out.split() == ["AVX2", "2"]
