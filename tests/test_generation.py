"""The cached generation engine: replies equal to transformers' generate, the stop rule never
changes a score, and a merged adapter gives the unmerged model's logits."""

import random

import pytest
import torch

from tradeoff.spider import prompt
from tradeoff.spider.data import database_path, load_split
from tradeoff.spider.generate import generate

FRAGMENTS = ["SELECT", "select", " a", " FROM t", ";", "```", "```sql\n", "sql", "\n", "\n\n", " \n", "'", '"',
             "WITH", " x", "Here is the query:", " without", "`", " ;", "SELECT name FROM singer", " WHERE b = 'x;y'"]


@pytest.mark.parametrize("reply,final", [
    ("SELECT a FROM t;", True),
    ("SELECT a FROM t", False),
    ("SELECT a FROM t WHERE b = ';", False),        # the semicolon is inside a string
    ("SELECT a FROM t\n\nIt selects", True),
    ("SELECT a FROM t\n```", True),
    ("Here:\n```sql\nSELECT a", False),
    ("Here:\n```sql\nSELECT a;", True),
    ("Here:\n```sql\nSELECT a\n```", True),
    ("I think SELECT a FROM t;", False),            # a code fence may still come and take precedence
    ("CREATE TABLE t (a INT);\n\n", False),
])
def test_stop_rule_examples(reply, final):
    assert prompt.sql_is_final(reply) is final


def test_stop_rule_never_changes_the_extracted_sql():
    """Wherever the rule says a reply may stop, every continuation extracts the same SQL."""
    rng = random.Random(0)
    stopped = 0
    for _ in range(3000):
        reply = "".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(1, 12)))
        full = prompt.extract_sql(reply)
        for i in range(len(reply) + 1):
            if prompt.sql_is_final(reply[:i]):
                stopped += 1
                assert prompt.extract_sql(reply[:i]) == full, (reply[:i], reply)
    assert stopped > 1000  # the rule does stop replies


@pytest.fixture(scope="module")
def prompts(sample_spider, tokenizer):
    examples = load_split(sample_spider, "dev")[::4][:14]  # questions on all three databases
    texts = [prompt.build_prompt(tokenizer, database_path(sample_spider, e["db_id"]), e["question"])[0]
             for e in examples]
    return texts, [e["db_id"] for e in examples]


def fresh_model(bundled, lora: bool):
    from peft import LoraConfig, get_peft_model

    from tradeoff.model.load import load_model

    model = load_model(bundled, "float32", device="cpu")
    if not lora:
        return model
    torch.manual_seed(0)  # init_lora_weights=False: B is random, so the adapter changes the replies
    return get_peft_model(model, LoraConfig(r=4, target_modules=["q_proj", "v_proj", "down_proj"],
                                            init_lora_weights=False, task_type="CAUSAL_LM")).eval()


@pytest.mark.parametrize("lora", ["base", "merged", "apart"])
def test_cached_engine_gives_the_replies_of_generate(bundled, tokenizer, prompts, lora):
    """The base model, an adapter merged into the weights (float32), an adapter kept apart (half precision)."""
    from tradeoff.model.load import merged_copy

    texts, groups = prompts
    assert len(set(groups)) > 1
    model = fresh_model(bundled, lora != "base")
    plain = generate(model, tokenizer, texts, batch_size=4, max_new_tokens=24, engine="plain")
    # batches of 5 over groups of different prefix lengths: caches stacked right-aligned, rows dropped as they end
    fast = generate(merged_copy(model) if lora == "merged" else model, tokenizer, texts, batch_size=5,
                       max_new_tokens=24, engine="cached", groups=groups)
    assert [prompt.extract_sql(r) for r in fast] == [prompt.extract_sql(r) for r in plain]
    assert all(p.startswith(f) for p, f in zip(plain, fast))  # the same reply, or its head where the SQL was final


def test_a_cached_prefix_gives_the_logits_of_the_full_prompt(model, tokenizer, prompts):
    from tradeoff.model import kv_cache

    texts, _ = prompts
    enc = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts[:2]]
    p = kv_cache.common_prefix_len(enc)
    assert p > 50
    with torch.inference_mode():
        full = model(torch.tensor([enc[0]])).logits[0, -1]
        cache = kv_cache.returned_cache(model(torch.tensor([enc[0][:p]]), use_cache=True))
        rest = torch.tensor([enc[0][p:]])
        pos = torch.arange(p, len(enc[0]))[None]
        cached = model(rest, position_ids=pos, use_cache=True, **{kv_cache.cache_kwarg(model): cache}).logits[0, -1]
    assert torch.allclose(full, cached, atol=1e-4)


