"""tradeoff/compat.py: for each workaround, that it still works, and that the library still behaves
as the workaround assumes. A test here failing after a library upgrade says which workaround to
revisit: the behaviour it works around may be gone (drop it), or the object it patches changed."""

import inspect
import json
import warnings

import pytest

from tradeoff import compat


def test_sft_config_still_renames_gradient_checkpointing():
    """transformers 5.24: the old name is deprecated (v6 removes it; the fallback can go then)."""
    from trl import SFTConfig

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        SFTConfig(output_dir="/tmp/unused", use_cpu=True, report_to="none", gradient_checkpointing=True)
    assert any("`gradient_checkpointing` is deprecated" in str(w.message) for w in caught)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        config = SFTConfig(output_dir="/tmp/unused", use_cpu=True, report_to="none", **compat.checkpointing_arg(True))
    assert not [w for w in caught if "checkpointing" in str(w.message)]
    assert config.gradient_checkpointing is True


def test_a_loaded_model_is_named_by_its_folder_and_peft_copies_the_name(bundled):
    """transformers keeps the load path in the private `config._name_or_path`; PEFT copies
    `name_or_path` into the adapter's config."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from tradeoff.model import obtain

    folder = str(obtain.model_path(bundled))
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    assert model.config._name_or_path == model.name_or_path == folder
    compat.name_base_model(model, bundled["dir"])
    assert model.config.name_or_path == bundled["dir"]
    peft = get_peft_model(model, LoraConfig(r=2, target_modules=["q_proj"], task_type="CAUSAL_LM"))
    assert peft.peft_config["default"].base_model_name_or_path == bundled["dir"]


def test_peft_save_pretrained_still_takes_save_embedding_layers():
    from peft import PeftModel
    from peft.utils.constants import EMBEDDING_LAYER_NAMES

    parameters = inspect.signature(PeftModel.save_pretrained).parameters
    assert parameters["save_embedding_layers"].default == "auto"
    assert "embed_tokens" in EMBEDDING_LAYER_NAMES


def test_a_saved_adapter_lists_its_target_modules_sorted(bundled, tmp_path):
    """PEFT resolves `all-linear` into a set and would write it in hash-seed order: the same adapter
    would get other bytes, and another DVC hash, on the next run."""
    from peft import LoraConfig, get_peft_model

    from tradeoff.model.load import load_model

    model = get_peft_model(load_model(bundled, "float32", device="cpu"),
                           LoraConfig(r=2, target_modules="all-linear", task_type="CAUSAL_LM"))
    resolved = model.peft_config["default"].target_modules
    assert isinstance(resolved, set) and len(resolved) == 7  # PEFT as it ships
    compat.save_adapters_reproducibly(model, base_on_hub=True)
    model.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "adapter_config.json").read_text())["target_modules"]
    assert saved == sorted(resolved)
    assert model.peft_config["default"].target_modules is resolved  # the live model is left as PEFT made it


def test_saving_an_adapter_of_a_bundled_base_asks_no_hub(bundled, tmp_path, monkeypatch):
    """The base is named by its models-cache folder (not a folder here, nor a hub id): PEFT would look it
    up on the hub at every checkpoint."""
    from peft import LoraConfig, get_peft_model
    from peft.utils import save_and_load

    from tradeoff.model.load import load_model

    def no_hub(*args, **kwargs):
        raise AssertionError("the hub was asked")

    monkeypatch.setattr(save_and_load, "check_file_exists_on_hf_hub", no_hub)
    base = load_model(bundled, "float32", device="cpu")
    compat.name_base_model(base, bundled["dir"])
    model = get_peft_model(base, LoraConfig(r=2, target_modules=["q_proj"], task_type="CAUSAL_LM"))
    with pytest.raises(AssertionError, match="the hub was asked"):  # PEFT as it ships
        model.save_pretrained(tmp_path / "shipped")
    compat.save_adapters_reproducibly(model, base_on_hub=False)
    model.save_pretrained(tmp_path / "ours")
    assert (tmp_path / "ours/adapter_model.safetensors").is_file()


def test_trl_still_asks_its_private_use_triton_at_each_call(monkeypatch):
    """TRL 1.16: the fused LM head asks `trl.trainer.utils._use_triton(device)`, a module global,
    and it says no on a CPU (so every position is scored there)."""
    import torch
    from trl.kernels import chunked_logprob
    from trl.trainer import utils as trl_utils

    monkeypatch.setattr(trl_utils, "_use_triton", chunked_logprob._use_triton)  # TRL as it ships
    assert list(inspect.signature(trl_utils._use_triton).parameters) == ["device"]
    assert "compact = _use_triton(hidden_states.device)" in inspect.getsource(trl_utils)
    assert trl_utils._use_triton(torch.device("cpu")) is False
    compat.score_only_completions_on_cpu()
    compat.score_only_completions_on_cpu()  # idempotent: wraps TRL's function once
    assert trl_utils._use_triton(torch.device("cpu")) is True
    assert trl_utils._use_triton.__closure__[0].cell_contents is chunked_logprob._use_triton


def test_torch_still_has_the_global_cudnn_attention_switch(monkeypatch):
    """The NaN gradients themselves need the H200 (bench/recorded/2026-11-29-h200x2-nan/); here: the
    switch exists as assumed, and turns cuDNN attention off (on a CUDA machine)."""
    import torch

    assert list(inspect.signature(torch.backends.cuda.enable_cudnn_sdp).parameters) == ["enabled"]
    before = torch.backends.cuda.cudnn_sdp_enabled()
    try:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        compat.avoid_cudnn_attention()
        assert torch.backends.cuda.cudnn_sdp_enabled() is False
    finally:
        torch.backends.cuda.enable_cudnn_sdp(before)


def _logged_steps(live_dir, callback_of_live) -> list[str]:
    """The step column of DVCLive's loss curve after two logs, at optimizer steps 10 and 20."""
    from dvclive import Live
    from transformers import TrainerControl, TrainerState, TrainingArguments

    live = Live(dir=str(live_dir), save_dvc_exp=False, dvcyaml=None)
    callback = callback_of_live(live)
    args = TrainingArguments(output_dir=str(live_dir / "unused"), report_to="none", use_cpu=True)
    for step, loss in ((10, 2.0), (20, 1.5)):
        callback.on_log(args, TrainerState(global_step=step), TrainerControl(),
                        logs={"loss": loss, "train_runtime": 3.0})
    live.end()
    tsv = live_dir / "plots" / "metrics" / "loss.tsv"
    return [line.split("\t")[0] for line in tsv.read_text().splitlines()[1:]]


