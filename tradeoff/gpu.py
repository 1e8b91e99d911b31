"""One GPU per `dvc queue` worker.

`dvc queue start -j N` runs N experiments at once, each as ordinary stage processes that would
all pick GPU 0. With TRADEOFF_GPUS=0,1,2,3 in the environment, every stage process first takes
the lowest-numbered GPU that no other stage process holds (an exclusive file lock, released when
the process exits, even on kill -9) and sees only that GPU (CUDA_VISIBLE_DEVICES). Without the
variable nothing changes, so `accelerate launch` and single-GPU runs keep their own settings.
"""

from __future__ import annotations

import fcntl
import logging
import os
import tempfile
import time
from pathlib import Path

log = logging.getLogger(__name__)
_held = None  # the open lock file, kept for the life of the process


def claim_gpu(env: str = "TRADEOFF_GPUS", lock_dir: str | None = None, poll_s: float = 5.0) -> str | None:
    """Take a free GPU of those listed in $TRADEOFF_GPUS (waiting while all are busy); return its id."""
    global _held
    ids = [x.strip() for x in os.environ.get(env, "").split(",") if x.strip()]
    if not ids:
        return None
    folder = Path(lock_dir or tempfile.gettempdir())
    waited = False
    while True:
        for gpu in ids:
            f = open(folder / f"tradeoff-gpu-{gpu}.lock", "w")
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                f.close()
                continue
            _held = f
            os.environ["CUDA_VISIBLE_DEVICES"] = gpu
            log.info("using GPU %s (from %s=%s)", gpu, env, os.environ[env])
            return gpu
        if not waited:
            log.info("all GPUs in %s=%s are busy; waiting", env, os.environ[env])
            waited = True
        time.sleep(poll_s)
