# Where eval_mmlu's "tokenize" phase goes (session 4, on the 2-core CPU): python tok_probe.py <converted 1.5B folder>
import time, os, sys
from pathlib import Path
from transformers import AutoTokenizer
from tradeoff.mmlu.data import load_csv_dir
from tradeoff.mmlu.prompt import fit_shots
from tradeoff.mmlu import cloze
tok = AutoTokenizer.from_pretrained(sys.argv[1])
qs, shots = load_csv_dir(Path("/work/shared/data/mmlu"), "test")
t = time.perf_counter(); letters = []; ctxs = []; chs = []
for s, q_list in qs.items():
    for q in q_list:
        letters.append(fit_shots(tok, q, shots.get(s, []), 5, 32768, False)[0])
        ctxs.append(cloze.fit_cloze(tok, q, shots.get(s, []), 5, 32768, False)[0]); chs.append(q.choices)
print("prompts", len(letters), round(time.perf_counter() - t, 1), "s", flush=True)
t = time.perf_counter(); enc = tok(letters, add_special_tokens=False)["input_ids"]; print("letters tokenize", round(time.perf_counter() - t, 1), "s", sum(map(len, enc)) / len(enc), flush=True)
t = time.perf_counter(); cloze.encode_pairs(tok, ctxs, chs); print("cloze encode_pairs", round(time.perf_counter() - t, 1), "s", flush=True)
