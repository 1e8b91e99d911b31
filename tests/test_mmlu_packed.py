"""Shared-prefix packing (tradeoff/model/packing.py): the mask and positions of a packed row,
token by token, and real MMLU subjects scored through the packed scorers and through the padded
padded scorers (tradeoff/mmlu/padded.py, the GPU's path) with the same answers."""

import pytest

from tradeoff.model import packing


def _seen(rule_mask, n_prefix):
    """For each row token, the keys it attends to: 'P<i>' for prefix token i, else the row index."""
    return [[f"P{k}" if k < n_prefix else k - n_prefix for k in range(rule_mask.shape[1]) if rule_mask[q, k]]
            for q in range(rule_mask.shape[0])]


def test_packed_row_mask_and_positions():
    import torch

    # prefix of 2 tokens; prompt 0: context [10, 11]; prompt 1: context [20], branches [30, 31] and [40]
    rows = packing.pack([([10, 11], []), ([20], [[30, 31], [40]])], p_len=2, max_tokens=100, multiple=4, pad=0)
    assert len(rows) == 1
    row = rows[0]
    assert row.ids == [10, 11, 20, 30, 31, 40, 0, 0]
    assert row.pos == [2, 3, 2, 3, 4, 3, 0, 0]  # each prompt restarts after the prefix; branches continue the context
    assert row.seg == [0, 0, 1, 1, 1, 1, -1, -1]
    assert row.branch == [0, 0, 0, 1, 1, 2, 0, 0]
    assert row.last == [1, 2] and row.branches == [[], [3, 5]]
    mask = packing.dense_mask(torch.tensor(row.seg), torch.tensor(row.branch), 2)
    assert mask.shape == (1, 1, 8, 10)
    assert _seen(mask[0, 0], 2) == [
        ["P0", "P1", 0],
        ["P0", "P1", 0, 1],
        ["P0", "P1", 2],  # not prompt 0
        ["P0", "P1", 2, 3],  # branch 1 sees its context
        ["P0", "P1", 2, 3, 4],
        ["P0", "P1", 2, 5],  # branch 2 sees its context, not branch 1
        ["P0", "P1", 6],  # padding sees the prefix and padding; no real token sees it
        ["P0", "P1", 6, 7],
    ]


def test_rows_split_by_tokens():
    rows = packing.pack([([1, 2, 3], []), ([4, 5], [[6]]), ([7] * 9, [])], p_len=5, max_tokens=5)
    assert [r.prompts for r in rows] == [[0], [1], [2]]  # 3 + 3 > 5; a 9-token prompt gets a row of its own
    assert rows[1].pos == [5, 6, 7] and rows[2].pos == list(range(5, 14))
    with pytest.raises(ValueError):
        packing.pack([([], [])], p_len=3, max_tokens=5)


def _tiny_llama():
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256)
    return LlamaForCausalLM(config).eval()


def _alone(model, prefix, context, cont):
    import torch

    ids = torch.tensor([prefix + context + cont])
    lp = model(ids).logits[0].float().log_softmax(-1)
    n = len(prefix) + len(context)
    return sum(lp[n - 1 + t, tok].item() for t, tok in enumerate(cont))


@pytest.mark.parametrize("attn", ["sdpa", "eager", "flex_attention"])
def test_packed_scores_are_each_prompt_run_alone(attn):
    """A tiny random Llama: every packed log-likelihood is that of prefix + context + continuation
    run alone; with flex_attention (compiled for the CPU) the BlockMask path the GPU runs."""
    import torch

    model = _tiny_llama()
    prefix = [1, 2, 3, 4, 5]
    contexts = [[6, 7], [8], [9, 10, 11, 12]]
    conts = [[[20], [21, 22], [23, 24, 25], []], [[30], [31], [32], [33]], [[40, 41], [42], [43], [44, 45]]]
    with torch.inference_mode():  # the reference with sdpa: each run alone has its own shape
        alone = [[_alone(model, prefix, c, x) if x else 0.0 for x in cs] for c, cs in zip(contexts, conts)]
    if attn != "sdpa":  # eager adds the mask to the scores: it must be additive, not boolean
        try:
            model.set_attn_implementation(attn)
        except Exception as e:  # noqa: BLE001
            pytest.skip(f"flex_attention unavailable: {e}")
    with torch.inference_mode():
        # two rows of one shape: inductor's CPU flex kernel failed to compile for a second, dynamic shape
        packed = packing.loglikelihoods(model, prefix, contexts, conts, max_tokens=8, multiple=8)
    for p, a in zip(packed, alone):
        assert p == pytest.approx(a, abs=1e-5)


def test_packed_scorers_match_the_padded_scorers_on_real_subjects(model, tokenizer, shared_data, monkeypatch):
    """SmolLM2 in float32 on the real MMLU CSVs: the packed and the padded scorers give the same
    letter, the same cloze answers (acc and acc_norm) and log-likelihoods within 1e-4."""
    from tradeoff.model import packing
    from tradeoff.mmlu import data as mmlu_data, question as mmlu_question, task as mmlu_task

    questions, shots = mmlu_data.load_csv_dir(shared_data / "mmlu", "test")
    keep = {s: questions[s] for s in ("abstract_algebra", "high_school_biology", "world_religions")}
    keep = mmlu_data.select(keep, mmlu_question.category_map("original"), None, 12)
    packed = mmlu_task.score_questions(model, tokenizer, keep, shots, 5, batch_size=8, fmt="both")
    monkeypatch.setattr(packing, "wanted", lambda device: False)  # the GPU's path, here on the CPU
    padded = mmlu_task.score_questions(model, tokenizer, keep, shots, 5, batch_size=8, fmt="both")
    assert len(packed) == len(padded) == 36
    for a, b in zip(packed, padded):
        assert {k: a[k] for k in a if "loglik" not in k} == {k: b[k] for k in b if "loglik" not in k}
        assert a["loglik"] == pytest.approx(b["loglik"], abs=1e-4)
        # summed over a continuation's tokens: float32 reordering moved one sum by 1.1e-4 (1.3e-5 relative)
        assert a["cloze_loglik"] == pytest.approx(b["cloze_loglik"], rel=2e-5, abs=1e-4)
