"""Benchmark: does each bundled model, as the project converts it, compute what llama.cpp computes
from the same GGUF file? A wrong tensor layout, a lost special token or a misread norm would make
every score of the study wrong while looking plausible; llama.cpp is the reference engine for GGUF.

For each model, on fixed prompts (the 5-shot MMLU letter prompt, as lm-eval builds it, of the
first test question of each subject, taken in alphabetical order):
- token ids: the converted (transformers) tokenizer against llama.cpp's, on those prompts and on the
  same prompts in the model's chat template; equal sequences counted;
- next-token log-probabilities, teacher-forced along each prompt: |Δ log p| of the true next token
  (mean, 99th percentile, max) and how often both engines rank the same token first;
- MMLU letters: the letter each engine picks after "Answer:", the agreement, both accuracies.

They cannot be bitwise equal: llama.cpp multiplies by the quantized weights directly, rounding its
activations to 8 bits in its CPU kernels, where the project holds the dequantized weights in
float32. The figures say how close "the same model" is here.

Optional: llama-cpp-python builds llama.cpp from source (about 4 minutes on 2 cores), so it is
neither a dependency nor in CI.

    pip install llama-cpp-python==0.3.36
    python bench/llama_cpp_agreement.py --mmlu ../shared/data/mmlu
        [--models bundled bundled-qwen bundled-qwen-1.5b] [--subjects 57] [--shots 5] [--threads 2] [--kv-f32] [--out F]
"""

import argparse
import json
import logging
import platform
import time
from pathlib import Path

import numpy as np
import torch

from tradeoff.mmlu.data import load_csv_dir
from tradeoff.mmlu.prompt import apply_chat, fit_shots
from tradeoff.mmlu.question import LETTERS
from tradeoff.mmlu.task import letter_token_ids
from tradeoff.model.load import load_model, load_tokenizer
from tradeoff.model.obtain import bundled_gguf_path, resolve

log = logging.getLogger("llama_cpp_agreement")
CONTEXT = 4096  # tokens; every 5-shot prompt of the subset fits (fit_shots drops shots otherwise)


def log_softmax(logits: np.ndarray) -> np.ndarray:
    return torch.log_softmax(torch.from_numpy(logits).double(), dim=-1).numpy()


def subset(mmlu: Path, subjects: int):
    questions, shots = load_csv_dir(mmlu, "test")
    names = sorted(questions)[:subjects]
    return [(questions[s][0], shots.get(s, [])) for s in names]


def llama_logits(llm, ids: list[int]) -> np.ndarray:
    """Logits at every position of `ids` (llama.cpp, logits_all)."""
    llm.reset()
    llm.eval(ids)
    return np.array(llm.scores[: len(ids)], copy=True)


def torch_logits(model, ids: list[int]) -> np.ndarray:
    with torch.inference_mode():
        return model(torch.tensor([ids])).logits[0].float().numpy()


