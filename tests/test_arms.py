"""Arms as data (issue 34): each arm of params.yaml's `arms` trains with its own fields over the
shared sections; an arm of method `full` trains every weight (no LoRA), saves the whole model where
the adapter would go, and the evaluation loads that model. On the bundled SmolLM2-135M, one step."""

import json

import pytest
import yaml

from tradeoff import TradeoffError
from tradeoff.config import parse_params


def tiny(repo, curve=0, **arms):
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["model"]["dtype"] = "float32"  # bf16 on a CPU without bf16 instructions is ~50x slower
    params["train"].update(max_steps=1, batch_size=2, logging_steps=1, save_steps=100, max_train_examples=4,
                           max_length=256, warmup_ratio=0.0)
    params["curve"]["checkpoints"] = curve
    params["arms"].update(arms)
    return parse_params(params, "test")


def train(params, arm, bundled, sample_spider, tmp_path):
    from tradeoff import training
    from tradeoff.spider.data import load_split

    out = training.ArmOutputs(adapter=tmp_path / "adapters" / arm, metrics=tmp_path / f"train_{arm}.json",
                              speed=tmp_path / f"speed_{arm}.json", curve=tmp_path / "curves" / arm,
                              checkpoints_root=tmp_path / "checkpoints")
    training.train_arm(params, arm, bundled, load_split(sample_spider, "train")[:8], sample_spider, out)
    return out


def test_a_full_arm_trains_every_weight_and_is_evaluated_as_a_whole_model(repo, bundled, sample_spider, tmp_path):
    import torch

    from tradeoff.curve_steps import saved_steps
    from tradeoff.model.load import is_full_model, load_model, merged_where_exact

    params = tiny(repo, curve=1, full={"method": "full", "lr": 1e-5})
    out = train(params, "full", bundled, sample_spider, tmp_path)
    saved = sorted(p.name for p in out.adapter.iterdir())
    assert "config.json" in saved and "model.safetensors" in saved and "adapter_config.json" not in saved
    assert is_full_model(out.adapter)
    base = load_model(bundled, "float32", device="cpu")
    metrics = json.loads(out.metrics.read_text())
    assert metrics["arm"] == "full" and metrics["lr"] == 1e-5 and metrics["steps"] == 1
    assert metrics["trainable_params"] == sum(p.numel() for p in base.parameters())  # every weight, no LoRA
    model = load_model(bundled, "float32", out.adapter, device="cpu")
    assert not hasattr(model, "peft_config") and merged_where_exact(model) is model and not model.training
    tuned, original = dict(model.named_parameters()), dict(base.named_parameters())
    assert tuned.keys() == original.keys()
    assert all(torch.isfinite(p).all() for p in tuned.values())
    changed = [n for n in tuned if not torch.equal(tuned[n], original[n])]
    assert any("mlp" in n for n in changed) and any("self_attn" in n for n in changed)  # the frozen ones of LoRA
    # the curve's checkpoint is the whole model too, and the curve stage finds it
    assert [s for s, _ in saved_steps(out.curve)] == [1] and is_full_model(out.curve / "step-00001")


def test_an_arms_own_lora_fields_and_seed_are_what_it_trains_with(repo, bundled, sample_spider, tmp_path):
    params = tiny(repo, small={"lora_r": 2, "lora_alpha": 4, "seed": 5})
    out = train(params, "small", bundled, sample_spider, tmp_path)
    config = json.loads((out.adapter / "adapter_config.json").read_text())
    assert (config["r"], config["lora_alpha"]) == (2, 4)
    settings = json.loads((tmp_path / "checkpoints" / "small" / "fingerprint.json").read_text())["settings"]
    assert settings["train"]["seed"] == 5 and settings["lora"]["r"] == 2 and settings["lr"] == 2e-4
    assert "method" not in settings  # a LoRA arm's fingerprint is what it was before arms had methods


