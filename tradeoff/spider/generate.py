"""Greedy generation of the SQL replies, batched by prompt length."""

from __future__ import annotations

import time


def generate(model, tokenizer, texts: list[str], batch_size: int, max_new_tokens: int) -> tuple[list[str], list[float]]:
    """Greedy replies (special tokens stripped) and seconds per example, batched by prompt length."""
    import torch
    from tqdm.auto import tqdm

    tokenizer.padding_side = "left"  # decoder-only generation continues from the right edge
    device = next(model.parameters()).device
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    replies: list[str] = [""] * len(texts)
    seconds: list[float] = [0.0] * len(texts)
    stop_ids = [i for i in {tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<|im_end|>")}
                if isinstance(i, int) and i >= 0 and i != tokenizer.unk_token_id]
    with torch.inference_mode(), tqdm(total=len(texts), desc="generate SQL", unit="q") as bar:
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            batch = tokenizer([texts[i] for i in idx], return_tensors="pt", padding=True,
                              add_special_tokens=False).to(device)
            t0 = time.monotonic()
            out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False, num_beams=1,
                                 eos_token_id=stop_ids, pad_token_id=tokenizer.pad_token_id)
            dt = time.monotonic() - t0
            new = out[:, batch["input_ids"].shape[1]:]
            for row, i in enumerate(idx):
                replies[i] = tokenizer.decode(new[row], skip_special_tokens=True)
                seconds[i] = dt / len(idx)
            bar.update(len(idx))
    return replies, seconds
