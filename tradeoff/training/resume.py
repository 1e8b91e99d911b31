"""Resuming an interrupted run. Checkpoints go to `checkpoints/<arm>/` (kept between runs, not a
DVC output) with a fingerprint of the params, the base model and the training rows beside them: a
rerun with the same fingerprint resumes from the last checkpoint, a changed one starts fresh."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path

from .. import atomic

log = logging.getLogger(__name__)


def fingerprint(settings: dict, rows: list[dict]) -> str:
    h = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for r in rows:
        h.update(r["prompt"].encode() + b"\0" + r["completion"].encode() + b"\0")
    return h.hexdigest()


def trim_live_curves(live_dir: Path, last_step: int) -> None:
    """Drop the DVCLive curve rows logged after `last_step`, the checkpoint a resumed run restarts
    from, so that the resumed run does not log those steps twice."""
    for tsv in Path(live_dir, "plots", "metrics").rglob("*.tsv"):
        lines = tsv.read_text().splitlines(keepends=True)
        keep = lines[:1] + [line for line in lines[1:] if int(float(line.split("\t", 1)[0])) <= last_step]
        if len(keep) != len(lines):
            atomic.write_text(tsv, "".join(keep))


def start_or_resume(arm: str, fp: str, settings: dict, ckpt_dir: Path, live_dir: Path | None,
                    curve_dir: Path | None, process) -> tuple[str | None, int]:
    """Resume an interrupted run of the very same settings, else start afresh (the main process
    clears the old checkpoints and curve adapters). Returns the checkpoint to resume from and the
    tokens it had seen."""
    from transformers.trainer_utils import get_last_checkpoint

    fp_file = ckpt_dir / "fingerprint.json"
    previous = json.loads(fp_file.read_text()) if fp_file.is_file() else {}
    resume = None
    # a finished run is rerun from scratch
    if previous.get("fingerprint") == fp and not previous.get("finished"):
        resume = get_last_checkpoint(str(ckpt_dir))
    tokens_before = 0  # read now: save_total_limit deletes this checkpoint during training
    if resume:
        log.info("resuming %s from %s (same params and data as the interrupted run)", arm, resume)
        state = json.loads((Path(resume) / "trainer_state.json").read_text())
        tokens_before = int(state.get("num_input_tokens_seen", 0))
        if live_dir is not None and process.is_main_process:
            trim_live_curves(live_dir, int(state["global_step"]))
    elif process.is_main_process:
        if ckpt_dir.exists():
            log.info("starting %s afresh (%s)", arm, "the last run finished" if previous.get("fingerprint") == fp
                     else "params or data changed")
            shutil.rmtree(ckpt_dir)
        if curve_dir is not None and curve_dir.exists():
            shutil.rmtree(curve_dir)
        atomic.write_json(fp_file, {"fingerprint": fp, "settings": settings, "finished": False})
    process.wait_for_everyone()
    return resume, tokens_before


def mark_finished(ckpt_dir: Path, fp: str, settings: dict) -> None:
    """A finished run's fingerprint: the next run with the same settings starts afresh."""
    atomic.write_json(ckpt_dir / "fingerprint.json", {"fingerprint": fp, "settings": settings, "finished": True})
