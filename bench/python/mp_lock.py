"""python.mp-lock: multiprocessing.Lock acquire()+release(), uncontended, one process. Prints ns/op."""
import json
import multiprocessing as mp
import time

from common import one_repetition, target_seconds


def main():
    lock = mp.Lock()
    acquire, release = lock.acquire, lock.release

    def run(n):
        t0 = time.perf_counter()
        for _ in range(n):
            acquire()
            release()
        return time.perf_counter() - t0

    n, seconds = one_repetition(run, target_seconds())
    print(json.dumps(seconds * 1e9 / n))


if __name__ == "__main__":
    main()
