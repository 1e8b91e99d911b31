"""LoRA supervised fine-tuning on Spider with TRL's SFTTrainer and PEFT.

Each example is a prompt-completion pair: the prompt comes from the same builder the evaluation
uses (schema + question in the model's chat template), the completion is the gold SQL. TRL
computes the loss on completion tokens only (`completion_only_loss`). Only the LoRA adapter is
saved, never a merged copy of the base model.

Checkpoints go to `checkpoints/<arm>/` (kept between runs, not a DVC output). A fingerprint of
the params, the base model and the training data sits beside them: a rerun with the same
fingerprint resumes from the last checkpoint, a changed one starts fresh.
"""

from __future__ import annotations

import hashlib
import json
import logging
import resource
import shutil
import time
from pathlib import Path

from . import TradeoffError, atomic
from .model.fit import check_target_modules
from .model.load import load_tokenizer, model_source, pick_dtype
from .spider import prompt
from .spider.data import database_path

log = logging.getLogger(__name__)


def sft_rows(tokenizer, examples: list[dict], spider_root: Path, sample_rows: int, max_prompt_tokens: int) -> list[dict]:
    rows = []
    for ex in examples:
        text, _ = prompt.build_prompt(tokenizer, database_path(spider_root, ex["db_id"]), ex["question"],
                                      sample_rows, max_prompt_tokens)
        rows.append({"prompt": text, "completion": ex["query"]})
    return rows


def fingerprint(settings: dict, rows: list[dict]) -> str:
    h = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for r in rows:
        h.update(r["prompt"].encode() + b"\0" + r["completion"].encode() + b"\0")
    return h.hexdigest()


def _quantization_config(kind: str):
    if kind == "none":
        return None
    import torch

    if not torch.cuda.is_available():
        raise TradeoffError(f"params.yaml: train.quantization={kind} needs a CUDA GPU (bitsandbytes); "
                            "this machine has none: set train.quantization=none")
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        raise TradeoffError(f"params.yaml: train.quantization={kind} needs bitsandbytes: "
                            "pip install -r requirements-gpu.txt") from None
    from transformers import BitsAndBytesConfig

    if kind == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                              bnb_4bit_compute_dtype=torch.bfloat16)


def _peak_memory_mb() -> float:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def curve_steps(max_steps: int, n: int) -> list[int]:
    """N evenly spaced steps ending at the last one (fewer when there are fewer steps)."""
    if n <= 0 or max_steps <= 0:
        return []
    return sorted({max(1, round(k * max_steps / n)) for k in range(1, n + 1)})


def saved_steps(folder: Path) -> list[tuple[int, Path]]:
    """(step, adapter folder) of every saved step, in order."""
    return sorted((int(p.name.split("-")[1]), p) for p in folder.glob("step-*") if (p / "adapter_config.json").is_file())


def write_steps_file(folder: Path) -> None:
    """An index of the saved steps; it also keeps the DVC output folder non-empty when the curve is off."""
    atomic.write_json(folder / "steps.json", [s for s, _ in saved_steps(folder)])


