"""The model that training fine-tunes: the base model, quantized for QLoRA or not, and the LoRA
config to put on it (TRL applies it), or none for an arm of method `full` (every weight trains)."""

from __future__ import annotations

import logging

from .. import TradeoffError
from ..compat import name_base_model
from ..config import Params
from ..model.fit import check_target_modules
from ..model.load import cpu_has_bf16, model_source, pick_dtype

log = logging.getLogger(__name__)


def quantization_config(kind: str):
    """bitsandbytes' config for train.quantization (none, 8bit, 4bit: QLoRA's nf4)."""
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


def weights_dtype(dtype, on_gpu: bool, method: str):
    """The dtype training holds the model's weights in; `dtype` is the compute dtype (model.dtype).
    Half precision means float32 master weights under autocast where weights train: on a CPU always
    (pure bf16 is slower there), and for method `full` on a GPU too, since AdamW's steps at a full
    fine-tuning rate (1e-5 of a weight) are below half a bf16 ulp (2^-9) and would round away. A
    LoRA arm's frozen base stays in half precision on a GPU; PEFT keeps its adapter in float32."""
    import torch

    if not on_gpu or method == "full":
        return torch.float32
    return dtype


def base_model_and_lora(identity: dict, params: Params, on_gpu: bool, method: str = "lora"):
    """The base model as training loads it, and the LoRA config to put on it (None for method
    `full`: every weight of the model trains). `params`: an arm's (Params.arm(name).params)."""
    import torch
    from peft import LoraConfig, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM

    t, lora = params.train, params.lora
    quant = quantization_config(t.quantization)
    dtype = pick_dtype(params.model.dtype)
    load_dtype = weights_dtype(dtype, on_gpu, method)
    if not on_gpu and dtype == torch.bfloat16 and not cpu_has_bf16():
        log.warning("model.dtype=bfloat16 on a CPU without bf16 instructions (no avx512_bf16 or amx_bf16 in "
                    "/proc/cpuinfo): training runs a slow fallback, about 50x slower; model.dtype: float32 is "
                    "faster here but gives other numbers than the committed metrics")
    src, kw = model_source(identity)
    model = AutoModelForCausalLM.from_pretrained(src, dtype=load_dtype, quantization_config=quant,
                                                 attn_implementation=t.attn_implementation, **kw)
    # the base is named as model.json names it, never by this machine's models cache: every adapter
    # saved (its config and model card) then holds the same bytes on every machine
    name_base_model(model, identity.get("dir", identity["name"]))
    if method == "full":
        if quant is not None:  # parse_params refuses it; a hand-made Params gets the same answer
            raise TradeoffError("params.yaml: method full trains every weight; train.quantization must be none")
        return model, None
    if quant is not None:
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=t.gradient_checkpointing)
    # PEFT reads a list of module names (its config, saved with the adapter, writes it as given)
    targets = lora.target_modules if isinstance(lora.target_modules, str) else list(lora.target_modules)
    check_target_modules(model, targets)
    peft_config = LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout, target_modules=targets,
                             task_type="CAUSAL_LM")
    return model, peft_config
