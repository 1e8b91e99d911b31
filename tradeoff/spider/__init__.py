"""The Spider text-to-SQL task: its data (`data`, `sample`), its prompt and SQL extraction
(`prompt`), generation (`generate`), the SQL sandbox (`sandbox`), execution accuracy with the
official semantics (`metric`), the official hardness levels (`hardness`), and scoring a model
end to end (`task`)."""
