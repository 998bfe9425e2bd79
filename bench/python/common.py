"""Shared by the Python baselines: calibrate n to a target duration, warm up, time one repetition.

Each script run is ONE repetition (bench/run.mjs runs the script once per repetition) and
prints one JSON number in the baseline's unit.
"""
import sys
import time


def target_seconds(default=0.3):
    return float(sys.argv[1]) if len(sys.argv) > 1 else default


def one_repetition(run, target):
    """run(n) performs n operations and returns elapsed seconds. Returns (n, seconds) of the timed run."""
    n = 1000
    spent = 0.0
    while True:
        t = run(n)
        spent += t
        if t >= target / 8:
            n = max(1, int(n * target / t))
            break
        n *= 4 if t > 0 else 16
    while spent < target:  # warm-up, about one repetition's worth
        spent += run(n)
    return n, run(n)