def _save_for_curve(folder: Path, n: int):
    """A callback that saves the LoRA adapter at n evenly spaced steps (for the curve stage)."""
    from transformers import TrainerCallback

    class SaveForCurve(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            self.steps = curve_steps(state.max_steps, n)

        def on_step_end(self, args, state, control, model=None, **kwargs):
            if state.global_step in self.steps and state.is_world_process_zero:
                with atomic.output_dir(folder / f"step-{state.global_step:05d}") as tmp:
                    model.save_pretrained(tmp)

    return SaveForCurve()


def trim_live_curves(live_dir: Path, last_step: int) -> None:
    """Drop the DVCLive curve rows logged after `last_step`, the checkpoint a resumed run restarts
    from, so that the resumed run does not log those steps twice."""
    for tsv in Path(live_dir, "plots", "metrics").rglob("*.tsv"):
        lines = tsv.read_text().splitlines(keepends=True)
        keep = lines[:1] + [line for line in lines[1:] if int(float(line.split("\t", 1)[0])) <= last_step]
        if len(keep) != len(lines):
            atomic.write_text(tsv, "".join(keep))


def sft_config(t: dict, lr: float, output_dir: Path, dtype, on_gpu: bool):
    """TRL's SFTConfig from the `train` params (one place, shared with bench/train_speed.py)."""
    import torch
    from trl import SFTConfig

    return SFTConfig(
        output_dir=str(output_dir),
        learning_rate=lr,
        max_steps=t["max_steps"],
        num_train_epochs=t["epochs"],
        per_device_train_batch_size=t["batch_size"],
        gradient_accumulation_steps=t["grad_accum"],
        lr_scheduler_type=t["scheduler"],
        warmup_steps=t["warmup_ratio"],  # a float < 1 is a ratio of the total steps
        weight_decay=t["weight_decay"],
        seed=t["seed"],
        data_seed=t["seed"],
        max_length=t["max_length"],
        # packing places whole examples into rows (best-fit decreasing) with no padding; the
        # attention mask is built from the position ids, so no example sees another
        packing=t["packing"],
        **checkpointing_arg(t["gradient_checkpointing"]),
        bf16=dtype == torch.bfloat16,
        fp16=dtype == torch.float16,
        logging_steps=t["logging_steps"],
        save_strategy="steps",
        save_steps=t["save_steps"],
        save_total_limit=2,
        report_to="none",
        completion_only_loss=True,
        # log a non-finite loss as it is (the default averages it away; the guard stops such a run anyway)
        logging_nan_inf_filter=False,
        include_num_input_tokens_seen="non_padding",
        dataloader_num_workers=0,
        use_cpu=not on_gpu,
    )


def checkpointing_arg(enabled: bool) -> dict:
    """transformers renamed `gradient_checkpointing` to `activation_checkpointing` (5.2x) and warns
    on the old name: pass the new one where it exists."""
    from trl import SFTConfig

    fields = SFTConfig.__dataclass_fields__
    return {"activation_checkpointing" if "activation_checkpointing" in fields else "gradient_checkpointing": enabled}


class Diverged(TradeoffError):
    """Training met a loss or gradient norm that is not finite; nothing was published."""


def _guarded_trainer(arm: str, **kwargs):
    """TRL's SFTTrainer that stops at the first optimizer step whose loss or gradient norm is not
    finite, with one line naming the step, before the optimizer applies it (so no NaN reaches the
    weights, and no adapter is written). transformers' Trainer would otherwise carry on: it filters
    non-finite losses out of its logged averages (`logging_nan_inf_filter`), so a diverged run
    logs a loss of 0.0 and ends "successfully"."""
    import math

    import torch
    from transformers import TrainerCallback
    from trl import SFTTrainer

    class GuardedSFTTrainer(SFTTrainer):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.step_losses = []  # this optimizer step's micro-batch losses, checked before the update

        def training_step(self, *args, **kw):
            loss = super().training_step(*args, **kw)
            self.step_losses.append(loss.detach())
            return loss

    class StopOnNonFinite(TrainerCallback):
        def on_pre_optimizer_step(self, args, state, control, model=None, **kw):
            loss = torch.stack(trainer.step_losses).sum()
            trainer.step_losses = []
            grads = [p.grad for p in model.parameters() if p.requires_grad and p.grad is not None]
            norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g.float()) for g in grads])) \
                if grads else torch.zeros(())
            loss_v, norm_v = loss.item(), norm.item()  # one sync per optimizer step: negligible
            if not (math.isfinite(loss_v) and math.isfinite(norm_v)):
                raise Diverged(f"training {arm} diverged at step {state.global_step + 1} of {state.max_steps}: "
                               f"loss {loss_v}, grad norm {norm_v}; stopped before the update, no adapter written")

    trainer = GuardedSFTTrainer(**kwargs)
    trainer.add_callback(StopOnNonFinite())
    return trainer


def _start_or_resume(arm: str, fp: str, settings: dict, ckpt_dir: Path, live_dir: Path | None,
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


def _base_model_and_lora(identity: dict, params: dict, on_gpu: bool):
    """The base model as training loads it, and the LoRA config to put on it."""
    import torch
    from peft import LoraConfig, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM

    t, lora = params["train"], params["lora"]
    quant = _quantization_config(t["quantization"])
    dtype = pick_dtype(params["model"]["dtype"])
    # on a CPU, half precision means float32 master weights under bf16 autocast (pure bf16 is slower there)
    load_dtype = dtype if on_gpu else torch.float32
    src, kw = model_source(identity)
    model = AutoModelForCausalLM.from_pretrained(src, dtype=load_dtype, quantization_config=quant,
                                                 attn_implementation=t["attn_implementation"], **kw)
    # the base is named as model.json names it, never by this machine's models cache: every adapter
    # saved (its config and model card) then holds the same bytes on every machine
    model.name_or_path = model.config._name_or_path = identity.get("dir", identity["name"])
    if quant is not None:
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=t["gradient_checkpointing"])
    check_target_modules(model, lora["target_modules"])
    peft_config = LoraConfig(r=lora["r"], lora_alpha=lora["alpha"], lora_dropout=lora["dropout"],
                             target_modules=lora["target_modules"], task_type="CAUSAL_LM")
    return model, peft_config


WALL_CLOCK_KEYS = ("runtime", "per_second")  # the Trainer's train_runtime, train_tokens_per_second, ...


