"""tradeoff/model/inplace_lora.py: an arm in half precision with its adapter apart, its update added
in place, gives PEFT's logits bit for bit, at any scale; in any other state a layer runs PEFT's own
forward; float32 models and unusual layers are left to PEFT."""

import copy

import pytest
import torch

peft = pytest.importorskip("peft")
transformers = pytest.importorskip("transformers")

from tradeoff.model.inplace_lora import use_inplace_lora  # noqa: E402

TARGETS = ["q_proj", "v_proj", "gate_proj", "down_proj"]
LAYERS = len(TARGETS) * 2


def tiny_arm(dtype, **lora):
    config = transformers.Qwen2Config(vocab_size=512, hidden_size=64, intermediate_size=192, num_hidden_layers=2,
                                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128)
    torch.manual_seed(0)
    model = transformers.AutoModelForCausalLM.from_config(config).to(dtype)
    # init_lora_weights=False: B is random, so the adapter changes the logits; PEFT keeps LoRA's own
    # weights in float32 on a half-precision base, as it does when it loads a saved adapter
    settings = dict(r=4, lora_alpha=8, target_modules=TARGETS, init_lora_weights=False, task_type="CAUSAL_LM")
    return peft.get_peft_model(model, peft.LoraConfig(**{**settings, **lora})).eval()


def logits(model, ids):
    with torch.inference_mode():
        return model(ids).logits


IDS = torch.randint(0, 512, (3, 40), generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("half", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("lora", [{}, {"r": 12, "lora_alpha": 32}, {"use_rslora": True, "r": 8},
                                  {"lora_dropout": 0.1}], ids=["scale 2", "scale 32/12", "rslora", "dropout"])
def test_the_in_place_add_gives_peft_logits_bit_for_bit(half, lora):
    arm = tiny_arm(half, **lora)
    assert {p.dtype for n, p in arm.named_parameters() if "lora_" in n} == {torch.float32}
    peft_logits = logits(arm, IDS)
    with arm.disable_adapter():
        assert (logits(arm, IDS).float() - peft_logits.float()).abs().max() > 0.1  # the adapter matters here
    assert use_inplace_lora(arm) == LAYERS
    assert torch.equal(logits(arm, IDS), peft_logits)
    assert use_inplace_lora(arm, enable=False) == LAYERS and torch.equal(logits(arm, IDS), peft_logits)


def test_a_layer_changed_after_runs_peft_own_forward():
    arm = tiny_arm(torch.bfloat16, lora_dropout=0.5)
    reference = tiny_arm(torch.bfloat16, lora_dropout=0.5)
    use_inplace_lora(arm)
    for change in (lambda m: m.train(), lambda m: m.eval().merge_adapter()):
        change(arm), change(reference)
        torch.manual_seed(3)  # the same dropout masks in training mode
        ours = logits(arm, IDS)
        torch.manual_seed(3)
        assert torch.equal(ours, logits(reference, IDS))
    arm.unmerge_adapter()
    with arm.disable_adapter(), reference.disable_adapter():
        assert torch.equal(logits(arm, IDS), logits(reference, IDS))


def test_a_copy_of_an_in_place_arm_computes_with_its_own_weights():
    arm = tiny_arm(torch.bfloat16)
    use_inplace_lora(arm)
    before = logits(arm, IDS)
    twin = copy.deepcopy(arm)
    with torch.no_grad():
        for name, p in twin.named_parameters():
            if "lora_B" in name:
                p.zero_()
    with arm.disable_adapter():
        base = logits(arm, IDS)
    assert torch.equal(logits(twin, IDS), base)  # the twin's update is gone...
    assert torch.equal(logits(arm, IDS), before)  # ...and the original's is not


def test_float32_lora_bias_dora_and_half_lora_weights_are_left_to_peft():
    assert use_inplace_lora(tiny_arm(torch.float32)) == 0  # float32 evaluations merge, exactly (model/load.py)
    assert use_inplace_lora(tiny_arm(torch.bfloat16, use_dora=True)) == 0
    assert use_inplace_lora(tiny_arm(torch.bfloat16, lora_bias=True)) == 0
    assert use_inplace_lora(tiny_arm(torch.bfloat16).to(torch.bfloat16)) == 0  # LoRA weights in bf16 too
    assert use_inplace_lora(tiny_arm(torch.bfloat16).get_base_model()) == LAYERS  # the layers live there
