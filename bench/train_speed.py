"""Training speed at gemma-2b size: our configuration against TRL's defaults, same run, same data.

The model is randomly initialised with google/gemma-2b's published architecture (speed does not
depend on the weights); LoRA r=16 on all linear layers, bf16, Spider train prompts built by the
same prompt builder as the pipeline. Each configuration trains --steps optimizer steps after
--warmup steps; tokens/s counts non-padding tokens; MFU is model FLOPs per second over the
H100/H200 dense bf16 peak (989 TFLOP/s), counted two ways: 6N (the PaLM convention, as if every
weight were trained) and 4N (what LoRA needs: the frozen weights get no weight gradients).

    python bench/train_speed.py --spider /data/spider_data.zip --tokenizer ~/.cache/tradeoff/models/smollm2-...
"""

import argparse
import logging
import random
import tempfile
import time
from pathlib import Path

import torch

from tradeoff import atomic
from tradeoff.compat import avoid_cudnn_attention
from tradeoff.spider import data as spider_data
from tradeoff.model.load import load_tokenizer
from tradeoff.spider.sample import write_sample_spider
from tradeoff.training.data import sft_rows
from tradeoff.config import TrainParams
from tradeoff.training.trainer import sft_config

log = logging.getLogger("train_speed")
PEAK_BF16 = 989e12  # H100/H200 SXM dense bf16, datasheet

GEMMA_2B = dict(vocab_size=256000, hidden_size=2048, intermediate_size=16384, num_hidden_layers=18,
                num_attention_heads=8, num_key_value_heads=1, head_dim=256, max_position_embeddings=8192,
                hidden_activation="gelu_pytorch_tanh", rms_norm_eps=1e-6, rope_theta=10000.0,
                tie_word_embeddings=True)


def gemma_2b(attn: str):
    from transformers import AutoModelForCausalLM, GemmaConfig

    config = GemmaConfig(**GEMMA_2B, attn_implementation=attn)
    torch.manual_seed(0)
    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
        return AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)


def flops_per_token(mean_len: float) -> tuple[float, float]:
    """Forward FLOPs per token of the linear layers (incl. the LM head) and of causal attention."""
    c = GEMMA_2B
    d, f, layers, hd = c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"], c["head_dim"]
    q, kv = c["num_attention_heads"] * hd, c["num_key_value_heads"] * hd
    linear = layers * (d * q + 2 * d * kv + q * d + 3 * d * f) + d * c["vocab_size"]
    attention = layers * 2 * q * mean_len  # QK^T and AV, causal: half of 2*2*len*q
    return 2 * linear, attention


class StepTimer:
    """Wall time and tokens of the steps after warm-up (a TrainerCallback)."""

    def __init__(self, warmup: int):
        from transformers import TrainerCallback

        timer = self

        class Callback(TrainerCallback):
            def on_step_end(self, args, state, control, **kwargs):
                torch.cuda.synchronize() if torch.cuda.is_available() else None
                if state.global_step == warmup:
                    timer.start, timer.tokens0 = time.perf_counter(), state.num_input_tokens_seen

            def on_train_end(self, args, state, control, **kwargs):
                timer.seconds = time.perf_counter() - timer.start
                timer.tokens = state.num_input_tokens_seen - timer.tokens0

        self.callback = Callback()


