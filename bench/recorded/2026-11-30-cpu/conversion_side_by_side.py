"""Side by side on this CPU: the bundled GGUF converted with gguf_parsed_once (ours) and without it (transformers as
it ships), each into a fresh folder; prints both times and whether the written files are byte-identical.
Run from the repo root with the venv active:  python bench/recorded/2026-11-30-cpu/conversion_side_by_side.py
"""
import sys, tempfile, time, hashlib
from pathlib import Path
import tradeoff.model.obtain as o
g = o.bundled_gguf_path()
import torch, transformers  # imports out of the timing
from transformers import AutoModelForCausalLM, AutoTokenizer
outs = {}
for label, ctx in (("patched", True), ("as shipped", False)):
    d = Path(tempfile.mkdtemp())/"out"
    if not ctx:
        real = o.gguf_parsed_once
        import contextlib
        o.gguf_parsed_once = contextlib.nullcontext
    t = time.time(); o.convert_gguf(g, d, "x"); outs[label] = d
    print(label, f"{time.time()-t:.1f} s")
    if not ctx: o.gguf_parsed_once = real
files = sorted(p.name for p in outs["patched"].iterdir())
same = all((outs["patched"]/f).read_bytes() == (outs["as shipped"]/f).read_bytes() for f in files)
print("files", files, "byte-identical:", same)
