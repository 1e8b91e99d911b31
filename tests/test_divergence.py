"""A diverged training never becomes a result (issue 16): training stops on the first non-finite
loss or gradient, evaluation refuses non-finite adapters, MMLU refuses NaN scores, no metric holds
a NaN, and the report marks degenerate replies."""

import hashlib
import json
import math

import pytest

from tradeoff.model import obtain

from test_stage_errors import assert_refused, run_stage


def tree_digest(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_diverging_run_stops_at_once_and_publishes_nothing(repo, bundled, sample_spider, tmp_path, monkeypatch):
    """A NaN put into a LoRA weight before step 3 (as a diverged update would) stops training at
    step 3 with one line naming the step, loss and grad norm; the previous adapter and metrics stay."""
    import torch
    import yaml
    from transformers import TrainerCallback

    from tradeoff import training
    from tradeoff.config import parse_params
    from tradeoff.spider.data import load_split
    from tradeoff.training import run

    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["train"].update(max_steps=6, batch_size=2, logging_steps=1, save_steps=100)
    params = parse_params(params, "test")

    class PoisonBeforeStep3(TrainerCallback):
        def on_step_begin(self, args, state, control, model=None, **kw):
            if state.global_step == 2:
                with torch.no_grad():
                    next(p for n, p in model.named_parameters() if "lora_A" in n)[0, 0] = float("nan")

    real_callbacks = run.train_callbacks
    monkeypatch.setattr(run, "train_callbacks",
                        lambda *a: (lambda cbs, live: (cbs + [PoisonBeforeStep3()], live))(*real_callbacks(*a)))
    adapter = tmp_path / "adapters" / "exp1"
    adapter.mkdir(parents=True)
    (adapter / "adapter_config.json").write_text('{"previous": true}')
    before = tree_digest(adapter)
    metrics = tmp_path / "train_exp1.json"
    with pytest.raises(training.Diverged) as caught:
        training.train_arm(params, "exp1", bundled, load_split(sample_spider, "train")[:24], sample_spider,
                           training.ArmOutputs(adapter=adapter, metrics=metrics, speed=tmp_path / "speed.json",
                                               checkpoints_root=tmp_path / "checkpoints"))
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("training exp1 diverged at step 3 of 6: loss nan, grad norm nan")
    assert "no adapter written" in message
    assert tree_digest(adapter) == before
    assert not metrics.exists() and not (tmp_path / "speed.json").exists()


def test_an_adapter_with_a_nan_weight_is_refused_by_both_evaluations(repo, bundled, prepared):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(obtain.model_path(bundled), dtype=torch.float32)
    peft = get_peft_model(model, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"))
    with torch.no_grad():
        next(p for n, p in peft.named_parameters() if "lora_B" in n)[1, 2] = float("nan")
    peft.save_pretrained(prepared / "adapters" / "exp1")
    for task in ("sql", "mmlu"):
        proc = run_stage(repo, prepared, f"eval_{task}.py", "--data", "data/prepared", "--adapter", "adapters/exp1",
                         "--out", f"predictions/{task}_exp1.jsonl", "--metrics", f"metrics/{task}_exp1.json")
        assert_refused(proc, "adapters/exp1", "not all finite", "1 NaN/inf values", "diverged")
    assert not (prepared / "predictions").exists()
    assert not list(prepared.glob("metrics/*exp1*"))


def test_mmlu_never_turns_nan_scores_into_answer_a(tokenizer, monkeypatch):
    from tradeoff import TradeoffError
    from tradeoff.mmlu import question as mmlu_question, task as mmlu_task

    q = mmlu_question.Question("elementary_mathematics", 0, "What is 1+1?", ("1", "2", "3", "4"), "B")
    monkeypatch.setattr(mmlu_task, "score_prompts", lambda *a, **k: [[math.nan] * 4])
    with pytest.raises(TradeoffError, match=r"MMLU elementary_mathematics question 0: .*not finite"):
        mmlu_task.score_questions(None, tokenizer, {"elementary_mathematics": [q]}, {}, 0)


def test_no_metric_file_holds_a_nan(tmp_path):
    from tradeoff import TradeoffError, atomic

    atomic.write_json(tmp_path / "ok.json", {"loss": 0.5})
    for bad in (math.nan, math.inf):
        with pytest.raises(TradeoffError, match="bad.json: refusing to write a NaN"):
            atomic.write_json(tmp_path / "bad.json", {"final_loss": bad})
    assert not (tmp_path / "bad.json").exists()
    assert json.loads((tmp_path / "ok.json").read_text()) == {"loss": 0.5}


def test_the_report_marks_degenerate_replies():
    from tradeoff.report import table

    def recs(replies, right):
        return [{"index": i, "reply": r, "verdict": v, "left_out": None, "hardness": "easy"}
                for i, (r, v) in enumerate(zip(replies, right))]

    healthy = recs([f"SELECT {i}" for i in range(8)], [1, 0, 1, 0, 1, 1, 0, 0])
    bangs = recs(["!!!!!!!!"] * 7 + ["SELECT 1"], [0] * 8)
    varied_bangs = recs(["!" * (5 + i) for i in range(6)] + ["SELECT 1", "SELECT 2"], [0] * 8)
    mmlu = [{"subject": "astronomy", "index": i, "gold": "A", "pred": "A"} for i in range(4)]
    result = table.build({"base": healthy, "exp1": bangs, "exp2": varied_bangs},
                          {m: mmlu for m in ("base", "exp1", "exp2")}, {"astronomy": "STEM"}, n_boot=50)
    assert set(result["degenerate"]) == {"exp1", "exp2"}
    assert "7 of 8 replies are the same text '!!!!!!!!'" in result["degenerate"]["exp1"]
    assert "6 of 8 replies are one character repeated" in result["degenerate"]["exp2"]
    assert "⚠ exp1: degenerate replies" in table.markdown(result)
    assert table.summary(result, {"exp1": 2e-4, "exp2": 5e-5})["exp1"]["degenerate"] is True
    assert "degenerate" not in table.summary(result, {})["base"]
