"""python.fork / python.spawn: multiprocessing.Process start() -> first line of run().

`mp_start.py <seconds> <method>`: starts processes one after another (each joined before the
next, untimed) for about <seconds>, at least 3; the child's first line records
time.perf_counter() (CLOCK_MONOTONIC, shared by every process) in a shared double. Prints the
mean milliseconds from start() to that line.
"""
import json
import multiprocessing as mp
import sys
import time


def first_line(stamp, ready):
    stamp.value = time.perf_counter()
    ready.set()


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 0.3
    method = sys.argv[2] if len(sys.argv) > 2 else "fork"
    ctx = mp.get_context(method)
    stamp = ctx.Value("d", 0.0, lock=False)
    ready = ctx.Event()

    def once():
        ready.clear()
        p = ctx.Process(target=first_line, args=(stamp, ready))
        t0 = time.perf_counter()
        p.start()
        if not ready.wait(60):
            raise SystemExit(f"{method}: the child did not run within 60 s")
        latency = stamp.value - t0
        p.join()
        if p.exitcode != 0:
            raise SystemExit(f"{method}: the child exited {p.exitcode}")
        return latency

    for _ in range(2):  # warm-up: imports, the forkserver/spawn machinery
        once()
    total = 0.0
    count = 0
    began = time.perf_counter()
    while count < 3 or time.perf_counter() - began < seconds:
        total += once()
        count += 1
    print(json.dumps(total * 1e3 / count))


if __name__ == "__main__":
    main()
