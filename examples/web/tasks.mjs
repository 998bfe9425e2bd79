// What the demo's processes run. Each process is a module Web Worker that imports this
// module (or, in a bundle, the bundle that re-exports it) and finds hashWorker by its
// exported name, so: export it, and do nothing at the top level.
import { currentProcess } from "../../dist/forkless.mjs";

export const here = import.meta.url;

/** One block is 256 KiB of pseudo-random words. */
export const BLOCK_WORDS = 65536;

/** Hashes `blocks` blocks of the stream seeded by `seed`; onBlock(b) after each. Pure: the page can check it. */
export function hashStream(seed, blocks, onBlock = () => {}) {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  let x = Math.imul(seed + 1, 0x9e3779b9) | 1;
  const block = new Uint32Array(BLOCK_WORDS);
  for (let b = 0; b < blocks; b++) {
    for (let k = 0; k < BLOCK_WORDS; k++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      block[k] = x;
    }
    for (let k = 0; k < BLOCK_WORDS; k++) h = Math.imul(h ^ block[k], 0x01000193);
    onBlock(b);
  }
  return h >>> 0;
}

/**
 * A process: waits for `go`, hashes its stream, publishes progress in a shared Array
 * (progress[i] = blocks done), adds to a shared Value under its lock, and reports
 * start and finish through a Queue.
 */
export function hashWorker(i, blocks, go, progress, total, log) {
  go.wait();
  const me = currentProcess();
  log.put({ i, type: "start", name: me.name, pid: me.pid });
  const started = performance.now();
  const hash = hashStream(i, blocks, (b) => {
    progress.set(i, b + 1);
    total.withLock(() => (total.value += 1));
  });
  log.put({ i, type: "done", hash, ms: Math.round(performance.now() - started) });
}
