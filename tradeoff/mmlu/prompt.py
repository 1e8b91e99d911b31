"""lm-evaluation-harness's MMLU prompt: a header naming the subject, k shots from the subject's
dev split, then the question, each as `question\nA. ...\nD. ...\nAnswer:`."""

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


def apply_chat(tokenizer, prompt: str) -> str:
    return tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                         add_generation_prompt=True)


def fit_shots(tokenizer, q: Question, shots: list[Question], k: int, max_tokens: int | None,
              chat: bool = False) -> tuple[str, int]:
    """The prompt with as many of the k shots as fit the model's context, and that number."""
    for n in range(k, -1, -1):
        prompt = build_prompt(q, shots, n)
        if chat:
            prompt = apply_chat(tokenizer, prompt)
        # a token holds at least one byte, so a prompt shorter in bytes than the context fits
        # without tokenizing it (the common case; saves most of the tokenizer's time)
        if max_tokens is None or n == 0 or len(prompt.encode()) < max_tokens - 1 or \
                len(tokenizer(prompt, add_special_tokens=False)["input_ids"]) < max_tokens:
            return prompt, n
    raise AssertionError("unreachable")
