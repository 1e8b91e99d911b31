"""The MMLU task, in the roles every task here has (as lm-evaluation-harness has them): its data
(`data`; what a question is, `question`; the embedded sample, `sample`), its prompts (`prompt`;
the cloze formulation's prompt and scoring, `cloze`), its metric, accuracy, pure functions and no
model (`score`), and one model scored on it as lm-evaluation-harness scores it (`task.evaluate`:
prompts -> log-likelihoods -> score)."""