def test_transformers_dvclive_callback_still_counts_log_calls(tmp_path):
    from transformers.integrations import DVCLiveCallback

    assert _logged_steps(tmp_path / "shipped", lambda live: DVCLiveCallback(live=live)) == ["0", "1"]
    ours = _logged_steps(tmp_path / "ours",
                         lambda live: compat.dvclive_callback_per_optimizer_step(live, drop_keys=("runtime",)))
    assert ours == ["10", "20"]
    assert not list((tmp_path / "ours").rglob("*runtime*"))
    assert list((tmp_path / "shipped").rglob("*runtime*"))


def test_transformers_still_picks_attention_from_the_private_config_field(model):
    """transformers 5.24 reads `config._attn_implementation` at each forward: switching it routes the
    layers through a registered attention function, and switching it back restores them."""
    import torch
    from transformers import AttentionInterface
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    calls = []

    def counted_sdpa(*args, **kwargs):
        calls.append(1)
        return sdpa_attention_forward(*args, **kwargs)

    AttentionInterface.register("tradeoff_test_counted_sdpa", counted_sdpa)
    before = model.config._attn_implementation
    ids = torch.tensor([[1, 504, 3458, 314]])
    with torch.inference_mode():
        with compat.attention_implementation(model, "tradeoff_test_counted_sdpa"):
            model(ids)
        assert len(calls) == model.config.num_hidden_layers
        model(ids)
    assert len(calls) == model.config.num_hidden_layers
    assert model.config._attn_implementation == before


def test_transformers_parses_a_gguf_file_anew_for_each_load_unless_parsed_once():
    """transformers 5.24 imports GGUFReader from gguf inside its functions, at each call (so the swap
    is seen) and parses the file at every load (so the swap saves work)."""
    import gguf
    from transformers import AutoConfig

    from tradeoff.model.obtain import bundled_gguf_path

    path = bundled_gguf_path()
    real_reader, parses = gguf.GGUFReader, []

    def counted_reader(*args, **kwargs):
        parses.append(1)
        return real_reader(*args, **kwargs)

    gguf.GGUFReader = counted_reader
    try:
        for _ in range(2):
            AutoConfig.from_pretrained(str(path.parent), gguf_file=path.name)
        assert len(parses) == 2
        with compat.gguf_parsed_once():
            for _ in range(2):
                AutoConfig.from_pretrained(str(path.parent), gguf_file=path.name)
        assert len(parses) == 3
    finally:
        gguf.GGUFReader = real_reader


