"""The phase timer the evaluation stages log, and the host-side helper it showed was slow."""

import logging
import time

import pytest

from tradeoff import timing


def test_phases_add_up_and_are_logged_once(caplog):
    timing.log_phases(logging.getLogger("t"), "drain")  # start clean
    for _ in range(2):
        with timing.phase("forward"):
            time.sleep(0.01)
    with pytest.raises(ValueError), timing.phase("tokenize"):
        raise ValueError("a failing phase still counts")
    seconds = timing.seconds()
    assert set(seconds) == {"forward", "tokenize"} and seconds["forward"] >= 0.02
    with caplog.at_level(logging.INFO, logger="t"):
        timing.log_phases(logging.getLogger("t"), "time by phase")
    assert "time by phase: forward" in caplog.text and "tokenize" in caplog.text
    assert timing.seconds() == {}


def test_common_prefix_len_equals_the_token_by_token_scan():
    """kv_cache.common_prefix_len reads only the lexicographic min and max: the same answer."""
    import random

    from tradeoff.model.kv_cache import common_prefix_len

    def scan(seqs):
        n = min(len(s) for s in seqs)
        return next((i for i in range(n) if any(s[i] != seqs[0][i] for s in seqs)), n)

    rng = random.Random(0)
    for _ in range(2000):
        stem = [rng.randrange(3) for _ in range(rng.randrange(6))]
        seqs = [stem + [rng.randrange(3) for _ in range(rng.randrange(5))] for _ in range(rng.randrange(1, 6))]
        assert common_prefix_len(seqs) == scan(seqs), seqs
