"""Greedy decoding of a batch of prompts in one static key/value cache: the fast engine's core.

Each row is a prompt split into a prefix whose cache was computed once (shared by many rows, e.g.
one database's schema) and its own suffix. The cache holds `prefix | suffix | reply` slots for
every row, right-aligned: a row with a shorter prefix or suffix leaves empty slots that its
attention mask hides, and explicit position ids give each token the position it has alone.
The cache never changes shape while decoding, so on a GPU one decode step is captured as a CUDA
graph and replayed: the step costs the GPU's time only, not Python's and the kernel launches'.
The caller drops finished rows with `keep` (on a GPU that costs a new graph for the smaller batch).

Attention goes through `grouped_sdpa`, registered with transformers for this model: with a mask,
transformers' own SDPA path copies each key/value head once per query head that shares it (GQA),
so every decode step would write and read the whole cache that many times over.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import TradeoffError
from ..compat import attention_implementation
from .kv_cache import cache_kwarg


ATTENTION = "tradeoff_grouped_sdpa"
SLOT_MULTIPLE = 16  # cache length rounded up: SDPA's efficient kernel wants 16-aligned mask rows


def grouped_sdpa(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    """SDPA over the static cache with a boolean mask [batch, 1, q, slots] (True: visible). The query
    heads that share one key/value head become extra query rows of that head, so keys and values
    are read as stored, never copied per query head."""
    if kwargs.get("sliding_window") or getattr(module, "attn_logit_softcapping", None) or kwargs.get("s_aux") is not None:
        raise TradeoffError("eval_sql.engine=cached supports full attention without soft-capping or sinks; "
                            "set eval_sql.engine: plain for this model")
    b, heads, q, d = query.shape
    kv_heads = key.shape[1]
    rep = heads // kv_heads
    # head h = kv * rep + r (transformers' repeat_kv order): row r*q + j of kv head `kv`
    query = query.reshape(b, kv_heads, rep * q, d)
    mask = attention_mask if q == 1 else attention_mask.repeat(1, 1, rep, 1)
    out = F.scaled_dot_product_attention(query, key, value, attn_mask=mask, scale=scaling)
    return out.reshape(b, heads, q, d).transpose(1, 2).contiguous(), None


def _register():
    from transformers import AttentionInterface

    AttentionInterface.register(ATTENTION, grouped_sdpa)


def grouped_attention(model):
    """The model attends through `grouped_sdpa` inside the block (and as before, after it)."""
    _register()
    return attention_implementation(model, ATTENTION)


class StaticBatch:
    """A batch decoded greedily in one static cache. `prefixes[r]`: the one-row cache of row r's
    prefix (None: no prefix); `suffixes[r]`: the rest of its prompt, at least one token.
    `next_tokens` holds the token each row chose last; `step()` feeds them and chooses the next;
    `keep(rows)` drops the other rows."""

    def __init__(self, model, prefixes: list, suffixes: list[list[int]], max_new_tokens: int, pad_id: int,
                 graphs: bool):
        from transformers import StaticCache

        self.model = model
        device = next(model.parameters()).device
        batch = len(suffixes)
        p_lens = [0 if c is None else c.layers[0].keys.shape[2] for c in prefixes]
        p_width, s_width = max(p_lens), max(len(s) for s in suffixes)
        n_slots = -(-(p_width + s_width + max_new_tokens) // SLOT_MULTIPLE) * SLOT_MULTIPLE
        self.cache = StaticCache(config=model.config, max_cache_len=n_slots)
        if any(layer.is_sliding for layer in self.cache.layers):
            raise TradeoffError("eval_sql.engine=cached does not handle sliding-window layers; "
                                "set eval_sql.engine: plain for this model")
        some = next((c for c in prefixes if c is not None), None)
        # which slots each row may see: its prefix and suffix, then its reply as it grows (built on
        # the host, then moved in one copy each)
        visible = torch.zeros((batch, n_slots), dtype=torch.bool)
        ids = torch.full((batch, s_width), pad_id, dtype=torch.long)
        pos = torch.zeros((batch, s_width), dtype=torch.long)
        for r, (p, s) in enumerate(zip(p_lens, suffixes)):
            visible[r, p_width - p:p_width] = True
            visible[r, p_width + s_width - len(s):p_width + s_width] = True
            ids[r, s_width - len(s):] = torch.tensor(s)
            pos[r, s_width - len(s):] = torch.arange(p, p + len(s))
        visible, ids, pos = visible.to(device), ids.to(device), pos.to(device)
        if some is not None:
            # rows that share a prefix come in runs (the caller sorts by group): one copy per run
            runs, start = [], 0
            for r in range(1, batch + 1):
                if r == batch or prefixes[r] is not prefixes[start]:
                    runs.append((start, r))
                    start = r
            for i, layer in enumerate(self.cache.layers):
                k0, v0 = some.layers[i].keys, some.layers[i].values
                layer.lazy_initialization(k0.new_zeros((batch, k0.shape[1], 1, k0.shape[3])),
                                         v0.new_zeros((batch, v0.shape[1], 1, v0.shape[3])))
                for a, b in runs:
                    c = prefixes[a]
                    if c is not None:
                        layer.keys[a:b, :, p_width - p_lens[a]:p_width] = c.layers[i].keys
                        layer.values[a:b, :, p_width - p_lens[a]:p_width] = c.layers[i].values
                layer.cumulative_length.fill_(p_width)
        # prefill the suffixes: query slot p_width + j sees the row's visible slots up to itself,
        # and itself always (a left-pad query seeing nothing would make NaN, which 0 x NaN spreads)
        slots = torch.arange(n_slots, device=device)
        q_slots = p_width + torch.arange(s_width, device=device)
        mask = visible[:, None, None, :] & (slots[None, :] <= q_slots[:, None])[None, None]
        mask |= (slots[None, :] == q_slots[:, None])[None, None]
        with grouped_attention(model):
            out = model(input_ids=ids, position_ids=pos, attention_mask=mask, use_cache=True, logits_to_keep=1,
                        **{cache_kwarg(model): self.cache})
        self.next_tokens = out.logits[:, -1].argmax(dim=-1)
        self.visible = visible[:, None, None, :].clone()   # [batch, 1, 1, slots]: decoding masks
        self.ids = self.next_tokens[:, None].clone()         # the token each row feeds next
        self.pos = pos[:, -1:] + 1                           # ... at this position
        self.slot = torch.tensor([p_width + s_width], device=device)  # ... into this cache slot
        self.graphs = graphs and device.type == "cuda"
        self.graph = None

    def _step(self):
        self.visible.index_fill_(3, self.slot, True)
        out = self.model(input_ids=self.ids, position_ids=self.pos, attention_mask=self.visible, use_cache=True,
                         logits_to_keep=1, **{cache_kwarg(self.model): self.cache})
        nxt = out.logits[:, -1].argmax(dim=-1)
        self.ids.copy_(nxt[:, None])
        self.pos.add_(1)
        self.slot.add_(1)
        return nxt

    def step(self) -> torch.Tensor:
        """Feed each row's last token and return the next (a tensor of one token per row)."""
        with grouped_attention(self.model):
            if not self.graphs:
                self.next_tokens = self._step()
            elif self.graph is not None:
                self.graph.replay()
                self.next_tokens = self._graph_out
            else:
                # the first step of this batch shape runs eagerly (it warms up kernels and allocations),
                # then the step is captured; capturing records kernels without running them
                stream = torch.cuda.Stream()
                stream.wait_stream(torch.cuda.current_stream())
                with torch.cuda.stream(stream):
                    self.next_tokens = self._step()
                torch.cuda.current_stream().wait_stream(stream)
                self.graph = torch.cuda.CUDAGraph()
                with torch.cuda.graph(self.graph):
                    self._graph_out = self._step()
        return self.next_tokens

    def keep(self, rows: list[int]):
        """Go on with these rows only (indices into the current batch)."""
        sel = torch.tensor(rows, device=self.ids.device)
        for layer in self.cache.layers:
            layer.keys, layer.values = layer.keys.index_select(0, sel), layer.values.index_select(0, sel)
            layer.batch_size = len(rows)
        self.visible, self.ids, self.pos = self.visible[sel], self.ids[sel], self.pos[sel]
        self.next_tokens = self.next_tokens[sel]
        self.graph = None  # the captured step was for the old batch
