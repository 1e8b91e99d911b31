"""Every place where the project works around a library's behaviour, one small function each.

Each docstring says why, the library version it was written for, and what breaks without it;
tests/test_compat.py has, for each, a test that fails when the library changes that behaviour (the
workaround may then be dead, or broken). Heavy libraries are imported inside the functions, so that
importing this module costs nothing.
"""

from __future__ import annotations

import contextlib
import functools


def checkpointing_arg(enabled: bool) -> dict:
    """The SFTConfig keyword for gradient checkpointing. transformers 5.2x (5.24 here, with TRL 1.16)
    renamed `gradient_checkpointing` to `activation_checkpointing` and warns on the old name; older
    versions know only the old one. Without this the config either warns at every run or, on an
    older transformers, refuses the new name."""
    from trl import SFTConfig

    fields = SFTConfig.__dataclass_fields__
    return {"activation_checkpointing" if "activation_checkpointing" in fields else "gradient_checkpointing": enabled}


def name_base_model(model, name: str) -> None:
    """Name the loaded base model `name` (as model.json names it) instead of the folder it was
    loaded from. transformers 5.24 keeps the load path in `config._name_or_path` (private) and
    `name_or_path`; PEFT 0.21 copies it into every adapter's config and model card. Without this an
    adapter holds this machine's models-cache path: other bytes, another DVC hash, on every machine."""
    model.name_or_path = model.config._name_or_path = name


def save_adapters_reproducibly(model, base_on_hub: bool) -> None:
    """Make every save of this PEFT model (the Trainer's checkpoints, the curve's adapters, the final
    adapter) write the same bytes for the same adapter, and ask no hub about a base that is not on one,
    by wrapping `save_pretrained` on this instance (PEFT 0.21.2):
    - `target_modules` is written sorted: PEFT resolves `all-linear` into a set and writes it in the set's
      order, which follows Python's string-hash seed (other bytes, other DVC hashes, run to run);
    - for a bundled or local base, named by its models-cache folder rather than a hub id, PEFT's
      `save_embedding_layers="auto"` looks the name up on the hub to see whether training grew the
      vocabulary: a request that can only fail, at every checkpoint. Unless an embedding layer is a
      LoRA target the vocabulary is the base's, which PEFT concludes after the failed lookup anyway."""
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
    """TRL 1.16's fused LM head scores every position on devices without Triton (fixed tile shapes
    for compilers such as Neuron's), though completion-only loss masks the prompt positions out: on
    a CPU that was over half of each step's profile. Replacing TRL's private
    `trl.trainer.utils._use_triton` (looked up there at each call) makes it score only the
    completion tokens on a CPU too, as it does on a GPU (the same per-token log-probabilities).
    Without it CPU training is about twice as slow; the loss is the same."""
    from trl.trainer import utils as trl_utils

    triton = trl_utils._use_triton
    if not getattr(triton, "tradeoff_cpu", False):
        def compact(device):
            return device.type == "cpu" or triton(device)

        compact.tradeoff_cpu = True
        trl_utils._use_triton = compact


def avoid_cudnn_attention() -> None:
    """Keep PyTorch's sdpa off its cuDNN kernel for training (a global switch, for the process). On
    an H200 (torch 2.11, cuDNN 9) that kernel, which sdpa prefers there for the packed rows'
    block-diagonal mask, returned NaN gradients for a finite loss: Qwen2.5-Coder-0.5B's exp1
    diverged at step 66 of 172 in every run, and replaying that step's batch from the same weights
    gave a NaN gradient norm with cuDNN and finite ones with the memory-efficient kernel,
    flex_attention and float32 (the TRL fused LM head and transformers 5.17 vs 5.24 made no
    difference): bench/recorded/2026-11-29-h200x2-nan/. sdpa then takes the memory-efficient (or
    flash) kernel, which trained that run to the end. Without it such a run stops as diverged."""
    import torch

    if torch.cuda.is_available():
        torch.backends.cuda.enable_cudnn_sdp(False)