def _callbacks(live_dir: Path | None, resume: str | None, curve_dir: Path | None, curve_points: int, process):
    """DVCLive curves (main process only) and the curve's adapter saves; and the Live handle to end."""
    callbacks, live = [], None
    if live_dir is not None and process.is_main_process:
        from dvclive import Live
        from transformers.integrations import DVCLiveCallback

        class StepAlignedDVCLive(DVCLiveCallback):
            """Curves indexed by the optimizer step rather than by the number of log calls."""

            def on_log(self, args, state, control, logs=None, **kwargs):
                if self.live is not None:
                    self.live.step = state.global_step
                # wall-clock figures differ on every run: they go to --speed, not to tracked curves
                logs = {k: v for k, v in (logs or {}).items() if not any(w in k for w in WALL_CLOCK_KEYS)}
                super().on_log(args, state, control, logs=logs, **kwargs)

        live = Live(dir=str(live_dir), save_dvc_exp=False, dvcyaml=None, resume=bool(resume))
        callbacks.append(StepAlignedDVCLive(live=live))
    if curve_dir is not None and curve_points > 0:
        callbacks.append(_save_for_curve(curve_dir, curve_points))
    return callbacks, live


def avoid_cudnn_attention() -> None:
    """Keep PyTorch's sdpa off its cuDNN kernel for training. On an H200 (torch 2.11, cuDNN 9) that
    kernel, which sdpa prefers there for the packed rows' block-diagonal mask, returned NaN
    gradients for a finite loss: Qwen2.5-Coder-0.5B's exp1 diverged at step 66 of 172 in every
    run, and replaying that step's batch from the same weights gave a NaN gradient norm with cuDNN
    and finite ones with the memory-efficient kernel, flex_attention and float32 (the TRL fused LM
    head and transformers 5.17 vs 5.24 made no difference): bench/recorded/2026-11-29-h200x2-nan/.
    sdpa then takes the memory-efficient (or flash) kernel, which trained that run to the end."""
    import torch

    if torch.cuda.is_available():
        torch.backends.cuda.enable_cudnn_sdp(False)


def build_trainer(identity: dict, tokenizer, rows: list[dict], params: dict, lr: float, arm: str, ckpt_dir: Path,
                  callbacks: list):
    """The guarded SFTTrainer of one arm, its model loaded and LoRA applied, ready to train."""
    import torch
    from datasets import Dataset

    avoid_cudnn_attention()
    on_gpu = torch.cuda.is_available()
    model, peft_config = _base_model_and_lora(identity, params, on_gpu)
    dtype = pick_dtype(params["model"]["dtype"])
    config = sft_config(params["train"], lr, ckpt_dir, dtype, on_gpu)
    if not on_gpu:
        score_only_completions_on_cpu()
    trainer = _guarded_trainer(arm, model=model, args=config, train_dataset=Dataset.from_list(rows),
                               processing_class=tokenizer, peft_config=peft_config, callbacks=callbacks)
    if not on_gpu and dtype == torch.bfloat16:
        store_frozen_linears_in_bf16(trainer.model)
    save_as_published(trainer.model, base_on_hub=identity["kind"] == "hub")
    return trainer


def save_as_published(model, base_on_hub: bool) -> None:
    """Make every save of this PEFT model (the Trainer's checkpoints, the curve's adapters, the final
    adapter) write the same bytes for the same adapter, and ask no hub about a base that is not on one:
    - `target_modules` is written sorted: PEFT resolves `all-linear` into a set and wrote it in the set's
      order, which follows Python's string-hash seed (other bytes, other DVC hashes, run to run);
    - for a bundled or local base, named by its models-cache folder rather than a hub id, PEFT's
      `save_embedding_layers="auto"` looked the name up on the hub to see whether training grew the
      vocabulary: a request that could only fail, at every checkpoint. Unless an embedding layer is a
      LoRA target the vocabulary is the base's, which PEFT concluded after the failed lookup anyway."""
    from peft.utils.constants import EMBEDDING_LAYER_NAMES

    save, configs = model.save_pretrained, list(model.peft_config.values())

    def save_pretrained(*args, **kwargs):
        as_resolved = [c.target_modules for c in configs]
        if not base_on_hub and not any(e in (c.target_modules or []) for c in configs for e in EMBEDDING_LAYER_NAMES):
            kwargs.setdefault("save_embedding_layers", False)
        try:
            for c in configs:
                if isinstance(c.target_modules, (set, frozenset)):
                    c.target_modules = sorted(c.target_modules)
            save(*args, **kwargs)
        finally:  # the live model keeps the set PEFT made
            for c, targets in zip(configs, as_resolved):
                c.target_modules = targets

    model.save_pretrained = save_pretrained


