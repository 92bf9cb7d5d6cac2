"""The CLI's Ctrl-C handling (dwn_mcu/interrupts.py): a write is never cut in the middle."""

import os
import signal

import pytest

from dwn_mcu import interrupts


def test_sigint_during_a_write_is_taken_when_the_write_ends():
    steps = []
    with interrupts.handled():
        with pytest.raises(KeyboardInterrupt):
            with interrupts.deferred():
                os.kill(os.getpid(), signal.SIGINT)  # the handler runs here, and only marks it
                steps.append("finished the write")
        steps.append("after")
    assert steps == ["finished the write", "after"]


def test_handler_is_the_cli_s_only_while_it_runs():
    before = signal.getsignal(signal.SIGINT)
    with interrupts.handled():
        assert signal.getsignal(signal.SIGINT) is interrupts._on_sigint
    assert signal.getsignal(signal.SIGINT) is before
