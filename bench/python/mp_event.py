"""python.mp-event: round trip between two processes through two multiprocessing.Events.

Each side wait()s for its event, clear()s it and set()s the other's, the same protocol as
event.pingpong. Prints microseconds per round trip.
"""
import json
import multiprocessing as mp
import time

from common import one_repetition, target_seconds


def echo(ping, pong, stop):
    while True:
        ping.wait()
        ping.clear()
        if stop.is_set():
            return
        pong.set()


def main():
    ctx = mp.get_context()
    ping, pong, stop = ctx.Event(), ctx.Event(), ctx.Event()
    child = ctx.Process(target=echo, args=(ping, pong, stop))
    child.start()
    try:
        def run(n):
            t0 = time.perf_counter()
            for _ in range(n):
                ping.set()
                pong.wait()
                pong.clear()
            return time.perf_counter() - t0

        n, seconds = one_repetition(run, target_seconds())
    finally:
        stop.set()
        ping.set()
        child.join(10)
        if child.is_alive():
            child.kill()
    print(json.dumps(seconds * 1e6 / n))


if __name__ == "__main__":
    main()