def test_a_merged_adapter_gives_the_unmerged_logits_and_leaves_the_model_as_it_was(bundled, tokenizer, prompts):
    from tradeoff.model.load import merged_copy

    model = fresh_model(bundled, lora=True)
    ids = torch.tensor([tokenizer(prompts[0][0], add_special_tokens=False)["input_ids"]])
    with torch.inference_mode():
        before = model(ids).logits[0, -1]
        merged = merged_copy(model)
        after = merged(ids).logits[0, -1]
        again = model(ids).logits[0, -1]
    assert not hasattr(merged, "peft_config")
    assert torch.allclose(before, after, atol=1e-4)
    assert torch.equal(before, again)  # the adapter model itself is untouched
    base = fresh_model(bundled, lora=False)
    with torch.inference_mode():
        assert (base(ids).logits[0, -1] - before).abs().max() > 1e-2  # the adapter does change the logits


def test_an_adapter_is_merged_in_float32_only(bundled):
    """Merging in half precision rounds each merged weight again and drops each update smaller than
    half its last bit: there the cached engine keeps the adapter apart, as `generate` does."""
    from tradeoff.model.load import merged_where_exact

    model = fresh_model(bundled, lora=True)
    merged = merged_where_exact(model)
    assert merged is not model and not hasattr(merged, "peft_config")
    half = model.to(torch.bfloat16)
    assert half.get_base_model().dtype == torch.bfloat16
    assert merged_where_exact(half) is half
    base = fresh_model(bundled, lora=False)
    assert merged_where_exact(base) is base


def test_grouped_attention_equals_transformers_sdpa():
    """The cached engine's attention (query heads that share a key/value head read it as stored)
    gives transformers' SDPA result (keys and values copied per query head), with a padding mask,
    in prefill (several queries) and decoding (one)."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    from tradeoff.model.decode import grouped_sdpa

    torch.manual_seed(0)

    class Module:  # what the attention functions read from an attention layer
        num_key_value_groups, is_causal, training = 3, True, False

    batch, kv_heads, slots, dim = 2, 2, 12, 8
    key, value = torch.randn(batch, kv_heads, slots, dim), torch.randn(batch, kv_heads, slots, dim)
    for q in (4, 1):
        query = torch.randn(batch, kv_heads * 3, q, dim)
        mask = torch.rand(batch, 1, q, slots) > 0.4
        mask[..., -1] = True  # every query sees something
        ours, _ = grouped_sdpa(Module(), query, key, value, mask, scaling=dim ** -0.5)
        theirs, _ = sdpa_attention_forward(Module(), query, key, value, mask, scaling=dim ** -0.5)
        assert ours.shape == theirs.shape == (batch, q, kv_heads * 3, dim)
        assert torch.allclose(ours, theirs, atol=1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a GPU")
@pytest.mark.parametrize("lora", [False, True], ids=["base", "adapter-apart"])
def test_graph_replayed_decoding_gives_the_eager_replies(bundled, tokenizer, prompts, lora):
    """On a GPU each decode step is a replayed CUDA graph: the replies equal those of the same
    engine stepping eagerly (float32, so the two compute the same kernels' results), also with a
    LoRA adapter kept apart (as the engine runs one in half precision)."""
    from tradeoff.spider import generate as gen

    texts, groups = prompts
    model = fresh_model(bundled, lora).to("cuda")
    graphed = gen.generate_cached(model, tokenizer, texts, groups, batch_size=6, max_new_tokens=32, graphs=True)
    eager = gen.generate_cached(model, tokenizer, texts, groups, batch_size=6, max_new_tokens=32, graphs=False)
    assert graphed == eager


def test_a_sliding_window_model_is_refused_in_one_line():
    """The static cache holds every slot; a sliding-window layer would need a ring buffer: the cached
    engine says so and names the way out rather than scoring wrongly."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from tradeoff import TradeoffError
    from tradeoff.model.decode import StaticBatch

    config = Qwen2Config(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, use_sliding_window=True, sliding_window=8,
                         max_window_layers=0)
    model = Qwen2ForCausalLM(config).eval()
    with pytest.raises(TradeoffError, match="engine: plain"):
        StaticBatch(model, [None], [[1, 2, 3]], max_new_tokens=4, pad_id=0, graphs=False)
