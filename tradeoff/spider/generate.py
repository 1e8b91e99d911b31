"""Greedy generation of the SQL replies, two engines with the same replies.

`plain`: transformers' `generate` on batches of prompts sorted by length, each batch running until
its slowest reply ends (EOS or max_new_tokens). The reference.

`cached` (the default): the prompts of one database share their system message and schema, most
of each prompt, so that prefix runs once per database and its key/value cache is reused by every
question on it. Each batch is decoded greedily in one static cache (`model/decode.py`: on a GPU
each step is a replayed CUDA graph), and each row ends as soon as its SQL is final
(`prompt.sql_is_final`: no further text could change what `extract_sql` reads), so no reply is
scored differently, only shorter where its tail could not count.
"""

from __future__ import annotations

from ..config import ENGINES


def stop_token_ids(tokenizer) -> list[int]:
    """End of sequence and end of turn: a reply ends at either."""
    return [i for i in {tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<|im_end|>")}
            if isinstance(i, int) and i >= 0 and i != tokenizer.unk_token_id]


def generate(model, tokenizer, texts: list[str], batch_size: int, max_new_tokens: int, engine: str = "cached",
             groups: list[str] | None = None) -> list[str]:
    """Greedy replies (special tokens stripped). `groups` names each
    prompt's shared-prefix group (its database) for the cached engine; prompts of one group
    should share most of their tokens."""
    if engine == "plain":
        return generate_plain(model, tokenizer, texts, batch_size, max_new_tokens)
    if engine == "cached":
        return generate_cached(model, tokenizer, texts, groups or [""] * len(texts), batch_size, max_new_tokens)
    raise ValueError(f"unknown generation engine {engine!r}; one of {ENGINES}")


def generate_plain(model, tokenizer, texts: list[str], batch_size: int, max_new_tokens: int):
    import torch
    from tqdm.auto import tqdm
    from transformers import GenerationConfig

    tokenizer.padding_side = "left"  # decoder-only generation continues from the right edge
    device = next(model.parameters()).device
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    replies: list[str] = [""] * len(texts)
    # plain greedy whatever the model's generation_config says (no repetition penalty), as the cached engine
    config = GenerationConfig(max_new_tokens=max_new_tokens, do_sample=False, num_beams=1,
                              eos_token_id=stop_token_ids(tokenizer), pad_token_id=tokenizer.pad_token_id)
    with torch.inference_mode(), tqdm(total=len(texts), desc="generate SQL", unit="q") as bar:
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            batch = tokenizer([texts[i] for i in idx], return_tensors="pt", padding=True,
                              add_special_tokens=False).to(device)
            out = model.generate(**batch, generation_config=config)
            new = out[:, batch["input_ids"].shape[1]:]
            for row, i in enumerate(idx):
                replies[i] = tokenizer.decode(new[row], skip_special_tokens=True)
            bar.update(len(idx))
    return replies


def trigger_token_ids(tokenizer) -> set[int]:
    """Tokens that can make a reply's SQL final (they hold `;`, a backtick or a newline): the
    stop rule is checked only after one of them, which keeps its cost off most steps."""
    vocab = len(tokenizer)
    pieces = tokenizer.batch_decode([[i] for i in range(vocab)], skip_special_tokens=False)
    return {i for i, text in enumerate(pieces) if any(c in text for c in ";`\n")}


def generate_cached(model, tokenizer, texts: list[str], groups: list[str], batch_size: int, max_new_tokens: int,
                    graphs: bool | None = None):
    """`graphs`: replay each decode step as a CUDA graph (default: on a GPU)."""
    import torch
    from tqdm.auto import tqdm

    from ..model import kv_cache
    from ..model.decode import StaticBatch

    device = next(model.parameters()).device
    graphs = device.type == "cuda" if graphs is None else graphs
    enc = tokenizer(texts, add_special_tokens=False)["input_ids"]
    members: dict[str, list[int]] = {}
    for i, g in enumerate(groups):
        members.setdefault(g, []).append(i)
    # every prompt keeps at least one token outside the prefix: the first reply token's logits come from it
    prefix_len = {g: min(kv_cache.common_prefix_len([enc[i] for i in idx]), min(len(enc[i]) for i in idx) - 1)
                  for g, idx in members.items()}
    ends = ReplyEnds(tokenizer)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    order = sorted(range(len(texts)), key=lambda i: (prefix_len[groups[i]], groups[i], len(enc[i])))
    replies: list[str] = [""] * len(texts)
    prefix_caches: dict[str, object] = {}

    def prefix_cache(g: str):
        if prefix_len[g] == 0:
            return None
        if g not in prefix_caches:
            ids = torch.tensor([enc[members[g][0]][:prefix_len[g]]], device=device)
            prefix_caches[g] = kv_cache.returned_cache(model(ids, use_cache=True, logits_to_keep=1))
        return prefix_caches[g]

    with torch.inference_mode(), tqdm(total=len(texts), desc="generate SQL", unit="q") as bar:
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            batch = StaticBatch(model, [prefix_cache(groups[i]) for i in idx],
                                [enc[i][prefix_len[groups[i]]:] for i in idx], max_new_tokens, pad, graphs)
            tokens = decode_batch(batch, len(idx), max_new_tokens, ends, graphs, bar)
            del batch
            for r, i in enumerate(idx):
                replies[i] = tokenizer.decode(tokens[r], skip_special_tokens=True)
    return replies


class ReplyEnds:
    """Where a reply ends: at a stop token, or once its SQL is final (checked only after a trigger token)."""

    def __init__(self, tokenizer):
        from .prompt import sql_is_final

        self.tokenizer, self.sql_is_final = tokenizer, sql_is_final
        self.stops = set(stop_token_ids(tokenizer))
        self.triggers = trigger_token_ids(tokenizer)

    def add(self, tokens: list[int], t: int) -> bool:
        """Append token `t` to the reply `tokens` unless it is a stop token; True when the reply is done."""
        if t in self.stops:
            return True
        tokens.append(t)
        return t in self.triggers and self.sql_is_final(self.tokenizer.decode(tokens, skip_special_tokens=True))


def decode_batch(batch, n_rows: int, max_new_tokens: int, ends: ReplyEnds, graphs: bool, bar) -> list[list[int]]:
    """Decode a StaticBatch until every reply ends; each row's reply tokens. The bar moves per row, as
    each reply ends."""
    rows = list(range(n_rows))  # batch row -> row index, for the rows in the batch
    alive = [True] * n_rows     # a row stays in the batch until compacted away
    tokens: list[list[int]] = [[] for _ in range(n_rows)]
    nxt = batch.next_tokens
    for step in range(max_new_tokens):
        for b, t in enumerate(nxt.tolist()):
            r = rows[b]
            if alive[r] and ends.add(tokens[r], t):
                alive[r] = False
                bar.update(1)
        live = [b for b, r in enumerate(rows) if alive[r]]
        if not live or step == max_new_tokens - 1:
            break
        # finished rows leave the batch: on a CPU at once; on a GPU once half have, since
        # each new batch shape costs a graph capture
        if len(live) < len(rows) and (not graphs or len(live) <= len(rows) // 2):
            batch.keep(live)
            rows = [rows[b] for b in live]
        nxt = batch.step()
    bar.update(sum(alive))
    return tokens
