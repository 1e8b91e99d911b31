"""One arm's training from start to end: the rows, resume or start, the trainer, train, publish.
A LoRA arm saves only its adapter, never a merged copy of the base model; a `full` arm saves the
whole fine-tuned model in the adapter's place."""

from __future__ import annotations

import resource
import time
from pathlib import Path

from dataclasses import dataclass

from .. import atomic
from ..config import Params
from ..curve_steps import write_steps_file
from ..model.load import load_tokenizer, pick_dtype
from ..spider import prompt
from .callbacks import train_callbacks
from .data import sft_rows
from .model import quantization_config
from .resume import fingerprint, mark_finished, start_or_resume
from .trainer import build_trainer


@dataclass(frozen=True)
class ArmOutputs:
    """Where one arm's training writes: the adapter (the whole model for method `full`), the train metrics, the speed figures, the
    DVCLive curves (None: none) and the curve's adapters (None: none); checkpoints to resume from."""

    adapter: Path
    metrics: Path
    speed: Path
    live: Path | None = None
    curve: Path | None = None
    checkpoints_root: Path = Path("checkpoints")


def train_arm(params: Params, arm: str, identity: dict, examples: list[dict], spider_root: Path,
              out: ArmOutputs) -> dict:
    """Train arm `arm` of params.arms (its own fields over the shared sections: Params.arm); write
    its adapter (method `full`: the whole model), its train metrics and its speed figures
    atomically. A run whose loss or gradient norm stops being finite raises `Diverged` and writes
    none of them."""
    import torch
    from accelerate import PartialState
    from transformers import set_seed

    resolved = params.arm(arm)
    params = resolved.params  # lora and train as this arm has them
    lr, method, curve_points, t = resolved.lr, resolved.method, params.curve.checkpoints, params.train
    quantization_config(t.quantization)  # fail before any work when it cannot run here
    set_seed(t.seed)
    tokenizer = load_tokenizer(identity)
    if t.max_train_examples:
        examples = examples[: t.max_train_examples]
    rows = sft_rows(tokenizer, examples, spider_root, params.prompt.sample_rows, params.prompt.max_prompt_tokens)

    # 1. resume an interrupted run of the same settings, or start afresh
    settings = _run_settings(params, identity, lr, method, curve_points)
    fp = fingerprint(settings, rows)
    ckpt_dir = out.checkpoints_root / arm
    # under `accelerate launch` (data parallel) every process runs this; one of them does the files
    process = PartialState(cpu=not torch.cuda.is_available())  # the same state the Trainer will use
    resume, tokens_before = start_or_resume(arm, fp, settings, ckpt_dir, out.live, out.curve, process)

    # 2. the model with LoRA (or every weight trainable), in a trainer that stops on a non-finite loss or gradient
    callbacks, live = train_callbacks(out.live, resume, out.curve, curve_points, process)
    trainer = build_trainer(identity, tokenizer, rows, params, lr, arm, ckpt_dir, callbacks, method)
    trainable = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)

    # 3. train
    start = time.monotonic()
    try:
        result = trainer.train(resume_from_checkpoint=resume)
    finally:
        if live is not None:
            live.end()
    wall = time.monotonic() - start
    if not trainer.accelerator.is_main_process:
        return {}

    # 4. publish: the adapter (or the whole model), then what it learned and what it cost
    with atomic.output_dir(out.adapter) as tmp:
        trainer.model.save_pretrained(tmp)
    if out.curve is not None:
        out.curve.mkdir(parents=True, exist_ok=True)
        write_steps_file(out.curve)
    mark_finished(ckpt_dir, fp, settings)
    metrics = _train_metrics(trainer, arm, lr, rows, trainable, params, tokenizer, result)
    speed = _speed(metrics["tokens_seen"], tokens_before, wall, process, resume)
    atomic.write_json(out.metrics, metrics)
    atomic.write_json(out.speed, speed)
    return {**metrics, **speed}


def _run_settings(params: Params, identity: dict, lr: float, method: str, curve_points: int) -> dict:
    """What a run's fingerprint covers: the settings as the file gives them (mappings), so that the
    fingerprint of a run is what it was before typed params (and, for a LoRA arm, before methods)."""
    as_file = params.to_dict()
    settings = {"lr": lr, "lora": as_file["lora"], "train": as_file["train"],
                "model": identity.get("sha256") or identity.get("revision"),
                "dtype": params.model.dtype, "curve_points": curve_points}
    if method != "lora":
        settings["method"] = method
    return settings


def _train_metrics(trainer, arm: str, lr: float, rows: list[dict], trainable: int, params: Params, tokenizer,
                   result) -> dict:
    """What training learned (reproducible on one machine)."""
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    return {
        "arm": arm,
        "lr": lr,
        "steps": trainer.state.global_step,
        "final_loss": losses[-1] if losses else None,
        # mean of the logged losses (the log survives a resume; result.training_loss would only
        # cover the steps of this process)
        "train_loss": sum(losses) / len(losses) if losses else result.training_loss,
        "tokens_seen": int(trainer.state.num_input_tokens_seen),
        "trainable_params": trainable,
        "examples": len(rows),
        "chat_template": "model" if prompt.uses_chat_template(tokenizer) else "plain fallback",
        "dtype": str(pick_dtype(params.model.dtype)).replace("torch.", ""),
        "quantization": params.train.quantization,
    }


def _speed(tokens: int, tokens_before: int, wall: float, process, resume: str | None) -> dict:
    """How fast it went (never reproducible)."""
    import torch

    return {
        "tokens_per_s": (tokens - tokens_before) / wall if wall > 0 else None,  # this process's work
        "wall_s": round(wall, 1),
        "peak_memory_mb": round(_peak_memory_mb(), 1),
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
        "processes": process.num_processes,
        "resumed_from": Path(resume).name if resume else None,
    }


def _peak_memory_mb() -> float:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
