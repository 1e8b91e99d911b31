"""The loss mask and the base model conversion, on the bundled model."""

import json

import pytest

from tradeoff.model import obtain


def test_gguf_conversion_keeps_the_weights(bundled):
    import torch
    from transformers import AutoModelForCausalLM

    from tradeoff.model.load import load_model
    from tradeoff.model.obtain import bundled_gguf_path

    gguf = bundled_gguf_path()
    ours = load_model(bundled, "float32", device="cpu")
    theirs = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32).eval()
    ids = torch.tensor([[1, 504, 3458, 314, 253, 1142, 30]])
    with torch.inference_mode():
        assert torch.equal(ours(ids).logits, theirs(ids).logits)
    source = json.loads((obtain.model_path(bundled) / "source.json").read_text())
    assert source["gguf_sha256"] == bundled["sha256"]


def test_loss_mask_covers_the_completion_only(bundled, tokenizer, sample_spider):
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from tradeoff.model.load import model_source
    from tradeoff.spider.data import load_split
    from tradeoff.compat import checkpointing_arg
    from tradeoff.training.data import sft_rows

    rows = sft_rows(tokenizer, load_split(sample_spider, "train")[:3], sample_spider, 0, 1024)
    src, _ = model_source(bundled)
    args = SFTConfig(output_dir="/tmp/unused", completion_only_loss=True, report_to="none", use_cpu=True,
                     per_device_train_batch_size=3, max_length=512, **checkpointing_arg(False))
    trainer = SFTTrainer(model=src, args=args, train_dataset=Dataset.from_list(rows), processing_class=tokenizer)
    batch = next(iter(trainer.get_train_dataloader()))  # shuffled: match rows by their prompt
    matched = set()
    for ids, labels in zip(batch["input_ids"].tolist(), batch["labels"].tolist()):
        row = next(r for r in rows if ids[:len(tokenizer(r["prompt"], add_special_tokens=False)["input_ids"])]
                   == tokenizer(r["prompt"], add_special_tokens=False)["input_ids"])
        matched.add(row["completion"])
        prompt_len = len(tokenizer(row["prompt"], add_special_tokens=False)["input_ids"])
        assert all(x == -100 for x in labels[:prompt_len])            # no loss on schema + question
        scored = [t for t, lab in zip(ids, labels) if lab != -100]
        assert tokenizer.decode(scored) == row["completion"] + tokenizer.eos_token  # loss on the SQL and its end
        assert ids[prompt_len:prompt_len + len(scored)] == scored
    assert len(matched) == 3


def test_quantization_needs_cuda():
    import torch

    from tradeoff import TradeoffError
    from tradeoff.training.model import quantization_config

    if torch.cuda.is_available():
        pytest.skip("this check is for machines without CUDA")
    with pytest.raises(TradeoffError, match="needs a CUDA GPU"):
        quantization_config("4bit")
    assert quantization_config("none") is None


