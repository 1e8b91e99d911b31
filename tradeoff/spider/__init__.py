"""The Spider text-to-SQL task, in the roles every task here has (as lm-evaluation-harness has
them): its data (`data`; the embedded sample, `sample`), its prompt and SQL extraction (`prompt`),
its metric, execution accuracy with the official semantics, pure functions and no model (`score`;
its SQL sandbox `sandbox`, the official hardness levels `hardness`), and one model scored on it end
to end (`task.evaluate`: prompts -> model -> score; greedy generation in `generate`)."""
