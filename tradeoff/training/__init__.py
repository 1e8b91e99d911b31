"""LoRA supervised fine-tuning on Spider with TRL's SFTTrainer and PEFT, one module per concern:

- run.py        one arm from start to end (`train_arm(params, arm, ...)`, where it writes: `ArmOutputs`):
                rows, resume, trainer, train, publish
- data.py       the training rows: prompt (as the evaluation builds it) and gold SQL
- resume.py     the settings' fingerprint; resume an interrupted run or start afresh
- model.py      the base model (quantized for QLoRA or not) and its LoRA config
- trainer.py    TRL's SFTConfig and the SFTTrainer, with the CPU speedups
- guard.py      `Diverged`: stop at the first non-finite loss or gradient norm, publish nothing
- callbacks.py  DVCLive curves and the adapters saved for the curve stage

The steps saved for the curve are in tradeoff/curve_steps.py and the library workarounds in
tradeoff/compat.py.
"""

from .guard import Diverged
from .run import ArmOutputs, train_arm

__all__ = ["ArmOutputs", "Diverged", "train_arm"]