def score_only_completions_on_cpu() -> None:
    """TRL's fused LM head scores every position on devices without Triton (fixed tile shapes for
    compilers such as Neuron's), though completion-only loss masks the prompt positions out: on a
    CPU that was over half of each step's profile. Score only the completion tokens there, as TRL
    does on a GPU (the same per-token log-probabilities)."""
    from trl.trainer import utils as trl_utils

    triton = trl_utils._use_triton
    if not getattr(triton, "tradeoff_cpu", False):
        def compact(device):
            return device.type == "cpu" or triton(device)

        compact.tradeoff_cpu = True
        trl_utils._use_triton = compact


def store_frozen_linears_in_bf16(model) -> None:
    """Under bf16 autocast on a CPU every frozen linear weight was cast from float32 to bf16 at each
    use; store it in bf16 once instead. The matmuls see the same bf16 values (autocast rounds the
    same way), so training is unchanged, only faster. LoRA weights, norms and the embedding stay
    float32. A frozen LM head gets its own bf16 copy even when it shares the embedding's weight:
    TRL's fused head casts its weight chunk by chunk three times a step (15% of a step on SmolLM2,
    whose head is a 49,152 x 576 matrix), and the embedding lookup keeps reading float32."""
    import torch

    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) and not module.weight.requires_grad and "lm_head" not in name:
            module.weight.data = module.weight.data.to(torch.bfloat16)
            if module.bias is not None:
                module.bias.data = module.bias.data.to(torch.bfloat16)
    head = model.get_output_embeddings()
    if head is not None and not head.weight.requires_grad and head.weight.dtype == torch.float32:
        head.weight = torch.nn.Parameter(head.weight.detach().to(torch.bfloat16), requires_grad=False)


def _train_metrics(trainer, arm: str, lr: float, rows: list[dict], trainable: int, params: dict, tokenizer,
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
        "dtype": str(pick_dtype(params["model"]["dtype"])).replace("torch.", ""),
        "quantization": params["train"]["quantization"],
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


def train_arm(identity: dict, examples: list[dict], spider_root: Path, params: dict, lr: float, arm: str,
              adapter_dir: Path, metrics_path: Path, speed_path: Path, checkpoints_root: Path = Path("checkpoints"),
              live_dir: Path | None = None, curve_dir: Path | None = None, curve_points: int = 0) -> dict:
    """Train one LoRA arm; write its adapter, its train metrics and its speed figures atomically.
    A run whose loss or gradient norm stops being finite raises `Diverged` and writes none of them."""
    import torch
    from accelerate import PartialState
    from transformers import set_seed

    t = params["train"]
    _quantization_config(t["quantization"])  # fail before any work when it cannot run here
    set_seed(t["seed"])
    tokenizer = load_tokenizer(identity)
    if t["max_train_examples"]:
        examples = examples[: t["max_train_examples"]]
    rows = sft_rows(tokenizer, examples, spider_root, params["prompt"]["sample_rows"],
                    params["prompt"]["max_prompt_tokens"])

    # 1. resume an interrupted run of the same settings, or start afresh
    settings = {"lr": lr, "lora": params["lora"], "train": t,
                "model": identity.get("sha256") or identity.get("revision"),
                "dtype": params["model"]["dtype"], "curve_points": curve_points}
    fp = fingerprint(settings, rows)
    ckpt_dir = checkpoints_root / arm
    # under `accelerate launch` (data parallel) every process runs this; one of them does the files
    process = PartialState(cpu=not torch.cuda.is_available())  # the same state the Trainer will use
    resume, tokens_before = _start_or_resume(arm, fp, settings, ckpt_dir, live_dir, curve_dir, process)

    # 2. the model with LoRA, in a trainer that stops on a non-finite loss or gradient
    callbacks, live = _callbacks(live_dir, resume, curve_dir, curve_points, process)
    trainer = build_trainer(identity, tokenizer, rows, params, lr, arm, ckpt_dir, callbacks)
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

    # 4. publish: the adapter, then what it learned and what it cost
    with atomic.output_dir(adapter_dir) as tmp:
        trainer.model.save_pretrained(tmp)
    if curve_dir is not None:
        curve_dir.mkdir(parents=True, exist_ok=True)
        write_steps_file(curve_dir)
    atomic.write_json(ckpt_dir / "fingerprint.json", {"fingerprint": fp, "settings": settings, "finished": True})
    metrics = _train_metrics(trainer, arm, lr, rows, trainable, params, tokenizer, result)
    speed = _speed(metrics["tokens_seen"], tokens_before, wall, process, resume)
    atomic.write_json(metrics_path, metrics)
    atomic.write_json(speed_path, speed)
    return {**metrics, **speed}
