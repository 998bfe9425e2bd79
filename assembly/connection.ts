// A pipe end (host/connection.ts): the block every process's Connection object for that end
// refers to. It owns a reference to each of its channels (rings). When the block is freed —
// every process closed its copy, dropped it, or ended (the reaper drops what a terminated
// process held) — it closes the channel it writes to, so the reader at the other end gets
// end of file, as with an OS pipe whose every write end is closed.
//
// Block payload (16 bytes):
//   +0 i32 input    payload of the channel this end reads (0: write-only end)
//   +4 i32 output   payload of the channel this end writes (0: read-only end)
import { blockAt, blockDrop, blockKind, blockRetain, block_generation, HEADER, OK } from "./arena";
import { ringClose } from "./ring";
import { T_FREE_QUEUE } from "./threads";
import { KIND_CHANNEL } from "./kinds";

const INPUT: usize = 0;
const OUTPUT: usize = 4;

export const E_CONN_CHANNEL: i32 = -61;

/**
 * Gives a fresh Connection block its channels (each 0 or a live channel the caller holds):
 * the block takes a reference of its own on each. 0, or E_CONN_CHANNEL for a bad channel.
 */
export function conn_init(c: i32, input: i32, output: i32): i32 {
  if (input != 0 && (blockAt(input) != OK || blockKind(<usize><u32>input) != KIND_CHANNEL)) return E_CONN_CHANNEL;
  if (output != 0 && (blockAt(output) != OK || blockKind(<usize><u32>output) != KIND_CHANNEL)) return E_CONN_CHANNEL;
  if (input != 0) {
    if (!blockRetain(<usize><u32>input, block_generation(input))) return E_CONN_CHANNEL;
    atomic.store<i32>(<usize>c + INPUT, input); // the block's own reference, recorded at once
  }
  if (output != 0) {
    if (!blockRetain(<usize><u32>output, block_generation(output))) return E_CONN_CHANNEL;
    atomic.store<i32>(<usize>c + OUTPUT, output);
  }
  return 0;
}

export function conn_input(c: i32): i32 {
  return atomic.load<i32>(<usize>c + INPUT);
}

export function conn_output(c: i32): i32 {
  return atomic.load<i32>(<usize>c + OUTPUT);
}

/** Drops a block-owned reference recorded in the word at `field`, queueing the block on `slot` if it was the last. */
@inline export function dropField(slot: usize, field: usize): void {
  const p = <usize>atomic.load<i32>(field);
  if (p == 0) return;
  const last = blockDrop(p);
  // atomic w.r.t. termination
  atomic.store<i32>(field, 0);
  if (last) {
    atomic.store<i32>(p - HEADER + 4, atomic.load<i32>(slot + T_FREE_QUEUE));
    atomic.store<i32>(slot + T_FREE_QUEUE, <i32>(p - HEADER));
  }
}

/** The block's last reference went: close the written channel, let go of both. Safe to repeat. */
export function connFinalize(c: usize, slot: usize): void {
  const output = <usize>atomic.load<i32>(c + OUTPUT);
  if (output != 0) ringClose(output);
  dropField(slot, c + OUTPUT);
  dropField(slot, c + INPUT);
}