def dvclive_callback_per_optimizer_step(live, drop_keys: tuple[str, ...] = ()):
    """transformers' DVCLiveCallback with its curves indexed by the optimizer step. transformers
    5.24's callback calls `live.next_step()` after each `on_log`, so a curve's x axis counts log
    calls, not steps: with logging_steps > 1, or after a resume (whose first log is not step 1),
    the curves of two runs do not line up. Metrics whose key holds one of `drop_keys` are not logged."""
    from transformers.integrations import DVCLiveCallback

    class DVCLivePerOptimizerStep(DVCLiveCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if self.live is not None:
                self.live.step = state.global_step
            logs = {k: v for k, v in (logs or {}).items() if not any(w in k for w in drop_keys)}
            super().on_log(args, state, control, logs=logs, **kwargs)

    return DVCLivePerOptimizerStep(live=live)


@contextlib.contextmanager
def attention_implementation(model, name: str):
    """The model attends through the registered attention function `name` inside the block (and as
    before, after it). transformers 5.24 picks each layer's attention function from the private
    `config._attn_implementation` at every forward; the public `set_attn_implementation` also checks
    the name and walks every sub-config at each call, more than a switch around each decode step
    needs. Without this the cached engine's steps go through transformers' own SDPA path, which
    copies each key/value head once per query head that shares it (model/decode.py)."""
    config = model.config
    before = config._attn_implementation
    config._attn_implementation = name
    try:
        yield
    finally:
        config._attn_implementation = before


@contextlib.contextmanager
def gguf_parsed_once():
    """Within this block each GGUF file is parsed once and gguf's tensor-name map built once per
    architecture, by swapping two globals of the `gguf` module (gguf 0.19, transformers 5.24, which
    imports both from gguf inside its functions, at each call). transformers parses the file anew
    for the tokenizer, the config and the weights, and builds the map once per tensor (397 times for
    SmolLM2): without this a conversion takes over twice as long. Both objects are only read, so
    sharing them changes nothing that is loaded."""
    import gguf as gguf_lib

    real_reader, real_map = gguf_lib.GGUFReader, gguf_lib.get_tensor_name_map
    readers = {}

    def reader(path, *args, **kwargs):
        key = (str(path), args, tuple(sorted(kwargs.items())))
        if key not in readers:
            readers[key] = real_reader(path, *args, **kwargs)
        return readers[key]

    gguf_lib.GGUFReader, gguf_lib.get_tensor_name_map = reader, functools.cache(real_map)
    try:
        yield
    finally:
        gguf_lib.GGUFReader, gguf_lib.get_tensor_name_map = real_reader, real_map


def pin_special_tokens(tokenizer, model, ids: dict[str, int]) -> None:
    """Make the tokenizer's and the model's special tokens (bos, eos, pad, unk) the ones the GGUF
    file's metadata declares (`ids`, model/obtain.py's gguf_special_token_ids). transformers' GGUF
    tokenizer conversion varies with its version: 5.17 makes <|im_start|> SmolLM2's eos and leaves
    no pad; 5.24 (written for) reads <|im_end|> from the metadata, so there this changes nothing.
    Training teaches the model to end each answer with the tokenizer's eos, which generation must
    then stop on: without this a converted checkpoint's eos, and the trained model's stop, would
    depend on the transformers version that converted it."""
    for name, token_id in ids.items():
        setattr(tokenizer, f"{name}_token", tokenizer.convert_ids_to_tokens(token_id))
        if name != "unk":
            for config in (model.config, model.generation_config):
                setattr(config, f"{name}_token_id", token_id)


# llama.cpp's pre-tokenizers (llama-vocab.cpp) that isolate every digit before GPT-2's regex, as the
# original tokenizer.json of these models does (Digits(individual_digits) then ByteLevel)
DIGITS_FIRST = {"smollm", "starcoder", "refact", "codeshell"}


def match_pre_tokenizer(tokenizer, pre: str | None) -> None:
    """Give the tokenizer the pre-tokenizer the GGUF file names (`tokenizer.ggml.pre`, `pre`).
    transformers (5.17 and 5.24, tokenizers 0.23) converts a GGUF `gpt2` tokenizer with GPT-2's
    pre-tokenizer whatever `tokenizer.ggml.pre` says; SmolLM2's (`smollm`) isolates each digit first,
    as its original tokenizer and llama.cpp do. Without this a run of whitespace before a digit
    splits otherwise ("\\n\\n3": \\n,\\n,3 instead of \\n\\n,3), which MMLU's 5-shot prompts meet
    wherever a question starts with a number."""
    if pre in DIGITS_FIRST:
        from tokenizers import pre_tokenizers

        tokenizer.backend_tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)])


def detach_gguf_quantizer(model) -> None:
    """Let a model loaded from a GGUF file be saved as a plain checkpoint. transformers 5.24 attaches
    its GGUF quantizer (`model.hf_quantizer`, whose `is_serializable()` is False) and a
    `quantization_config` even when it dequantized every weight, and `save_pretrained` then refuses
    ("is quantized with gguf and is not serializable"). The weights are already plain float tensors,
    so detaching both loses nothing; without this the conversion cannot write its checkpoint."""
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