def run(name: str, rows: list[dict], tokenizer, config, attn: str, warmup: int, mean_len: float) -> dict:
    from datasets import Dataset
    from peft import LoraConfig
    from trl import SFTTrainer

    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    model = gemma_2b(attn)
    timer = StepTimer(warmup)
    trainer = SFTTrainer(model=model, args=config, train_dataset=Dataset.from_list(rows), processing_class=tokenizer,
                         peft_config=LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", task_type="CAUSAL_LM"),
                         callbacks=[timer.callback])
    trainer.train()
    tps = timer.tokens / timer.seconds
    linear, attention = flops_per_token(mean_len)
    out = {"config": name, "tokens_per_s": tps, "steps": config.max_steps - warmup, "tokens": int(timer.tokens),
           "seconds": timer.seconds, "peak_memory_gb": torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else 0.0,
           "mfu_6n": 3 * (linear + attention) * tps / PEAK_BF16, "mfu_4n": 2 * (linear + attention) * tps / PEAK_BF16,
           "packing": config.packing, "gradient_checkpointing": config.gradient_checkpointing, "attention": attn,
           "batch_size": config.per_device_train_batch_size, "max_length": config.max_length}
    log.info("%s", out)
    del trainer, model
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--spider", help="spider_data.zip or folder (default: the project's sample)")
    p.add_argument("--tokenizer", required=True, help="a checkpoint folder whose tokenizer builds the prompts")
    p.add_argument("--steps", type=int, default=30, help="timed optimizer steps per configuration")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=8, help="rows per step (TRL's default: 8)")
    p.add_argument("--max-length", type=int, default=1024, help="tokens per row (TRL's default: 1024)")
    p.add_argument("--configs", nargs="+", default=["trl-default", "ours-sdpa", "ours-flex"],
                   choices=["trl-default", "ours-sdpa", "ours-flex", "ours-flex-liger"],
                   help="ours-flex-liger needs liger-kernel and CUDA")
    p.add_argument("--smoke", action="store_true", help="a tiny model of the same shape family (to check the script)")
    p.add_argument("--out", help="also write the figures to this JSON file")
    args = p.parse_args()
    if args.smoke:
        GEMMA_2B.update(hidden_size=64, intermediate_size=128, num_hidden_layers=2, head_dim=16, num_attention_heads=4,
                        vocab_size=49152)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from trl import SFTConfig

    tokenizer = load_tokenizer({"kind": "local", "path": args.tokenizer})
    with tempfile.TemporaryDirectory() as tmp:
        if args.spider:
            root = spider_data.find_spider_root(spider_data.extract_spider_zip(args.spider, tmp)
                                                if Path(args.spider).is_file() else Path(args.spider))
        else:
            write_sample_spider(tmp, 0)
            root = Path(tmp)
        examples = spider_data.examples_with_database(root, "train")
        rows = sft_rows(tokenizer, examples, root, 0, 1024)
    total = args.warmup + args.steps
    # only the rows the steps can use (packed: their tokens, with room to spare), drawn in a seeded order from
    # all of them (Spider groups its rows by database), so that each trainer's tokenizing stays short beside
    # the timed steps (all 6,904 rows kept the first step past a 170 s limit)
    tokens_needed = 1.5 * total * args.batch_size * args.max_length
    kept, lengths = [], []
    for i in random.Random(0).sample(range(len(rows)), len(rows)):
        if sum(lengths) >= tokens_needed and len(kept) >= total * args.batch_size:
            break
        kept.append(rows[i])
        lengths.append(min(len(tokenizer(rows[i]["prompt"] + rows[i]["completion"])["input_ids"]), args.max_length))
    rows = kept
    mean_len = sum(lengths) / len(lengths)
    log.info("%d examples, mean %.0f tokens, max %d", len(rows), mean_len, max(lengths))

    common = dict(max_steps=total, per_device_train_batch_size=args.batch_size, max_length=args.max_length,
                  learning_rate=1e-4, report_to="none", save_strategy="no", logging_steps=10,
                  include_num_input_tokens_seen="non_padding", dataloader_num_workers=2)
    if not torch.cuda.is_available():  # --smoke on a CPU
        common["use_cpu"] = True
    # sft_config reads neither the attention, the quantization nor the example cap: set per run below
    ours = TrainParams(max_steps=total, epochs=1, batch_size=args.batch_size, grad_accum=1, scheduler="cosine",
                       warmup_ratio=0.05, weight_decay=0.0, seed=0, max_length=args.max_length, packing=True,
                       gradient_checkpointing=False, attn_implementation="sdpa", quantization="none",
                       max_train_examples=None, logging_steps=10, save_steps=10**9)
    results = []
    with tempfile.TemporaryDirectory() as out_dir:
        for name in args.configs:
            if name == "trl-default":  # TRL's own defaults: padded batches, gradient checkpointing, bf16, sdpa
                config, attn = SFTConfig(output_dir=out_dir, **common), "sdpa"
                if torch.cuda.is_available():
                    torch.backends.cuda.enable_cudnn_sdp(True)  # PyTorch's default kernels
            else:
                avoid_cudnn_attention()  # as the pipeline trains
                config = sft_config(ours, 1e-4, Path(out_dir), torch.bfloat16, torch.cuda.is_available())
                config.save_strategy, config.dataloader_num_workers = "no", 2
                attn = "flex_attention" if name.startswith("ours-flex") else "sdpa"
                # Liger's Triton kernels for the norms, RoPE and the gated MLP (TRL keeps its own fused LM head)
                config.use_liger_kernel = name == "ours-flex-liger"
            try:
                results.append(run(name, rows, tokenizer, config, attn, args.warmup, mean_len))
            except Exception as e:  # one failing configuration should not hide the others' figures
                log.exception("%s failed", name)
                results.append({"config": name, "error": f"{type(e).__name__}: {e}"})

    hw = torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU"
    base = next((r for r in results if r["config"] == "trl-default" and "error" not in r), None)
    print(f"gemma-2b architecture, random init, LoRA r=16 all-linear, bf16, {args.batch_size} rows x "
          f"{args.max_length} tokens per step, {args.steps} timed steps, on {hw}")
    print("| config | tokens/s | vs TRL default | MFU (6N) | MFU (4N, LoRA) | peak GB | packing | grad ckpt | attention |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        if "error" in r:
            print(f"| {r['config']} | failed: {r['error'][:80]} |")
            continue
        ratio = f"{r['tokens_per_s'] / base['tokens_per_s']:.2f}x" if base else "-"
        print(f"| {r['config']} | {r['tokens_per_s']:,.0f} | {ratio} | {100 * r['mfu_6n']:.1f}% | "
              f"{100 * r['mfu_4n']:.1f}% | {r['peak_memory_gb']:.1f} | {r['packing']} | "
              f"{r['gradient_checkpointing']} | {r['attention']} |")
    if args.out:
        atomic.write_json(args.out, {"hardware": hw, "mean_tokens": mean_len, "results": results})


if __name__ == "__main__":
    main()
