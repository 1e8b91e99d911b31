"""Where a command's time goes: seconds per named phase (load, prompts, forward, SQL, ...), summed
over repeats and logged once at the end. Logged, never written to metrics: timings differ on every
run and machine, metrics must not."""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from contextlib import contextmanager

_seconds: dict[str, float] = defaultdict(float)


@contextmanager
def phase(name: str):
    """Add the seconds spent inside this block to phase `name`. Work queued on a GPU counts where
    the host waits for it (a copy to the host, a sync), so put those inside the phase they finish."""
    start = time.perf_counter()
    try:
        yield
    finally:
        _seconds[name] += time.perf_counter() - start


def log_phases(log: logging.Logger, what: str) -> None:
    """Log the phases timed so far, largest first, and forget them."""
    parts = sorted(_seconds.items(), key=lambda kv: -kv[1])
    log.info("%s: %s", what, ", ".join(f"{name} {s:.1f} s" for name, s in parts) or "no phase timed")
    _seconds.clear()


def seconds() -> dict[str, float]:
    """The phases timed so far (a copy)."""
    return dict(_seconds)
