"""tradeoff: what LoRA fine-tuning on Spider buys (execution accuracy) and costs (MMLU)."""

__version__ = "0.1.0"


from pathlib import Path


class TradeoffError(Exception):
    """A user-facing error: the message names the file and what is wrong, on one line."""


def read_text(path: str | Path) -> str:
    """A UTF-8 text file given to the project; missing, a folder or bad bytes is a TradeoffError naming it."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TradeoffError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise TradeoffError(f"{path}: is a folder, not a file") from None
    except UnicodeDecodeError as e:
        raise TradeoffError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