def test_an_arm_the_params_lack_is_one_line(repo, bundled, sample_spider, tmp_path):
    with pytest.raises(TradeoffError, match=r"^params.yaml: no arm 'exp9' under `arms` \(its arms: exp1, exp2\)$"):
        train(tiny(repo), "exp9", bundled, sample_spider, tmp_path)


def test_a_folder_that_is_neither_an_adapter_nor_a_model_is_refused(bundled, tmp_path):
    from tradeoff.model.load import load_model

    (tmp_path / "empty").mkdir()
    with pytest.raises(TradeoffError, match="neither a LoRA adapter folder .* nor a fine-tuned model"):
        load_model(bundled, "float32", tmp_path / "empty", device="cpu")


def test_the_report_stage_takes_every_arm_of_the_params(repo, workdir):
    """A third arm added as data is in the table, metrics/arms.json, the summary, the forgetting
    measures and the trade-off plane, with its own rate; an arm without predictions is one line."""
    from test_stage_errors import assert_refused, run_stage, set_params

    set_params(workdir, arms={"exp1": {}, "exp2": {"lr": 5e-5}, "wide": {"method": "full", "lr": 1e-5}})
    preds = workdir / "predictions"
    preds.mkdir()
    ex = {"base": [1, 0, 0, 0], "exp1": [1, 1, 1, 0], "exp2": [1, 0, 1, 0], "wide": [1, 1, 0, 0]}
    letters = {"base": "AAAB", "exp1": "ABBB", "exp2": "AABB", "wide": "AAAA"}
    for m in ex:
        (preds / f"sql_{m}.jsonl").write_text("".join(
            json.dumps({"index": i, "verdict": v, "left_out": None, "reply": f"SELECT {i}",
                        "hardness": "easy"}) + "\n" for i, v in enumerate(ex[m])))
        (preds / f"mmlu_{m}.jsonl").write_text("".join(
            json.dumps({"subject": "astronomy", "index": i, "gold": "A", "pred": p}) + "\n"
            for i, p in enumerate(letters[m])))
    args = ("--predictions", "predictions", "--reports", "reports", "--metrics", "metrics/arms.json",
            "--summary", "metrics/report.json")
    proc = run_stage(repo, workdir, "report.py", *args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    arms = json.loads((workdir / "metrics/arms.json").read_text())
    assert list(arms) == ["exp1", "exp2", "wide"] and arms["wide"]["d_ex"] == 25.0 and arms["wide"]["d_mmlu"] == 25.0
    summary = json.loads((workdir / "metrics/report.json").read_text())
    assert summary["wide"]["lr"] == 1e-5 and summary["exp1"]["lr"] == 2e-4 and "d_mmlu_lo" in summary["wide"]
    results = json.loads((workdir / "reports/results.json").read_text())
    assert set(results["forgetting"]) == set(results["subject_drops"]) == {"exp1", "exp2", "wide"}
    assert "| wide |" in (workdir / "reports/results.md").read_text()
    plane = {p["arm"]: p for p in json.loads((workdir / "reports/plots/tradeoff.json").read_text())}
    assert plane["wide"]["label"] == "wide (lr 1e-05)" and set(plane) == {"exp1", "exp2", "wide"}
    (preds / "mmlu_wide.jsonl").unlink()
    assert_refused(run_stage(repo, workdir, "report.py", *args), "mmlu_wide.jsonl")


def test_full_fine_tuning_keeps_float32_master_weights_on_a_gpu():
    """AdamW's steps at a full fine-tuning rate are below half a bf16 ulp: pure bf16 weights would not move."""
    import torch

    from tradeoff.training.model import weights_dtype

    assert weights_dtype(torch.bfloat16, on_gpu=True, method="full") == torch.float32
    assert weights_dtype(torch.bfloat16, on_gpu=True, method="lora") == torch.bfloat16
    assert weights_dtype(torch.bfloat16, on_gpu=False, method="lora") == torch.float32
    w = torch.tensor([0.02], dtype=torch.bfloat16)
    assert torch.equal(w + 1e-5, w)  # the reason: such a step rounds away in bf16