def compare_model(name: str, mmlu: Path, subjects: int, shots: int, threads: int, kv_f32: bool = False) -> dict:
    from llama_cpp import Llama

    identity = resolve(name)
    gguf = bundled_gguf_path(name)
    tokenizer = load_tokenizer(identity)
    model = load_model(identity, "float32", device="cpu")
    llm = Llama(str(gguf), n_ctx=CONTEXT, n_batch=512, n_threads=threads, n_threads_batch=threads, logits_all=True,
                verbose=False, **({"type_k": 0, "type_v": 0} if kv_f32 else {}))  # 0: GGML_TYPE_F32
    letters = letter_token_ids(tokenizer)
    tokens_total, token_mismatches = 0, []
    deltas, top1, picks = [], [], []
    seconds = {"llama.cpp": 0.0, "torch": 0.0}
    for q, q_shots in subset(mmlu, subjects):
        prompt, used = fit_shots(tokenizer, q, q_shots, shots, CONTEXT)
        ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]  # what both engines score below
        for form, text in (("plain", prompt), ("chat", apply_chat(tokenizer, prompt))):
            ours = ids if form == "plain" else tokenizer(text, add_special_tokens=False)["input_ids"]
            theirs = llm.tokenize(text.encode(), add_bos=False, special=True)
            tokens_total += 1
            if ours != theirs:
                at = next((i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b), min(len(ours), len(theirs)))
                token_mismatches.append({"subject": q.subject, "form": form, "first_difference": at,
                                         "ours": ours[at:at + 3], "llama_cpp": theirs[at:at + 3],
                                         "text": tokenizer.decode(ours[max(0, at - 3):at + 3])})
        t = time.perf_counter()
        ref = log_softmax(llama_logits(llm, ids))
        seconds["llama.cpp"] += time.perf_counter() - t
        t = time.perf_counter()
        got = log_softmax(torch_logits(model, ids))
        seconds["torch"] += time.perf_counter() - t
        nxt = np.array(ids[1:])
        rows = np.arange(len(ids) - 1)
        deltas.append(np.abs(got[rows, nxt] - ref[rows, nxt]))
        top1.append(got[:-1].argmax(-1) == ref[:-1].argmax(-1))
        mine, reference = got[-1, letters], ref[-1, letters]
        second, first = np.sort(mine)[-2:]
        picks.append({"subject": q.subject, "gold": q.answer, "shots": used, "tokens": len(ids),
                      "ours": LETTERS[int(mine.argmax())], "llama_cpp": LETTERS[int(reference.argmax())],
                      "max_abs_dlogp_letters": round(float(np.abs(mine - reference).max()), 5),
                      "our_margin": round(float(first - second), 5)})
        log.info("%s %s: %d tokens, ours %s, llama.cpp %s (gold %s)", name, q.subject, len(ids),
                 picks[-1]["ours"], picks[-1]["llama_cpp"], q.answer)
    llm.close()
    d, agree = np.concatenate(deltas), np.concatenate(top1)
    n = len(picks)
    return {
        "model": name, "gguf": gguf.name, "gguf_sha256": identity["sha256"], "questions": n,
        "token_ids": {"texts": tokens_total, "equal": tokens_total - len(token_mismatches),
                      "mismatches": token_mismatches},
        "next_token": {"positions": int(d.size), "mean_abs_dlogp": round(float(d.mean()), 5),
                       "p99_abs_dlogp": round(float(np.quantile(d, 0.99)), 5), "max_abs_dlogp": round(float(d.max()), 5),
                       "top1_agree": round(float(agree.mean()), 5)},
        "mmlu_letters": {"agree": sum(p["ours"] == p["llama_cpp"] for p in picks),
                         "acc_ours": round(100 * sum(p["ours"] == p["gold"] for p in picks) / n, 2),
                         "acc_llama_cpp": round(100 * sum(p["llama_cpp"] == p["gold"] for p in picks) / n, 2),
                         "mean_max_abs_dlogp": round(float(np.mean([p["max_abs_dlogp_letters"] for p in picks])), 5),
                         # a disagreement is a near-tie when our top two letters are closer than the engines differ
                         "largest_margin_disagreeing": max((p["our_margin"] for p in picks if p["ours"] != p["llama_cpp"]),
                                                           default=None)},
        "seconds": {k: round(v, 1) for k, v in seconds.items()},
        "questions_detail": picks,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--mmlu", type=Path, required=True, help="folder of MMLU CSVs (dev/, test/)")
    ap.add_argument("--models", nargs="+", default=["bundled", "bundled-qwen", "bundled-qwen-1.5b"],
                    help="bundled model names (params.yaml: model.name)")
    ap.add_argument("--subjects", type=int, default=57, help="first N subjects in alphabetical order, one question each")
    ap.add_argument("--shots", type=int, default=5, help="MMLU shots in each prompt")
    ap.add_argument("--threads", type=int, default=2, help="llama.cpp threads (torch uses its own setting)")
    ap.add_argument("--kv-f32", action="store_true",
                    help="llama.cpp keeps its key/value cache in float32 (default: float16, its own default)")
    ap.add_argument("--out", type=Path, help="also write the figures to this JSON file")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    log.setLevel(logging.INFO)
    import llama_cpp

    results = {"llama_cpp_python": llama_cpp.__version__, "torch": torch.__version__, "cpu": platform.processor() or
               platform.machine(), "torch_threads": torch.get_num_threads(), "subjects": args.subjects, "shots": args.shots,
               "llama_cpp_kv_cache": "float32" if args.kv_f32 else "float16",
               "models": []}
    for name in args.models:
        r = compare_model(name, args.mmlu, args.subjects, args.shots, args.threads, args.kv_f32)
        results["models"].append(r)
        print(f"{name}: token ids equal {r['token_ids']['equal']}/{r['token_ids']['texts']}; next token over "
              f"{r['next_token']['positions']} positions: mean |Δlog p| {r['next_token']['mean_abs_dlogp']}, "
              f"p99 {r['next_token']['p99_abs_dlogp']}, max {r['next_token']['max_abs_dlogp']}, "
              f"same top token {100 * r['next_token']['top1_agree']:.2f}%; MMLU letters agree "
              f"{r['mmlu_letters']['agree']}/{r['questions']} (acc ours {r['mmlu_letters']['acc_ours']}, llama.cpp "
              f"{r['mmlu_letters']['acc_llama_cpp']}); seconds {r['seconds']}", flush=True)
        if args.out:
            args.out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
