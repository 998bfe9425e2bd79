// connection.ts: a pipe end owns a reference to each of its channels; when its block is freed
// (every holder released it, or the reaper dropped the last one a dead process held) it closes
// the channel it writes to — the reader at the other end sees end of file — and lets go of both.
import { E_CONN_CHANNEL, conn_init, conn_input, conn_output } from "../../assembly/connection";
import { RING_HEADER, RING_PIPE, R_EOF, R_TIMEOUT, ring_init, q_put, q_get, q_eof } from "../../assembly/ring";
import { E_STALE, OK, blockAt, block_generation, block_refs } from "../../assembly/arena";
import { block_open, block_release } from "../../assembly/refs";
import { KIND_CHANNEL, KIND_CONNECTION, KIND_QUEUE, KIND_VALUE } from "../../assembly/kinds";
import { Figures, expectFigures, alloc, setup, me, spawn, kill, forget, indexOf } from "./support";

function channel(): i32 {
  const q = alloc(RING_HEADER + 1024, KIND_CHANNEL);
  expect(ring_init(q, 1024, 0, RING_PIPE)).toBe(0);
  return q;
}
function release(p: i32, id: i32): i32 {
  return block_release(p, block_generation(p), id, indexOf(id, <usize>p));
}

let buf: i32 = 0;
function init(): void {
  setup();
  if (buf == 0) buf = alloc(64, KIND_VALUE);
}

describe("conn_init", () => {
  beforeAll(init);

  test("takes a reference of its own on each channel it is given", () => {
    const a = channel();
    const b = channel();
    const c = alloc(16, KIND_CONNECTION);
    expect(conn_init(c, a, b)).toBe(0);
    expect(conn_input(c)).toBe(a);
    expect(conn_output(c)).toBe(b);
    expect(block_refs(a)).toBe(2);
    expect(block_refs(b)).toBe(2);
    const r = alloc(16, KIND_CONNECTION);
    expect(conn_init(r, a, 0)).toBe(0); // a read-only end
    expect(conn_output(r)).toBe(0);
    expect(block_refs(a)).toBe(3);
    release(r, me());
    release(c, me());
    expect(block_refs(a)).toBe(1);
    expect(block_refs(b)).toBe(1);
    release(a, me());
    release(b, me());
  });

  test("a channel that is not a live channel block: E_CONN_CHANNEL", () => {
    const before = new Figures();
    const c = alloc(16, KIND_CONNECTION);
    const queue = alloc(RING_HEADER + 1024, KIND_QUEUE);
    const dead = channel();
    release(dead, me());
    expect(conn_init(c, queue, 0)).toBe(E_CONN_CHANNEL);
    expect(conn_init(c, 0, queue)).toBe(E_CONN_CHANNEL);
    expect(conn_init(c, dead, 0)).toBe(E_CONN_CHANNEL);
    expect(conn_init(c, queue + 16, 0)).toBe(E_CONN_CHANNEL);
    expect(conn_input(c)).toBe(0);
    expect(block_refs(queue)).toBe(1);
    release(c, me());
    release(queue, me());
    expectFigures(before);
  });
});

describe("a Connection block freed", () => {
  beforeAll(init);

  test("closes its output channel (end of file once read) and releases both channels", () => {
    const before = new Figures();
    const a = channel(); // this end reads a
    const b = channel(); // and writes b
    const c = alloc(16, KIND_CONNECTION);
    expect(conn_init(c, a, b)).toBe(0);
    expect(q_put(b, me(), buf, 5, 0, 0, 0)).toBe(1); // written before the close
    const other = spawn();
    expect(block_open(c, KIND_CONNECTION, block_generation(c), other)).toBeGreaterThanOrEqual(0);
    expect(release(c, me())).toBe(0); // another process still has this end: nothing closes
    expect(q_eof(b)).toBe(0);
    expect(q_get(b, me(), buf, 0)).toBe(5);
    expect(q_get(b, me(), buf, 0)).toBe(R_TIMEOUT);
    expect(release(c, other)).toBe(1);
    expect(blockAt(c)).toBe(E_STALE);
    expect(q_eof(b)).toBe(1);
    expect(q_get(b, me(), buf, -1)).toBe(R_EOF);
    expect(q_eof(a)).toBe(0); // the channel it read is not closed
    expect(block_refs(a)).toBe(1);
    expect(block_refs(b)).toBe(1);
    kill(other);
    forget(other);
    release(a, me());
    release(b, me());
    expectFigures(before);
  });

  test("a message written before the close is still read before end of file", () => {
    const b = channel();
    const c = alloc(16, KIND_CONNECTION);
    expect(conn_init(c, 0, b)).toBe(0);
    expect(q_put(b, me(), buf, 7, 0, 0, 0)).toBe(1);
    release(c, me());
    expect(q_eof(b)).toBe(0);
    expect(q_get(b, me(), buf, -1)).toBe(7);
    expect(q_get(b, me(), buf, -1)).toBe(R_EOF);
    release(b, me());
  });

  test("channels only the Connection held are freed with it", () => {
    const before = new Figures();
    const a = channel();
    const b = channel();
    const c = alloc(16, KIND_CONNECTION);
    expect(conn_init(c, a, b)).toBe(0);
    release(a, me());
    release(b, me());
    expect(blockAt(a)).toBe(OK);
    expect(release(c, me())).toBe(1);
    expect(blockAt(a)).toBe(E_STALE);
    expect(blockAt(b)).toBe(E_STALE);
    expectFigures(before);
  });

  test("a pipe end only a dead process held: the reaper frees it, and the reader sees end of file", () => {
    const before = new Figures();
    const writer = spawn();
    const a = channel(); // writer → spec
    const b = channel(); // spec → writer
    const end = alloc(16, KIND_CONNECTION, writer);
    expect(conn_init(end, b, a)).toBe(0);
    expect(q_put(a, writer, buf, 3, 0, 0, 0)).toBe(1);
    kill(writer);
    expect(blockAt(end)).toBe(E_STALE);
    expect(q_get(a, me(), buf, -1)).toBe(3);
    expect(q_get(a, me(), buf, -1)).toBe(R_EOF);
    expect(q_eof(b)).toBe(0);
    forget(writer);
    release(a, me());
    release(b, me());
    expectFigures(before);
  });
});
