"""python.mp-simplequeue: multiprocessing.SimpleQueue, 1 producer process -> 1 consumer process (see mp_queue.py)."""
from mp_queue import main

if __name__ == "__main__":
    main("simplequeue")
