"""lm-evaluation-harness's two MMLU prompts: a header naming the subject, k shots from the
subject's dev split, then the question.
- letters (task `mmlu`): each question as `question\nA. ...\nD. ...\nAnswer:`, answered by a letter;
- cloze (task `mmlu_continuation`): each question as `Question: question\nAnswer:`, answered by the
  text of a choice (the shots show the gold choice's text)."""

from __future__ import annotations

from .question import LETTERS, Question


def header(subject: str) -> str:
    return f"The following are multiple choice questions (with answers) about {subject.replace('_', ' ')}.\n\n"


def question_text(q: Question) -> str:
    options = "".join(f"\n{letter}. {choice}" for letter, choice in zip(LETTERS, q.choices))
    return f"{q.question.strip()}{options}\nAnswer:"


def build_prompt(q: Question, shots: list[Question], k: int) -> str:
    """lm-eval's context: header, then k shots each followed by ' {answer}\\n\\n', then the question."""
    return header(q.subject) + "".join(f"{question_text(s)} {s.answer}\n\n" for s in shots[:k]) + question_text(q)


def cloze_header(subject: str) -> str:
    return f"The following are questions (with answers) about {subject.replace('_', ' ')}.\n\n"


def cloze_question_text(q: Question) -> str:
    return f"Question: {q.question.strip()}\nAnswer:"


def build_cloze_prompt(q: Question, shots: list[Question], k: int) -> str:
    """lm-eval's mmlu_continuation context: header, k shots each followed by ' {gold choice}\n\n', then
    the question; each choice is then scored as the continuation ' {choice}'."""
    return cloze_header(q.subject) + "".join(
        f"{cloze_question_text(s)} {s.choices[LETTERS.index(s.answer)]}\n\n" for s in shots[:k]) + cloze_question_text(q)


def apply_chat(tokenizer, prompt: str) -> str:
    return tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                         add_generation_prompt=True)


def fit_shots(tokenizer, q: Question, shots: list[Question], k: int, max_tokens: int | None,
              chat: bool = False, build=build_prompt) -> tuple[str, int]:
    """The prompt `build` makes (letters by default) with as many of the k shots as fit the model's
    context, and that number."""
    for n in range(k, -1, -1):
        prompt = build(q, shots, n)
        if chat:
            prompt = apply_chat(tokenizer, prompt)
        # a token holds at least one byte, so a prompt shorter in bytes than the context fits
        # without tokenizing it (the common case; saves most of the tokenizer's time)
        if max_tokens is None or n == 0 or len(prompt.encode()) < max_tokens - 1 or \
                len(tokenizer(prompt, add_special_tokens=False)["input_ids"]) < max_tokens:
            return prompt, n
    raise AssertionError("unreachable")
