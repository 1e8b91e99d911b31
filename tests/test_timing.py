"""The phase timer the evaluation stages log: sums repeats, survives an exception, logs and resets."""

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
