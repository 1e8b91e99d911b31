"""Whether the params fit the base model: LoRA's rank and target modules, and the lengths against
the model's context. Checked before DVC deletes any stage's outputs, never after.

`check_params` (the first stage) checks them whenever the model's config.json is on this machine
without a network or a conversion (a bundled model converted before, a local folder, a hub model in
the local hub cache); otherwise `prepare`, the first stage that obtains the model, checks them
right after obtaining it, before it writes anything.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from .. import TradeoffError, read_text
from ..config import Params
from .obtain import BUNDLED, default_models_dir, model_path

log = logging.getLogger(__name__)

CONTEXT_KEYS = ("max_position_embeddings", "n_positions", "n_ctx", "seq_length")
HIDDEN_KEYS = ("hidden_size", "n_embd", "d_model")


def config_folder(name: str) -> Path | None:
    """The folder holding the config.json of model `name` (as params.yaml gives it) when this
    machine has it already, without a network or a conversion; None otherwise."""
    if name in BUNDLED:  # every conversion of a bundled model has the same architecture
        found = sorted(default_models_dir().glob(f"{BUNDLED[name]['dir']}-*/config.json"))
        return found[0].parent if found else None
    path = Path(name).expanduser()
    if path.is_dir():
        return path if (path / "config.json").is_file() else None
    if name.count("/") == 1:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(name, "config.json")
        return Path(cached).parent if isinstance(cached, str) else None
    return None


def obtained_config_folder(identity: dict, setting: str) -> Path:
    """The folder of the config.json of the model `obtain.resolve` just identified (a hub model's is
    downloaded: resolving it has just reached the hub)."""
    if identity["kind"] != "hub" or identity["path"] != identity["name"]:
        return Path(model_path(identity))
    from huggingface_hub import hf_hub_download

    try:
        return Path(hf_hub_download(identity["name"], "config.json", revision=identity["revision"])).parent
    except Exception as e:  # the hub client raises many kinds; all mean the file cannot be had here
        raise TradeoffError(f"{setting}={identity['name']!r}: cannot download its config.json "
                            f"({type(e).__name__}); give a local checkpoint folder instead") from None


def _read_config(path: Path) -> dict:
    try:
        config = json.loads(read_text(path))
    except json.JSONDecodeError as e:
        raise TradeoffError(f"{path}: not valid JSON ({e.msg} at line {e.lineno})") from None
    if not isinstance(config, dict):
        raise TradeoffError(f"{path}: not a model config (a JSON object)")
    return config


def _first(config: dict, keys: tuple[str, ...]) -> int | None:
    text = config.get("text_config") or config  # a multimodal model's language part
    return next((text[k] for k in keys if isinstance(text.get(k), int)), None)


def check(params: Params, folder: Path, source) -> None:
    """Refuse params the model in `folder` cannot train or run with, naming `source` (the params file)."""
    config = _read_config(folder / "config.json")
    hidden, context = _first(config, HIDDEN_KEYS), _first(config, CONTEXT_KEYS)
    # every linear layer of a transformer has the hidden size on one side: no update has a higher rank
    ranks = [("lora.r", params.lora.r)] + [(f"arms.{name}.lora_r", arm.lora_r) for name, arm in params.arms.items()
                                           if arm.lora_r is not None]
    for key, r in ranks:
        if hidden is not None and r > hidden:
            raise TradeoffError(f"{source}: {key} = {r} is larger than the hidden size of the model ({hidden}), the "
                                f"highest rank a LoRA update of its layers can have; use {key} <= {hidden}")
    if context is not None:
        check_lengths(params, context, source)
    targets = params.lora.target_modules
    if targets != "all-linear":
        check_target_modules(meta_model(folder), targets, source)
    log.info("the params fit the base model (%s: hidden size %s, context %s tokens)", folder.name, hidden, context)


def check_lengths(params: Params, context: int, source) -> None:
    """Every length in tokens within the model's context: a training row, a prompt, a prompt and its reply."""
    prompt, new = params.prompt.max_prompt_tokens, params.eval_sql.max_new_tokens
    lengths = {"train.max_length": params.train.max_length, "prompt.max_prompt_tokens": prompt,
               "eval_sql.max_new_tokens": new, "prompt.max_prompt_tokens + eval_sql.max_new_tokens": prompt + new}
    for what, tokens in lengths.items():
        if tokens > context:
            raise TradeoffError(f"{source}: {what} = {tokens} tokens is more than the model's context of "
                                f"{context} tokens; keep it within {context}")


def meta_model(folder: Path):
    """The model's modules without its weights (on PyTorch's meta device): enough to list them."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    try:
        with torch.device("meta"):
            return AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(folder))
    except Exception as e:  # noqa: BLE001: what training's loading would meet too
        first = (str(e).strip().splitlines() or [""])[0][:200]
        raise TradeoffError(f"{folder}: transformers cannot build a causal LM from its config.json "
                            f"({type(e).__name__}: {first})") from None


def check_target_modules(model, targets, source="params.yaml") -> None:
    """Refuse LoRA target modules that the model does not have."""
    if targets == "all-linear":
        return
    import torch

    names = sorted({n.rsplit(".", 1)[-1] for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)})
    missing = [t for t in targets if t not in names]
    if missing:
        raise TradeoffError(f"{source}: lora.target_modules {missing} are not modules of this model; "
                            f"its linear modules are {names} (or use all-linear)")
