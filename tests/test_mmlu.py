import json

import pytest

from tradeoff.model import obtain

from tradeoff import TradeoffError
from tradeoff.mmlu import data as mmlu_data, prompt as mmlu_prompt, question as mmlu_question
from tradeoff.mmlu import score as mmlu_score, task as mmlu_task
from tradeoff.mmlu.question import Question


def q(subject="college_physics", index=0, text="  What is 2 + 2?\n", choices=("3", "4", "5", "22"), answer="B"):
    return Question(subject, index, text, choices, answer)


def test_prompt_text_byte_for_byte():
    shots = [q(text="Pick A.", choices=("a", "b", "c", "d"), answer="A"), q(text="Pick C.", answer="C")]
    expected = (
        "The following are multiple choice questions (with answers) about college physics.\n\n"
        "Pick A.\nA. a\nB. b\nC. c\nD. d\nAnswer: A\n\n"
        "Pick C.\nA. 3\nB. 4\nC. 5\nD. 22\nAnswer: C\n\n"
        "What is 2 + 2?\nA. 3\nB. 4\nC. 5\nD. 22\nAnswer:"
    )
    assert mmlu_prompt.build_prompt(q(), shots, 2) == expected
    assert mmlu_prompt.build_prompt(q(), shots, 0) == (
        "The following are multiple choice questions (with answers) about college physics.\n\n"
        "What is 2 + 2?\nA. 3\nB. 4\nC. 5\nD. 22\nAnswer:")


def test_letter_token_ids_of_the_bundled_tokenizer(tokenizer):
    assert mmlu_task.letter_token_ids(tokenizer) == [330, 389, 340, 422]
    assert [tokenizer.decode([i]) for i in mmlu_task.letter_token_ids(tokenizer)] == [" A", " B", " C", " D"]


def test_continuation_is_the_token_after_the_context(tokenizer):
    # lm-eval scores whole[len(context):]; our single-token shortcut must see the same tokens
    context = mmlu_prompt.build_prompt(q(), [q(answer="D")], 1)
    ctx = tokenizer(context, add_special_tokens=False)["input_ids"]
    for letter, tid in zip("ABCD", mmlu_task.letter_token_ids(tokenizer)):
        assert tokenizer(context + " " + letter, add_special_tokens=False)["input_ids"] == ctx + [tid]


def _full_forward(model, tokenizer, prompt):
    import torch

    ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        logits = model(ids).logits[0, -1].float().log_softmax(-1)
    return logits[mmlu_task.letter_token_ids(tokenizer)].tolist()


def test_padding_and_prefix_cache_cannot_change_a_score(model, tokenizer):
    shots = [q(text=f"Shot {i}?", answer="ABCD"[i % 4]) for i in range(5)]
    questions = [q(index=i, text=t) for i, t in enumerate(
        ["Short?", "A much longer question that pads the others in its batch considerably?", "Mid length one?"])]
    prompts = [mmlu_prompt.build_prompt(x, shots, 5) for x in questions]
    batched = mmlu_task.score_prompts(model, tokenizer, prompts, batch_size=3)
    alone = [mmlu_task.score_prompts(model, tokenizer, [p], batch_size=1)[0] for p in prompts]
    full = [_full_forward(model, tokenizer, p) for p in prompts]
    for b, a, f in zip(batched, alone, full):
        assert b == pytest.approx(f, abs=1e-3) and a == pytest.approx(f, abs=1e-3)
        assert max(range(4), key=b.__getitem__) == max(range(4), key=f.__getitem__)


def test_an_arm_scores_the_same_merged(bundled, tokenizer):
    """score_model merges an arm's adapter in float32 (faster): the log-likelihoods are the unmerged ones."""
    import torch
    from peft import LoraConfig, get_peft_model

    from tradeoff.model.load import load_model

    torch.manual_seed(0)  # init_lora_weights=False: a random adapter that does change the scores
    arm = get_peft_model(load_model(bundled, "float32", device="cpu"),
                         LoraConfig(r=4, target_modules="all-linear", init_lora_weights=False)).eval()
    shots = {"college_physics": [q(text=f"Shot {i}?", answer="ABCD"[i % 4]) for i in range(5)]}
    questions = {"college_physics": [q(index=i, text=t) for i, t in enumerate(["Short?", "Longer, padded question?"])]}
    records, _ = mmlu_task.score_model(arm, tokenizer, questions, shots, 5, {"college_physics": "STEM"}, batch_size=2)
    unmerged = mmlu_task.score_questions(arm, tokenizer, questions, shots, 5, batch_size=2)
    assert hasattr(arm, "peft_config")  # the arm itself is left as it was
    for a, b in zip(records, unmerged):
        assert a["loglik"] == pytest.approx(b["loglik"], abs=1e-4) and a["pred"] == b["pred"]


def test_shots_are_dropped_to_fit_the_context(tokenizer):
    shots = [q(text="word " * 50, answer="A") for _ in range(5)]
    prompt, used = mmlu_prompt.fit_shots(tokenizer, q(), shots, 5, max_tokens=200)
    assert used < 5 and len(tokenizer(prompt)["input_ids"]) < 200
    assert mmlu_prompt.fit_shots(tokenizer, q(), shots, 5, max_tokens=None)[1] == 5


