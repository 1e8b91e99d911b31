"""Float32 bits that do not depend on the x86 CPU's instruction set: pin the kernels torch picks.

torch's own kernels (softmax, norms, reductions) are chosen at run time by the CPU's widest vector
instructions (AVX2, AVX-512), and MKL's matrix products likewise; a wider vector sums in another
order, so the same run gives other last bits on another CPU, and after 40 training steps other
metrics. Pinned to AVX2 (which every x86 CPU of the last ten years has) with MKL's conditional
numerical reproducibility mode and a fixed thread count, the instruction set no longer picks the
kernels (bench/cpu_fingerprint.py shows, on one CPU, that each of torch's and MKL's choices alone
changes the bits, and compares two CPUs). Applies to CPU runs only and must run before torch is
imported: torch and MKL read these variables once. A variable the user already set is kept.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

# torch's kernel dispatch, MKL's code path (STRICT: the same bits whatever the alignment), oneDNN's
PINNED_ENV = {
    "ATEN_CPU_CAPABILITY": "avx2",
    "MKL_CBWR": "AVX2,STRICT",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
}
CPU_THREADS = 2  # the reference machine's cores; a reduction split over more threads may sum in another order


def gpu_visible(env=os.environ, dev: Path = Path("/dev")) -> bool:
    """Whether torch may find an NVIDIA GPU here (checked without importing torch)."""
    if env.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    return any(dev.glob("nvidia[0-9]*"))


def pin_cpu_numerics(env=os.environ, dev: Path = Path("/dev")) -> dict[str, str]:
    """On an x86 machine that computes on its CPU, set the pinning variables (those not already
    set); returns what is in force. A GPU run is left alone: its CPU does no model arithmetic."""
    if platform.machine().lower() not in ("x86_64", "amd64") or gpu_visible(env, dev):
        return {}
    for key, value in PINNED_ENV.items():
        env.setdefault(key, value)
    env.setdefault("OMP_NUM_THREADS", str(CPU_THREADS))
    env.setdefault("MKL_NUM_THREADS", str(CPU_THREADS))
    return {key: env[key] for key in (*PINNED_ENV, "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
