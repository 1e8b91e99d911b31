"""The MMLU task: its data (`data`, `sample`, `question`), its prompt (`prompt`) and its metric,
scored as lm-evaluation-harness scores it (`score`)."""
