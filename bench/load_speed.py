"""Where an evaluation stage's "load model" phase goes, and whether loading straight onto the GPU
saves it: the library's way (`from_pretrained` on the CPU in the target dtype, then `.to(device)`)
beside `from_pretrained(..., device_map=device)` (each tensor read, cast and placed on the device as
it loads), on the same converted checkpoint, each in a fresh process so neither warms the other's
page cache more than the first run did (the first pass of each is discarded). Prints the import,
device start, load and tokenizer seconds of each, and whether the two models' weights are equal.

    python bench/load_speed.py --data data/prepared [--dtype auto] [--repeats 2]
"""

import argparse
import json
import logging
import subprocess
import sys
import time

log = logging.getLogger("load_speed")


def one_load(data: str, dtype: str, way: str) -> dict:
    """In this process: seconds to import, to start the device, to load the model and the tokenizer;
    a checksum of the weights."""
    t0 = time.perf_counter()
    from tradeoff.evaluation import import_model_libraries
    import_model_libraries()  # what the stages' "import torch, transformers" phase times
    import torch
    from transformers import AutoModelForCausalLM

    from tradeoff.model.load import load_tokenizer, model_source, pick_dtype, read_identity
    t1 = time.perf_counter()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.zeros(1, device=device)
    t2 = time.perf_counter()
    identity = read_identity(f"{data}/model.json")
    src, kw = model_source(identity)
    torch_dtype = pick_dtype(dtype) if device != "cpu" else torch.float32
    if way == "to":
        model = AutoModelForCausalLM.from_pretrained(src, dtype=torch_dtype, **kw).to(device)
    else:
        model = AutoModelForCausalLM.from_pretrained(src, dtype=torch_dtype, device_map=device, **kw)
    if device == "cuda":
        torch.cuda.synchronize()
    t3 = time.perf_counter()
    load_tokenizer(identity)
    t4 = time.perf_counter()
    checksum = sum(float(p.double().sum()) for p in model.parameters())
    return {"way": way, "import_s": t1 - t0, "device_s": t2 - t1, "load_s": t3 - t2, "tokenizer_s": t4 - t3,
            "checksum": checksum, "dtype": str(next(model.parameters()).dtype), "device": device}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--data", required=True, help="a prepared-data folder (its model.json names the converted model)")
    p.add_argument("--dtype", default="auto", help="auto (bfloat16 on a GPU) | float32 | bfloat16")
    p.add_argument("--repeats", type=int, default=2, help="timed loads of each way, after one discarded (default 2)")
    p.add_argument("--one", choices=["to", "device_map"], help=argparse.SUPPRESS)  # a child process's single load
    args = p.parse_args()
    if args.one:
        print(json.dumps(one_load(args.data, args.dtype, args.one)))
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    runs = {"to": [], "device_map": []}
    for i in range(args.repeats + 1):
        for way in runs:
            out = subprocess.run([sys.executable, __file__, "--data", args.data, "--dtype", args.dtype, "--one", way],
                                 check=True, capture_output=True, text=True).stdout
            result = json.loads(out.strip().splitlines()[-1])
            log.info("%s", result)
            if i:
                runs[way].append(result)
    for way, rs in runs.items():
        mean = {k: sum(r[k] for r in rs) / len(rs) for k in ("import_s", "device_s", "load_s", "tokenizer_s")}
        print(f"{way:10s} import {mean['import_s']:5.1f} s, device start {mean['device_s']:5.1f} s, "
              f"load {mean['load_s']:5.1f} s, tokenizer {mean['tokenizer_s']:4.1f} s "
              f"({rs[0]['dtype']} on {rs[0]['device']}, {len(rs)} runs)")
    same = runs["to"][0]["checksum"] == runs["device_map"][0]["checksum"]
    ratio = (sum(r["load_s"] for r in runs["to"]) / max(sum(r["load_s"] for r in runs["device_map"]), 1e-9))
    print(f"load speed-up of device_map: {ratio:.2f}x; weights {'equal' if same else 'DIFFER'} (sum of all weights)")


if __name__ == "__main__":
    main()
