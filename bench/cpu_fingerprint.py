"""Whether two CPUs compute the embedded run's numbers bit for bit: a fingerprint of float32 work.

Loads the prepared base model, then on one fixed batch (seeded token ids) runs what the pipeline
runs: a forward and backward pass (training) and greedy next tokens (generation). Prints the CPU,
torch's kernel choice (capability, threads, MKL's reproducibility mode) and a sha256 of the loss,
the gradients and the logits. Run it on two machines (or under two settings) and compare the
hashes: equal hashes mean equal bits. By default the settings are the pipeline's own
(`tradeoff.numerics.pin_cpu_numerics`); `--unpinned` leaves torch to choose.

    python bench/cpu_fingerprint.py --data data/prepared [--unpinned] [--threads N]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import platform
from pathlib import Path

log = logging.getLogger("cpu_fingerprint")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def digest(*tensors) -> str:
    h = hashlib.sha256()
    for t in tensors:
        h.update(t.detach().float().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def fingerprint(model_json: Path, batch: int, length: int) -> dict:
    import torch

    from tradeoff.model.load import load_prepared

    model, _ = load_prepared(model_json, "float32")
    model.train()
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(100, model.config.vocab_size - 100, (batch, length), generator=gen)
    out = model(input_ids=ids, labels=ids)
    out.loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    model.eval()
    with torch.no_grad():
        logits = model(input_ids=ids).logits[:, -1, :]
    return {"loss": f"{out.loss.item():.10f}", "loss_and_grads": digest(out.loss, *grads),
            "logits": digest(logits), "next_tokens": logits.argmax(-1).tolist()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=Path("data/prepared"), help="the prepared-data folder")
    p.add_argument("--unpinned", action="store_true", help="leave torch's kernel choice and threads alone")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: the pipeline's)")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--length", type=int, default=256)
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not args.unpinned:
        from tradeoff.numerics import pin_cpu_numerics

        pin_cpu_numerics()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    result = {"cpu": cpu_model(), "torch": torch.__version__,
              "capability": torch.backends.cpu.get_cpu_capability(), "threads": torch.get_num_threads(),
              "pinned": not args.unpinned, **fingerprint(args.data / "model.json", args.batch, args.length)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
