"""Profile steps 5-10 of the embedded exp1 training (the train stage itself, run through runpy, with a
torch.profiler callback added), ops grouped by input shape. Run in a clone after `dvc repro prepare`:
    python bench/recorded/2026-12-07-cpu-embedded-time/profile_train.py > profile_train.txt
"""
import runpy, sys
from tradeoff.numerics import pin_cpu_numerics
pin_cpu_numerics()
import torch
from transformers import TrainerCallback
import tradeoff.training.run as run

class Prof(TrainerCallback):
    def __init__(self):
        self.p = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU],
                                        schedule=torch.profiler.schedule(wait=4, warmup=1, active=6), record_shapes=True)
        self.p.start()
    def on_step_end(self, args, state, control, **kw):
        self.p.step()
        if state.global_step == 12:
            self.p.stop()
            print(self.p.key_averages(group_by_input_shape=True).table(sort_by="self_cpu_time_total", row_limit=40, max_shapes_column_width=70))
            sys.stdout.flush()

orig = run.train_callbacks
def patched(*a, **k):
    cbs, live = orig(*a, **k)
    return cbs + [Prof()], live
run.train_callbacks = patched
sys.argv = ["stages/train.py", "--arm", "exp1", "--data", "data/prepared", "--adapter", "/tmp/profile_train/adapter",
            "--metrics", "/tmp/profile_train/m.json", "--speed", "/tmp/profile_train/s.json", "--live", "/tmp/profile_train/live", "--curve", "/tmp/profile_train/curve"]
runpy.run_path("stages/train.py", run_name="__main__")
