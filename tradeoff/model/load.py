"""Loading the base model that `model.obtain` identified: dtype, tokenizer padding, and an optional
LoRA adapter, or in its place a fully fine-tuned model (an arm of method `full`); refused when its
weights are not all finite."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from .. import TradeoffError, read_text
from .obtain import model_path

log = logging.getLogger(__name__)


def model_source(identity: dict) -> tuple[str, dict]:
    """What to pass to from_pretrained: the path or repo, and the pinned revision. A bundled model
    converted by `prepare` must still be there: loading never converts."""
    if identity["kind"] == "bundled" and not model_path(identity).is_dir():
        raise TradeoffError(f"{model_path(identity)}: the converted base model is missing (models cache cleaned?); "
                            "run the prepare stage again (`dvc repro --force prepare`) to convert it")
    if identity["kind"] == "hub" and identity["path"] == identity["name"]:
        return identity["name"], {"revision": identity["revision"]}
    return str(model_path(identity)), {}


def pick_dtype(setting: str):
    """`auto`: bfloat16 on a GPU that supports it, float32 otherwise."""
    import torch

    if setting == "auto":
        return torch.bfloat16 if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else torch.float32
    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[setting]


def cpu_has_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether this CPU has bf16 instructions (AVX512-BF16 or AMX). Without them torch runs bf16
    matmuls in a slow fallback: 65x slower than float32 on an AVX2-only Xeon (2026-12-07)."""
    try:
        with open(cpuinfo) as f:
            flags = next((line for line in f if line.startswith("flags")), "").split()
    except OSError:
        return True  # not Linux: nothing to tell
    return "avx512_bf16" in flags or "amx_bf16" in flags


def load_tokenizer(identity: dict, padding_side: str = "right"):
    from transformers import AutoTokenizer

    src, kw = model_source(identity)
    tok = AutoTokenizer.from_pretrained(src, **kw)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    tok.padding_side = padding_side
    return tok


def is_full_model(folder: str | Path) -> bool:
    """Whether an arm's folder holds a whole fine-tuned model (method `full`), not a LoRA adapter."""
    return not (Path(folder) / "adapter_config.json").is_file() and (Path(folder) / "config.json").is_file()


def load_model(identity: dict, dtype: str = "auto", adapter: str | Path | None = None, device: str | None = None):
    """The base model in eval mode, with a LoRA adapter applied when given; when `adapter` is the
    folder of a fully fine-tuned model (method `full`), that model instead of the base (the
    tokenizer stays the base's).

    On a CPU the model is always loaded in float32, whatever `dtype` says: half precision is
    slower there and its scores would differ from the GPU's bf16 ones anyway."""
    import torch
    from transformers import AutoModelForCausalLM

    src, kw = model_source(identity)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    torch_dtype = pick_dtype(dtype) if device != "cpu" else torch.float32
    if device == "cpu" and dtype not in ("auto", "float32"):
        log.info("evaluating on the CPU in float32 (model.dtype=%s applies on a GPU)", dtype)
    if adapter is not None and is_full_model(adapter):
        try:
            model = AutoModelForCausalLM.from_pretrained(str(adapter), dtype=torch_dtype).to(device)
        except Exception as e:  # noqa: BLE001: a damaged model folder breaks in many ways
            first = (str(e).strip().splitlines() or [""])[0][:200]
            raise TradeoffError(f"{adapter}: cannot load this fine-tuned model ({type(e).__name__}: {first}); "
                                "is a file truncated? retrain it") from None
        refuse_non_finite(model, adapter, every=True)
        model.eval()
        return model
    model = AutoModelForCausalLM.from_pretrained(src, dtype=torch_dtype, **kw).to(device)
    if adapter is not None:
        from peft import PeftModel

        if not (Path(adapter) / "adapter_config.json").is_file():
            raise TradeoffError(f"{adapter}: neither a LoRA adapter folder (no adapter_config.json) nor a fine-tuned "
                                "model (no config.json)")
        try:
            model = PeftModel.from_pretrained(model, str(adapter)).to(device)
        except Exception as e:  # noqa: BLE001: a foreign or damaged adapter breaks in many ways
            first = (str(e).strip().splitlines() or [""])[0][:200]
            raise TradeoffError(f"{adapter}: cannot apply this adapter to the base model ({type(e).__name__}: {first}); "
                                "was it trained on another base model, or is a file truncated? retrain it") from None
        refuse_non_finite(model, adapter)
    model.eval()
    if adapter is not None:  # on a half-precision base: PEFT's numbers in fewer passes (float32 merges later)
        from .inplace_lora import use_inplace_lora

        use_inplace_lora(model)
    return model


def refuse_non_finite(model, adapter: str | Path, every: bool = False) -> None:
    """Stop on an adapter (every=True: a whole fine-tuned model) whose weights are not all finite:
    the training that wrote it diverged, and such a model answers `!!!!` (token 0 of NaN logits),
    which must never become a score."""
    import torch

    for name, p in model.named_parameters():
        if (every or "lora_" in name) and not torch.isfinite(p).all():
            bad = int((~torch.isfinite(p)).sum())
            raise TradeoffError(f"{adapter}: the adapter's weights are not all finite ({bad:,} NaN/inf values in "
                                f"{name}); the training that wrote it diverged: retrain it")


def merged_copy(model):
    """A copy of a PEFT model with its LoRA adapter merged into the weights (the model itself and
    the stored adapter stay as they are); any other model as it is."""
    import copy

    if not hasattr(model, "merge_and_unload"):
        return model
    return copy.deepcopy(model).merge_and_unload()


def merged_where_exact(model):
    """What an evaluation runs: in float32 an arm's adapter merged into a copy of the weights (one
    matrix per layer, faster; the same logits to ~1e-6); in half precision the model as it is, the
    adapter apart, as `generate` and training run it. A merge there rounds every merged weight again
    and drops each update smaller than half its last bit: 13-86% of our arms' updated elements, twice
    the logits' distance from float32 for the embedded exp1 (bench/merge_fidelity.py)."""
    import torch

    if hasattr(model, "merge_and_unload") and model.get_base_model().dtype == torch.float32:
        return merged_copy(model)
    return model


def load_for_eval(identity: dict, dtype: str, adapter: str | Path | None = None):
    """(model, tokenizer) as every evaluation uses them."""
    return load_model(identity, dtype, adapter), load_tokenizer(identity)


def load_prepared(model_json: str | Path, dtype: str, adapter: str | Path | None = None):
    """(model, tokenizer) of the base model that `prepare` recorded in `model_json`, with the
    adapter when given: what every evaluation stage scores."""
    identity = read_identity(model_json)
    return load_for_eval(identity, dtype, adapter)


def read_identity(model_json: str | Path) -> dict:
    """The base model's identity that `prepare` wrote."""
    path = Path(model_json)
    if not path.is_file():
        raise TradeoffError(f"{path}: not there; run the prepare stage first (dvc repro does)")
    return json.loads(read_text(path))