def test_summary_weights_categories_by_question():
    records = [{"subject": "astronomy", "index": i, "gold": "A", "pred": "A", "shots_dropped": 0} for i in range(3)]
    records += [{"subject": "college_physics", "index": 0, "gold": "A", "pred": "B", "shots_dropped": 1}]
    s = mmlu_score.summarize(records, mmlu_question.CATEGORY_MAP)
    assert s["categories"]["STEM"] == {"acc": 0.75, "n": 4}
    assert s["macro_acc"] == 0.5 and s["acc"] == 0.75 and s["shots_dropped"] == 1


def test_bad_csvs_are_refused(tmp_path):
    (tmp_path / "test").mkdir()
    bad = tmp_path / "test" / "astronomy_test.csv"
    bad.write_text("q,a,b,c,d,E\n")
    with pytest.raises(TradeoffError, match="answer 'E'"):
        mmlu_data.load_csv_dir(tmp_path)
    bad.write_text("q,a,b,c,A\n")
    with pytest.raises(TradeoffError, match="5 columns"):
        mmlu_data.load_csv_dir(tmp_path)
    bad.write_text("")
    with pytest.raises(TradeoffError, match="no questions"):
        mmlu_data.load_csv_dir(tmp_path)


def test_hf_loader_offline_fixture(monkeypatch, tmp_path):
    import datasets

    rows = {"question": ["Q1", "Q2"], "subject": ["astronomy", "astronomy"],
            "choices": [["a", "b", "c", "d"]] * 2, "answer": [2, 0]}
    fixture = datasets.DatasetDict({"test": datasets.Dataset.from_dict(rows),
                                    "dev": datasets.Dataset.from_dict({k: v[:1] for k, v in rows.items()})})
    monkeypatch.setattr(datasets, "load_dataset", lambda name, config: fixture)
    questions, shots = mmlu_data.load_hf("cais/mmlu")
    assert [(x.question, x.answer) for x in questions["astronomy"]] == [("Q1", "C"), ("Q2", "A")]
    mmlu_data.write_csv_dir(questions, shots, tmp_path)
    again, _ = mmlu_data.load_csv_dir(tmp_path)
    assert again == questions


def test_full_shared_test_split_loads(shared_data):
    root = shared_data / "mmlu"
    questions, shots = mmlu_data.load_csv_dir(root, "test")
    assert len(questions) == 57 and sum(len(v) for v in questions.values()) == 14042
    assert all(len(shots[s]) == 5 for s in questions)
    assert json.loads((root / "categories.json").read_text()) == mmlu_question.CATEGORY_MAP
    assert json.loads((root / "categories_lm_eval.json").read_text()) == mmlu_question.CATEGORY_MAP_LM_EVAL
    counts = {}
    for s in questions:
        counts[mmlu_question.CATEGORY_MAP[s]] = counts.get(mmlu_question.CATEGORY_MAP[s], 0) + 1
    assert counts == {"STEM": 18, "humanities": 13, "social sciences": 12, "other": 14}
    # the U+0085 trap: it stays inside its field instead of splitting a row
    assert any("\x85" in x.question + "".join(x.choices) for x in questions["management"] + questions["sociology"])
    val, _ = mmlu_data.load_csv_dir(root, "val")
    assert sum(len(v) for v in val.values()) == 1531


def test_scores_match_lm_eval_question_by_question(bundled, model, tokenizer, tmp_path):
    """lm-evaluation-harness itself (a dev dependency, installed by `make test`) as the oracle:
    same predicted letters and log-likelihoods on the project's sample questions, 5-shot."""
    import lm_eval_reference  # bench/, on the path by conftest
    from tradeoff.mmlu.data import write_sample_mmlu

    write_sample_mmlu(tmp_path, 0)
    questions, shots = mmlu_data.load_csv_dir(tmp_path)
    subjects = sorted(questions)[:3]
    questions = mmlu_data.select({s: questions[s] for s in subjects}, mmlu_question.CATEGORY_MAP, None, limit=4)
    ours = mmlu_task.score_questions(model, tokenizer, questions, shots, 5, batch_size=4)
    ref = lm_eval_reference.evaluate(str(obtain.model_path(bundled)), tmp_path, subjects, 5, limit=4, batch_size=4)
    assert [(r["subject"], r["index"], r["gold"], r["pred"]) for r in ours] == \
        [(r["subject"], r["index"], r["gold"], r["pred"]) for r in ref]
    for a, b in zip(ours, ref):
        assert a["loglik"] == pytest.approx(b["loglik"], abs=2e-3)


def test_standalone_command_writes_scores_and_records(bundled, repo, tmp_path):
    import subprocess
    import sys

    out = tmp_path / "mmlu.json"
    cmd = [sys.executable, "-m", "tradeoff.mmlu_eval", "--model", "bundled", "--models-dir", str(repo / "models"),
           "--data", "sample", "--shots", "1", "--limit", "2", "--categories", "STEM", "--out", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(out.read_text())
    stem = [s for s, c in mmlu_question.CATEGORY_MAP.items() if c == "STEM"]
    records = result["records"]
    assert records and all(r["subject"] in stem for r in records)
    assert result["summary"]["n"] == len(records) == 2 * len({r["subject"] for r in records})
    assert set(records[0]) >= {"subject", "index", "gold", "pred", "loglik"} and len(records[0]["loglik"]) == 4
    assert result["summary"]["shots"] == 1 and set(result["summary"]["categories"]) == {"STEM"}

    bad = subprocess.run(cmd[:-6] + ["--data", str(tmp_path / "nowhere")], capture_output=True, text=True,
                         cwd=tmp_path)
    last = bad.stderr.strip().splitlines()[-1]
    assert bad.returncode == 2 and last.startswith(f"error: --data={tmp_path / 'nowhere'}: no such folder"), last
