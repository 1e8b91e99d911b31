"""tradeoff/model/inplace_lora.py: an arm in half precision with its adapter apart, its update added
in place, gives PEFT's logits bit for bit, and leaves float32 models and unusual layers to PEFT."""

import copy

import pytest
import torch

peft = pytest.importorskip("peft")
transformers = pytest.importorskip("transformers")

from tradeoff.model.inplace_lora import use_inplace_lora  # noqa: E402

TARGETS = ["q_proj", "v_proj", "gate_proj", "down_proj"]


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


@pytest.mark.parametrize("half", [torch.bfloat16, torch.float16])
def test_the_in_place_add_gives_peft_logits_bit_for_bit(half):
    ids = torch.randint(0, 512, (3, 40), generator=torch.Generator().manual_seed(1))
    arm = tiny_arm(half)
    assert {p.dtype for n, p in arm.named_parameters() if "lora_" in n} == {torch.float32}
    peft_logits = logits(arm, ids)
    inplace = copy.deepcopy(arm)
    assert use_inplace_lora(inplace) == len(TARGETS) * 2
    with arm.disable_adapter():
        base = logits(arm, ids)
    assert (base.float() - peft_logits.float()).abs().max() > 0.1  # the adapter matters here
    assert torch.equal(logits(inplace, ids), peft_logits)


def test_a_copy_of_an_in_place_arm_computes_with_its_own_weights():
    ids = torch.randint(0, 512, (2, 16), generator=torch.Generator().manual_seed(2))
    arm = tiny_arm(torch.bfloat16)
    use_inplace_lora(arm)
    before = logits(arm, ids)
    twin = copy.deepcopy(arm)
    with torch.no_grad():
        for name, p in twin.named_parameters():
            if "lora_B" in name:
                p.zero_()
    with arm.disable_adapter():
        base = logits(arm, ids)
    assert torch.equal(logits(twin, ids), base)  # the twin's update is gone...
    assert torch.equal(logits(arm, ids), before)  # ...and the original's is not


def test_float32_and_dora_layers_are_left_to_peft():
    assert use_inplace_lora(tiny_arm(torch.float32)) == 0  # float32 evaluations merge, exactly (model/load.py)
    assert use_inplace_lora(tiny_arm(torch.bfloat16, use_dora=True)) == 0
    assert use_inplace_lora(tiny_arm(torch.bfloat16).get_base_model()) == len(TARGETS) * 2  # the layers live there
