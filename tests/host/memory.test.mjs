// Shared memory exhaustion: a worker with its own 2 MiB runtime allocates until
// OutOfSharedMemoryError, whose message says how to fix it; closing objects makes room again.
import { test } from "node:test";
import assert from "node:assert/strict";
import { runWorkers } from "./helpers/workers.mjs";

const MAX = 2 * 1024 * 1024;

let result;

test("allocating past maxMemoryBytes throws OutOfSharedMemoryError; closing objects makes room again", async () => {
  const [r] = await runWorkers("misc.mjs", "exhaust", [{ maxMemoryBytes: MAX }], { attach: false });
  result = r;
  assert.match(r.zeroMax, /^RangeError: forkless.configure: maxMemoryBytes must be a positive number of bytes; got 0/);
  assert.match(r.initialAboveMax, /^RangeError: .*initialMemoryBytes must not exceed maxMemoryBytes/);
  assert.equal(r.again, 10, "after closing 10 Locks, exactly 10 new ones fit");
  assert.equal(r.isOutOfMemory, true, `expected OutOfSharedMemoryError, got ${r.name}: ${r.message}`);
  assert.equal(r.name, "OutOfSharedMemoryError");
  assert.match(r.message, /^Lock: the shared memory is full/);
  assert.match(r.message, /close objects you no longer need, or raise maxMemoryBytes in configure\(\)/);
  assert.match(r.message, new RegExp(`of ${MAX}\\b`), "the message names the limit");
  // The limit was the one configured, and it was really reached.
  assert.equal(r.start.maxMemoryBytes, MAX);
  assert.equal(r.full.memoryBytes, MAX);
  // A Lock is a 32-byte block plus 4 bytes in its thread's reference table (which doubles as it grows).
  assert.ok(r.count > 45_000, `only ${r.count} Locks fit in 2 MiB`);
  // What the memory holds besides objects: the arena's tables below the heap, and forkless's
  // bookkeeping (the reference table records every Lock: 4 bytes each, doubling as it grows).
  const used = r.full.bytes + r.full.internalBytes + r.full.heapStart;
  assert.ok(used > MAX - 128 * 1024, `the arena gave up with ${used} of ${MAX} bytes in use`);
  assert.deepEqual(r.others, ["OutOfSharedMemoryError", "OutOfSharedMemoryError", "OutOfSharedMemoryError", "OutOfSharedMemoryError"]);
  assert.equal(r.afterRefill, "OutOfSharedMemoryError", "the 11th Lock after closing 10 must not fit");
  assert.equal(r.end.blocks, r.start.blocks, "every Lock closed: back to the blocks at the start");
});

// A page whose blocks are all free goes back to the arena for blocks of any size: once the
// memory was filled with 32-byte blocks (Lock) and they were closed, a 64-byte one (Barrier) fits.
test("after filling the memory with small objects and closing them all, a larger object fits", () => {
  assert.ok(result, "the previous test did not run");
  assert.equal(result.barrierAfterClose, "allocated");
});
