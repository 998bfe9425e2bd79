"""python.mp-queue: multiprocessing.Queue, 1 producer process -> 1 consumer (this) process.

A new dict {id, name, value} per message (the objects of queue.throughput); the consumer sums
id + value and checks every name. Prints messages per second.
"""
import json
import multiprocessing as mp
import sys
import time

from common import one_repetition, target_seconds

NAME = "forkless-benchmark-item-32-chars"


def produce(q, commands):
    while True:
        n = commands.recv()
        if n < 0:
            return
        for i in range(n):
            q.put({"id": i, "name": NAME, "value": i * 0.5})


def main(kind="queue"):
    ctx = mp.get_context()
    q = ctx.SimpleQueue() if kind == "simplequeue" else ctx.Queue()
    commands, remote = ctx.Pipe()
    producer = ctx.Process(target=produce, args=(q, remote))
    producer.start()
    get = q.get
    try:
        def run(n):
            t0 = time.perf_counter()
            commands.send(n)
            total = 0.0
            bad = 0
            for _ in range(n):
                o = get()
                total += o["id"] + o["value"]
                if o["name"] != NAME:
                    bad += 1
            seconds = time.perf_counter() - t0
            if bad or total != 1.5 * n * (n - 1) / 2:
                raise SystemExit(f"{kind}: checksum mismatch")
            return seconds

        n, seconds = one_repetition(run, target_seconds())
    finally:
        commands.send(-1)
        producer.join(10)
        if producer.is_alive():
            producer.kill()
    print(json.dumps(n / seconds))


if __name__ == "__main__":
    main()
