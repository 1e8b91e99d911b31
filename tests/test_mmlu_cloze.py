"""MMLU's cloze formulation (lm-eval's mmlu_continuation): the prompt byte for byte, lm-eval's
token split, scores that neither the prefix cache nor the batching can change, lm-eval itself
as the oracle, and a `both` run whose letters are the letters-only run's."""

import pytest

from tradeoff.mmlu import cloze, prompt as mmlu_prompt, question as mmlu_question
from tradeoff.mmlu import score as mmlu_score, task as mmlu_task
from tradeoff.mmlu.question import Question


def q(subject="college_physics", index=0, text="  What is 2 + 2?\n", choices=("3", "4", "five", "twenty-two"),
      answer="B"):
    return Question(subject, index, text, choices, answer)


def test_cloze_prompt_byte_for_byte():
    shots = [q(text="Pick the first.", choices=("alpha", "b", "c", "d"), answer="A"), q(text="Pick C.", answer="C")]
    assert mmlu_prompt.build_cloze_prompt(q(), shots, 2) == (
        "The following are questions (with answers) about college physics.\n\n"
        "Question: Pick the first.\nAnswer: alpha\n\n"
        "Question: Pick C.\nAnswer: five\n\n"
        "Question: What is 2 + 2?\nAnswer:")


def test_continuations_are_what_the_whole_adds_after_the_context(tokenizer):
    context = mmlu_prompt.build_cloze_prompt(q(), [], 0)
    ctx, conts = cloze.encode_pairs(tokenizer, [context], [q().choices])
    assert ctx[0] == tokenizer(context, add_special_tokens=False)["input_ids"]
    for choice, cont in zip(q().choices, conts[0]):
        whole = tokenizer(context + " " + choice, add_special_tokens=False)["input_ids"]
        assert cont == whole[len(ctx[0]):] and len(cont) >= 1


def _alone(model, tokenizer, context, choice):
    """The continuation's log-likelihood from one plain forward pass over context + continuation."""
    import torch

    ctx, conts = cloze.encode_pairs(tokenizer, [context], [(choice,) * 4])
    ids = torch.tensor([ctx[0] + conts[0][0]])
    with torch.inference_mode():
        lp = model(ids).logits[0].float().log_softmax(-1)
    n = len(ctx[0])
    return sum(lp[n - 1 + t, tok].item() for t, tok in enumerate(conts[0][0]))


def test_cache_and_batching_cannot_change_a_score(model, tokenizer):
    shots = [q(text=f"Shot {i}?", answer="ABCD"[i % 4]) for i in range(5)]
    questions = [q(index=0, text="Short?"),
                 q(index=1, text="A much longer question that pads the others in its batch considerably?",
                   choices=("a rather long answer of many words indeed", "x", "y", "z")),
                 q(index=2, text="Mid length one?")]
    contexts = [mmlu_prompt.build_cloze_prompt(x, shots, 5) for x in questions]
    batched = cloze.score_contexts(model, tokenizer, contexts, [x.choices for x in questions], batch_size=3)
    # batch 8: the continuations of two questions share a pass (its batch stays 8 rows), then one
    grouped = cloze.score_contexts(model, tokenizer, contexts, [x.choices for x in questions], batch_size=8)
    one_by_one = [cloze.score_contexts(model, tokenizer, [c], [x.choices], batch_size=1)[0]
                  for c, x in zip(contexts, questions)]
    for c, x, b, g, a in zip(contexts, questions, batched, grouped, one_by_one):
        plain = [_alone(model, tokenizer, c, choice) for choice in x.choices]
        for scores in (b, g, a):
            assert scores == pytest.approx(plain, abs=1e-3)


def test_predictions_follow_lm_eval_acc_and_acc_norm():
    # acc: highest sum; acc_norm: highest sum per character of the choice; ties go to the first
    assert cloze.predictions([-4.0, -3.0, -9.0, -3.0], ("abcd", "ab", "abcdefghijkl", "xy")) == ("B", "C")
    assert cloze.predictions([-1.0, -1.0, -1.0, -1.0], ("a", "a", "a", "a")) == ("A", "A")


def test_cloze_matches_lm_eval_question_by_question(bundled, model, tokenizer, tmp_path):
    """lm-evaluation-harness's mmlu_continuation as the oracle, SmolLM2 in float32: the same
    log-likelihoods, the same acc answer and the same acc_norm verdict on every question."""
    import lm_eval_reference  # bench/, on the path by conftest
    from tradeoff.mmlu.data import load_csv_dir, select, write_sample_mmlu
    from tradeoff.model import obtain

    write_sample_mmlu(tmp_path, 0)
    questions, shots = load_csv_dir(tmp_path)
    subjects = sorted(questions)[:2]
    questions = select({s: questions[s] for s in subjects}, mmlu_question.CATEGORY_MAP, None, limit=3)
    ours = mmlu_task.score_questions(model, tokenizer, questions, shots, 5, batch_size=4, fmt="cloze")
    ref = lm_eval_reference.evaluate(str(obtain.model_path(bundled)), tmp_path, subjects, 5, limit=3, batch_size=4,
                                     fmt="cloze")
    assert [(r["subject"], r["index"], r["gold"]) for r in ours] == [(r["subject"], r["index"], r["gold"]) for r in ref]
    for a, b in zip(ours, ref):
        assert a["cloze_loglik"] == pytest.approx(b["cloze_loglik"], abs=2e-3)
        assert a["cloze_pred"] == b["cloze_pred"]
        assert (a["cloze_norm_pred"] == a["gold"]) == b["cloze_norm_correct"]


def test_both_formats_keep_the_letters_of_a_letters_run(model, tokenizer):
    shots = {"college_physics": [q(text=f"Shot {i}?", answer="ABCD"[i % 4]) for i in range(5)]}
    questions = {"college_physics": [q(index=i, text=t) for i, t in enumerate(["Short?", "Longer, padded question?"])]}
    letters = mmlu_task.score_questions(model, tokenizer, questions, shots, 5, batch_size=2)
    both = mmlu_task.score_questions(model, tokenizer, questions, shots, 5, batch_size=2, fmt="both")
    assert [{k: r[k] for k in letters[0]} for r in both] == letters
    assert all(set(r) >= {"cloze_pred", "cloze_norm_pred", "cloze_loglik", "cloze_shots_dropped"} for r in both)
    summary = mmlu_score.summarize(both, mmlu_question.CATEGORY_MAP)
    assert summary["acc"] == mmlu_score.summarize(letters, mmlu_question.CATEGORY_MAP)["acc"]
    assert summary["cloze"]["n"] == summary["cloze_norm"]["n"] == 2 and "format" not in summary
    only = mmlu_score.summarize([{k: v for k, v in r.items() if k.startswith("cloze") or k in ("subject", "index", "gold")}
                                 for r in both], mmlu_question.CATEGORY_MAP)
    assert only["format"] == "cloze" and only["acc"] == summary["cloze"]["acc"]
