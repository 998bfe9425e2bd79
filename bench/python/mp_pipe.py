"""python.mp-pipe: round trip through a multiprocessing.Pipe between two processes.

This side sends an int, the child receives it and sends it back. Prints microseconds per round trip.
"""
import json
import multiprocessing as mp
import time

from common import one_repetition, target_seconds


def echo(conn):
    while True:
        value = conn.recv()
        if value < 0:
            return
        conn.send(value)


def main():
    ctx = mp.get_context()
    here, there = ctx.Pipe()
    child = ctx.Process(target=echo, args=(there,))
    child.start()
    send, recv = here.send, here.recv
    try:
        def run(n):
            t0 = time.perf_counter()
            for i in range(n):
                send(i)
                if recv() != i:
                    raise SystemExit("pipe ping-pong: reply out of order")
            return time.perf_counter() - t0

        n, seconds = one_repetition(run, target_seconds())
    finally:
        here.send(-1)
        child.join(10)
        if child.is_alive():
            child.kill()
    print(json.dumps(seconds * 1e6 / n))


if __name__ == "__main__":
    main()