def test_a_conversion_parses_its_gguf_file_once_and_leaves_gguf_as_it_was():
    """test_gguf_conversion_keeps_the_weights shows the converted weights equal transformers' own GGUF load."""
    import gguf

    from tradeoff.model.obtain import bundled_gguf_path

    path = bundled_gguf_path()
    real_reader, real_map = gguf.GGUFReader, gguf.get_tensor_name_map
    with compat.gguf_parsed_once():
        first = gguf.GGUFReader(path)
        assert gguf.GGUFReader(str(path)) is first
        assert gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, 30) is gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, 30)
    assert (gguf.GGUFReader, gguf.get_tensor_name_map) == (real_reader, real_map)
    assert isinstance(first, real_reader) and "tokenizer.ggml.eos_token_id" in first.fields


@pytest.fixture(scope="module")
def gguf_tokenizer():
    """SmolLM2's tokenizer as transformers converts it from the bundled GGUF file, no workaround applied."""
    from transformers import AutoTokenizer

    from tradeoff.model.obtain import bundled_gguf_path

    path = bundled_gguf_path()
    return AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)


def test_transformers_gguf_tokenizer_conversion_still_takes_the_metadatas_special_tokens(gguf_tokenizer):
    """transformers 5.24 converts SmolLM2's GGUF tokenizer with the special tokens its metadata
    declares (5.17 made <|im_start|> the eos and left no pad): pinning them changes nothing there.
    Failing here: the conversion changed again; the pin then decides the eos training teaches."""
    import copy
    from types import SimpleNamespace

    from tradeoff.model.obtain import bundled_gguf_path, gguf_special_token_ids

    ids = gguf_special_token_ids(bundled_gguf_path())
    assert ids == {"bos": 1, "eos": 2, "pad": 2, "unk": 0}
    assert {name: getattr(gguf_tokenizer, f"{name}_token_id") for name in ids} == ids  # transformers as it ships
    tok = copy.deepcopy(gguf_tokenizer)
    tok.eos_token, tok.pad_token = "<|im_start|>", None  # what transformers 5.17 made
    model = SimpleNamespace(config=SimpleNamespace(eos_token_id=1), generation_config=SimpleNamespace(eos_token_id=1))
    compat.pin_special_tokens(tok, model, ids)
    assert (tok.bos_token_id, tok.eos_token_id, tok.pad_token_id, tok.unk_token_id) == (1, 2, 2, 0)
    assert model.config.eos_token_id == model.generation_config.eos_token_id == model.config.pad_token_id == 2


def test_transformers_still_converts_a_smollm_gguf_tokenizer_with_gpt2s_pre_tokenizer(gguf_tokenizer):
    """transformers 5.24 ignores `tokenizer.ggml.pre` = smollm: "\\n\\n3" splits as \\n,\\n,3 where
    SmolLM2's own tokenizer and llama.cpp (llama-cpp-python 0.3.36) give \\n\\n,3."""
    import copy

    from tradeoff.model.obtain import bundled_gguf_path, gguf_pre_tokenizer

    text, llama_cpp = "Answer: A\n\n3 Cl", [21350, 42, 330, 1116, 35, 1661]
    assert gguf_pre_tokenizer(bundled_gguf_path()) == "smollm"
    assert gguf_tokenizer(text, add_special_tokens=False)["input_ids"] == [21350, 42, 330, 198, 198, 35, 1661]
    tok = copy.deepcopy(gguf_tokenizer)
    compat.match_pre_tokenizer(tok, "qwen2")  # not a digits-first one: left as it is
    assert tok(text, add_special_tokens=False)["input_ids"] != llama_cpp
    compat.match_pre_tokenizer(tok, "smollm")
    assert tok(text, add_special_tokens=False)["input_ids"] == llama_cpp


def test_transformers_still_refuses_to_save_a_dequantized_gguf_model_unless_detached(tmp_path):
    """transformers 5.24 keeps its GGUF quantizer on a model it dequantized entirely, and
    save_pretrained refuses a model whose quantizer is not serializable."""
    import torch
    from transformers import AutoModelForCausalLM
    from transformers.quantizers.quantizer_gguf import GgufHfQuantizer

    from tradeoff.model.obtain import bundled_gguf_path

    path = bundled_gguf_path()
    with compat.gguf_parsed_once():
        model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, dtype=torch.float32)
    assert isinstance(model.hf_quantizer, GgufHfQuantizer) and hasattr(model.config, "quantization_config")
    with pytest.raises(ValueError, match="not serializable"):  # transformers as it ships
        model.save_pretrained(tmp_path / "shipped")
    compat.detach_gguf_quantizer(model)
    model.save_pretrained(tmp_path / "ours")
    assert (tmp_path / "ours" / "model.safetensors").is_file()
    assert "quantization_config" not in json.loads((tmp_path / "ours" / "config.json").read_text())
