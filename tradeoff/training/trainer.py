"""TRL's SFTTrainer for one arm: its config from the `train` params, the model with LoRA (or all
of it trainable, method `full`), the divergence guard, and the CPU speedups. TRL computes the loss on completion tokens only
(`completion_only_loss`)."""

from __future__ import annotations

from pathlib import Path

from ..compat import avoid_cudnn_attention, checkpointing_arg, save_adapters_reproducibly, \
    score_only_completions_on_cpu
from ..config import Params, TrainParams
from ..model.load import pick_dtype
from .guard import guarded_trainer
from .model import base_model_and_lora


def sft_config(t: TrainParams, lr: float, output_dir: Path, dtype, on_gpu: bool):
    """TRL's SFTConfig from the `train` params (one place, shared with bench/train_speed.py)."""
    import torch
    from trl import SFTConfig

    return SFTConfig(
        output_dir=str(output_dir),
        learning_rate=lr,
        max_steps=t.max_steps,
        num_train_epochs=t.epochs,
        per_device_train_batch_size=t.batch_size,
        gradient_accumulation_steps=t.grad_accum,
        lr_scheduler_type=t.scheduler,
        warmup_steps=t.warmup_ratio,  # a float < 1 is a ratio of the total steps
        weight_decay=t.weight_decay,
        seed=t.seed,
        data_seed=t.seed,
        max_length=t.max_length,
        # packing places whole examples into rows (best-fit decreasing) with no padding; the
        # attention mask is built from the position ids, so no example sees another
        packing=t.packing,
        **checkpointing_arg(t.gradient_checkpointing),
        bf16=dtype == torch.bfloat16,
        fp16=dtype == torch.float16,
        logging_steps=t.logging_steps,
        save_strategy="steps",
        save_steps=t.save_steps,
        save_total_limit=2,
        report_to="none",
        completion_only_loss=True,
        # log a non-finite loss as it is (the default averages it away; the guard stops such a run anyway)
        logging_nan_inf_filter=False,
        include_num_input_tokens_seen="non_padding",
        dataloader_num_workers=0,
        use_cpu=not on_gpu,
    )


def build_trainer(identity: dict, tokenizer, rows: list[dict], params: Params, lr: float, arm: str, ckpt_dir: Path,
                  callbacks: list, method: str = "lora"):
    """The guarded SFTTrainer of one arm, its model loaded and LoRA applied (method `lora`) or every
    weight left trainable (method `full`), ready to train. `params`: the arm's (Params.arm(name).params)."""
    import torch
    from datasets import Dataset

    avoid_cudnn_attention()
    on_gpu = torch.cuda.is_available()
    model, peft_config = base_model_and_lora(identity, params, on_gpu, method)
    dtype = pick_dtype(params.model.dtype)
    config = sft_config(params.train, lr, ckpt_dir, dtype, on_gpu)
    if not on_gpu:
        score_only_completions_on_cpu()
    trainer = guarded_trainer(arm, model=model, args=config, train_dataset=Dataset.from_list(rows),
                              processing_class=tokenizer, peft_config=peft_config, callbacks=callbacks)
    if not on_gpu and dtype == torch.bfloat16:
        store_frozen_linears_in_bf16(trainer.model)
    if peft_config is not None:
        save_adapters_reproducibly(trainer.model, base_on_hub=identity["kind"] == "hub")
    return trainer


def store_frozen_linears_in_bf16(model) -> None:
    """Under bf16 autocast on a CPU every frozen linear weight was cast from float32 to bf16 at each
    use; store it in bf16 once instead. The matmuls see the same bf16 values (autocast rounds the
    same way), so training is unchanged, only faster. LoRA weights, norms and the embedding stay
    float32. A frozen LM head gets its own bf16 copy even when it shares the embedding's weight:
    TRL's fused head casts its weight chunk by chunk three times a step (15% of a step on SmolLM2,
    whose head is a 49,152 x 576 matrix), and the embedding lookup keeps reading float32."""
    import torch

    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) and not module.weight.requires_grad and "lm_head" not in name:
            module.weight.data = module.weight.data.to(torch.bfloat16)
            if module.bias is not None:
                module.bias.data = module.bias.data.to(torch.bfloat16)
    head = model.get_output_embeddings()
    if head is not None and not head.weight.requires_grad and head.weight.dtype == torch.float32:
        head.weight = torch.nn.Parameter(head.weight.detach().to(torch.bfloat16), requires_grad=False)
