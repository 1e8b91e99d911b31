"""Probe: does flex_attention training stall with SmolLM2's shape? bench/train_speed.py's machinery
(TRL SFTTrainer, our packed config) with a random-init Llama of SmolLM2-135M's architecture."""
import faulthandler, os, sys, time, torch
# where a stall sits: dump every thread's stack after PROBE_DUMP seconds, then exit
faulthandler.dump_traceback_later(float(os.environ.get("PROBE_DUMP", "1e9")), exit=True)
sys.path.insert(0, "bench")
import train_speed as ts
from transformers import AutoModelForCausalLM, LlamaConfig

SMOL = dict(vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
            num_key_value_heads=3, max_position_embeddings=8192, rms_norm_eps=1e-5, rope_theta=100000.0,
            tie_word_embeddings=True)
if "--tiny" in sys.argv:
    sys.argv.remove("--tiny"); SMOL.update(num_hidden_layers=2, hidden_size=72, intermediate_size=128)


def smol(attn):
    torch.manual_seed(0)
    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
        return AutoModelForCausalLM.from_config(LlamaConfig(**SMOL, attn_implementation=attn), dtype=torch.bfloat16)


T0 = time.perf_counter()


class Timer(ts.StepTimer):
    def __init__(self, warmup):
        super().__init__(warmup)
        orig = self.callback.on_step_end

        def on_step_end(args, state, control, **kw):
            out = orig(args, state, control, **kw)
            print(f"PROBE step {state.global_step} at {time.perf_counter() - T0:.1f}s", flush=True)
            return out
        self.callback.on_step_end = on_step_end


ts.gemma_2b, ts.StepTimer = smol, Timer
print(f"PROBE start, args {sys.argv[1:]}", flush=True)
ts.main()
