"""tradeoff: what LoRA fine-tuning on Spider buys (execution accuracy) and costs (MMLU)."""

__version__ = "0.1.0"


class TradeoffError(Exception):
    """A user-facing error: the message names the file and what is wrong, on one line."""