@pytest.mark.parametrize("attn", ["sdpa", "eager", "flex_attention"])
def test_packed_examples_do_not_see_each_other(bundled, tokenizer, attn):
    """train.packing puts several examples in one row with no attention mask; the position ids
    restart at each example and the model must then attend within each example only, with every
    attention implementation that train.attn_implementation offers on a CPU."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(obtain.model_path(bundled), dtype=torch.float32, attn_implementation=attn).eval()

    a = tokenizer("SELECT name FROM singer WHERE age > 30", return_tensors="pt")["input_ids"][0]
    b = tokenizer("How many heads of the departments are older than 56?", return_tensors="pt")["input_ids"][0]
    packed = torch.cat([a, b])[None]
    positions = torch.cat([torch.arange(len(a)), torch.arange(len(b))])[None]
    with torch.inference_mode():
        # use_cache=False as in training (TRL sets it): with a cache, transformers skips the packed mask
        together = model(input_ids=packed, position_ids=positions, use_cache=False).logits[0, len(a):]
        alone = model(input_ids=b[None]).logits[0]
    assert torch.allclose(together, alone, atol=1e-4)


def test_resumed_run_drops_the_curve_rows_after_its_checkpoint(tmp_path):
    from tradeoff.training.resume import trim_live_curves

    metrics = tmp_path / "plots" / "metrics"
    (metrics / "train").mkdir(parents=True)
    (metrics / "loss.tsv").write_text("step\tloss\n2\t2.1\n4\t1.9\n6\t1.5\n8\t1.4\n10\t1.2\n")
    (metrics / "train" / "loss.tsv").write_text("step\tloss\n40\t0.7\n")
    trim_live_curves(tmp_path, 6)  # the interrupted run had logged steps 8 and 10 after checkpoint 6
    assert (metrics / "loss.tsv").read_text() == "step\tloss\n2\t2.1\n4\t1.9\n6\t1.5\n"
    assert (metrics / "train" / "loss.tsv").read_text() == "step\tloss\n"


def test_cpu_speedups_leave_the_loss_as_it_was(bundled, tokenizer, sample_spider, monkeypatch):
    """On a CPU, training scores only the completion tokens in TRL's fused LM head and stores the
    frozen linear weights in bf16: the loss of a batch is the one TRL computes without either."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from trl import SFTConfig, SFTTrainer
    from trl.kernels import chunked_logprob
    from trl.trainer import utils as trl_utils

    from tradeoff.model.load import model_source
    from tradeoff.spider.data import load_split
    from tradeoff.compat import checkpointing_arg, score_only_completions_on_cpu
    from tradeoff.training.data import sft_rows
    from tradeoff.training.trainer import store_frozen_linears_in_bf16

    monkeypatch.setattr(trl_utils, "_use_triton", chunked_logprob._use_triton)  # TRL as it ships
    assert "compact = _use_triton(hidden_states.device)" in __import__("inspect").getsource(trl_utils)
    rows = sft_rows(tokenizer, load_split(sample_spider, "train")[:4], sample_spider, 0, 1024)
    src, _ = model_source(bundled)
    args = SFTConfig(output_dir="/tmp/unused", completion_only_loss=True, report_to="none", use_cpu=True, bf16=True,
                     per_device_train_batch_size=4, max_length=512, **checkpointing_arg(False))
    torch.manual_seed(0)
    trainer = SFTTrainer(model=src, args=args, train_dataset=Dataset.from_list(rows), processing_class=tokenizer,
                         peft_config=LoraConfig(r=4, target_modules="all-linear", init_lora_weights=False))
    batch = next(iter(trainer.get_train_dataloader()))

    def loss():
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            return trainer.compute_loss(trainer.model, dict(batch)).item()

    shipped = loss()
    assert not trl_utils._use_triton(torch.device("cpu"))
    score_only_completions_on_cpu()
    assert trl_utils._use_triton(torch.device("cpu"))
    completions_only = loss()
    store_frozen_linears_in_bf16(trainer.model)
    assert trainer.model.base_model.model.model.layers[0].mlp.down_proj.base_layer.weight.dtype == torch.bfloat16
    assert trainer.model.base_model.model.model.layers[0].mlp.down_proj.lora_A["default"].weight.dtype == torch.float32
    assert trainer.model.get_output_embeddings().weight.dtype == torch.bfloat16  # the LM head's own copy
    assert trainer.model.get_input_embeddings().weight.dtype == torch.float32  # the embedding is not rounded
    both = loss()
    assert abs(completions_only - shipped) < 1e-4 * abs(shipped)
    assert both == completions_only  # autocast rounds a float32 weight to the same bf16 values


def test_a_cpu_without_bf16_instructions_is_told_apart(tmp_path):
    """Training warns on such a CPU: bf16 matmuls there were 65x slower than float32 (AVX2-only Xeon)."""
    from tradeoff.model.load import cpu_has_bf16

    (tmp_path / "avx2").write_text("processor\t: 0\nflags\t\t: fpu sse2 fma avx2\n")
    (tmp_path / "amx").write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16 amx_bf16\n")
    assert not cpu_has_bf16(str(tmp_path / "avx2"))
    assert cpu_has_bf16(str(tmp_path / "amx"))
    assert cpu_has_bf16(str(tmp_path / "absent"))  # no /proc/cpuinfo: nothing to tell
