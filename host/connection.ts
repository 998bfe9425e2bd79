// Pipe and Connection (Python's multiprocessing.connection). Each direction is a ring
// (a Channel) in shared memory; each end is a Connection block that owns its channels
// (assembly/connection.ts). When the last reference to an end goes — every process closed
// its copy, dropped it, or ended, however it ended — the channel it writes to closes, and a
// reader that finds it empty gets EOFError, as with an OS pipe whose every write end is closed.
import { Kind, SharedObject, TransitBuilder, registerKind, type Handle } from "./handles";
import { Ring, END_OF_FILE, capacityFrom, type Received } from "./queues";
import { BufferTooShortError, EOFError, MessageTooLongError, OutOfSharedMemoryError, ValueError } from "./errors";
import { FOREVER, checkTimeout, remaining } from "./options";
import { mayBlock, now } from "./platform";
import type { Runtime } from "./runtime";
import type { Cancellation, Sentinel } from "./process";
import { abi } from "./abi";

const FRAME_VALUE = 0;
const FRAME_BYTES = 1;

/** One direction of a pipe: a view of a ring the Connection block holds. */
class Channel extends Ring {
  static override readonly handleKind: string = "Channel";

  /** A new channel, held by this thread until a Connection block takes it over. */
  static create(capacity: number): Channel {
    const channel = Object.create(Channel.prototype) as Channel;
    channel._createRing(Kind.Channel, capacity, 0, abi.RING_PIPE);
    return channel;
  }

  /** A view of a channel a Connection block holds (valid while that Connection is open). */
  static borrow(rt: Runtime, p: number): Channel {
    const channel = Object.create(Channel.prototype) as Channel;
    channel._borrow(rt, p, Kind.Channel);
    channel._chunk = Math.min(rt.exports.ring_chunk_max(p), 64 * 1024);
    return channel;
  }

  address(): number {
    return this._live();
  }

  putBytes(bytes: Uint8Array, timeoutMs: number, transit: TransitBuilder): boolean {
    return this._putBytes(bytes, timeoutMs, transit);
  }
  putBytesAsync(bytes: Uint8Array, transit: TransitBuilder): Promise<boolean> {
    return this._putBytesAsync(bytes, FOREVER, transit);
  }
  getBytes(timeoutMs: number): Received | null | typeof END_OF_FILE {
    return this._getBytes(timeoutMs);
  }
  getBytesAsync(timeoutMs: number): Promise<Received | null | typeof END_OF_FILE> {
    return this._getBytesAsync(timeoutMs);
  }
  encodeValue(value: unknown, transit: TransitBuilder): Uint8Array {
    return this._encode(value, transit);
  }
  decodeValue(message: Received, body: Uint8Array): unknown {
    return this._decode({ ...message, bytes: body });
  }
  dropMessage(message: Received): void {
    if (message.transit !== 0) this._ex.block_release(message.transit, this._ex.block_generation(message.transit), this._id, message.index);
  }
  blockingCheck(what: string, alternative: string): void {
    this._assertMayBlock(what, alternative);
  }

  /** Readable now or within timeoutMs (data, or end of file)? The remains of a message whose writer died are dropped on the way. */
  poll(timeoutMs: number): boolean {
    const q = this._live();
    const deadline = timeoutMs < 0 ? FOREVER : now() + timeoutMs;
    while (true) {
      const left = deadline < 0 ? FOREVER : remaining(deadline, now());
      const verdict = this._ex.q_poll(q, this._id, left);
      if (verdict !== abi.R_ABANDONED) return verdict === 1;
      this._dropAbandoned();
    }
  }

  async pollAsync(timeoutMs: number, cancel?: Cancellation): Promise<boolean> {
    const q = this._live();
    const deadline = timeoutMs < 0 ? FOREVER : now() + timeoutMs;
    const stopWaking = cancel?.onCancel(() => void Atomics.notify(this._rt.int32(), (q + abi.RING_TAIL_OFFSET) >> 2));
    try {
      return await this._pollLoop(q, deadline, cancel);
    } finally {
      stopWaking?.();
    }
  }

  private async _pollLoop(q: number, deadline: number, cancel: Cancellation | undefined): Promise<boolean> {
    while (true) {
      if (cancel?.cancelled) return false;
      const verdict = this._ex.q_poll(q, this._id, 0);
      if (verdict === abi.R_ABANDONED) {
        this._dropAbandoned();
        continue;
      }
      if (verdict === 1) return true;
      const left = remaining(deadline, now());
      if (left === 0) return false;
      await this._waitForData(q, left);
      this._stillOpen();
    }
  }

  /**
   * A get with no wait reads the unfinished message, finds it abandoned and drops it. If a
   * complete message stood behind it, that one is out of the ring now: it is kept here for
   * the next receive (a message is never lost to a poll).
   */
  private _dropAbandoned(): void {
    const message = this._getBytes(0);
    if (message !== null && message !== END_OF_FILE) this._heldMessage = { ...message, bytes: message.bytes.slice() };
  }

  declare _heldMessage: Received | undefined;

  /** A message poll() had to take out of the ring while dropping an abandoned one. */
  takeHeld(): Received | undefined {
    const message = this._heldMessage;
    this._heldMessage = undefined;
    return message;
  }
}

export interface PipeOptions {
  /** false: the first connection only receives and the second only sends. Default true. */
  duplex?: boolean;
  /** Ring bytes per direction (rounded up to a power of two; default 256 KiB). */
  capacity?: number;
}

/** Python's Pipe(duplex=True): two connected Connection objects. */
export function Pipe(options: PipeOptions = {}): [Connection, Connection] {
  if (typeof options !== "object" || options === null) {
    throw new TypeError("Pipe: expected an options object like { duplex: false, capacity: 65536 }");
  }
  const duplex = options.duplex ?? true;
  if (typeof duplex !== "boolean") throw new TypeError("Pipe: duplex must be true or false");
  const capacity = capacityFrom(options.capacity, "Pipe");
  const a = Channel.create(capacity);
  let b: Channel | null = null;
  try {
    b = duplex ? Channel.create(capacity) : null;
    // a carries conn2 → conn1; b carries conn1 → conn2.
    const first = Connection._make(a, b);
    let second: Connection;
    try {
      second = Connection._make(b, a);
    } catch (error) {
      first.close();
      throw error;
    }
    return [first, second];
  } finally {
    // The Connection blocks hold the channels now.
    a.close();
    b?.close();
  }
}

export class Connection extends SharedObject implements Sentinel {
  static override readonly handleKind: string = "Connection";
  declare private _in: Channel | null;
  declare private _out: Channel | null;

  /** Connections come from Pipe() or Connection.fromHandle(). */
  private constructor() {
    super();
  }

  static _make(input: Channel | null, output: Channel | null): Connection {
    const connection = Object.create(Connection.prototype) as Connection;
    connection._allocate(Kind.Connection, 16);
    const status = connection._ex.conn_init(connection._p, input?.address() ?? 0, output?.address() ?? 0);
    if (status !== 0) {
      connection.close();
      throw new OutOfSharedMemoryError("Pipe: could not give the connection its channels");
    }
    connection._views();
    return connection;
  }

  static fromHandle(handle: Handle): Connection {
    const connection = Object.create(Connection.prototype) as Connection;
    connection._open(Kind.Connection, handle, "Connection");
    connection._views();
    return connection;
  }

  private _views(): void {
    const input = this._ex.conn_input(this._p);
    const output = this._ex.conn_output(this._p);
    this._in = input === 0 ? null : Channel.borrow(this._rt, input);
    this._out = output === 0 ? null : Channel.borrow(this._rt, output);
  }

  get readable(): boolean {
    return this._in !== null;
  }

  get writable(): boolean {
    return this._out !== null;
  }

  private _reader(what: string): Channel {
    this._live();
    if (!this._in) throw new ValueError(`Connection.${what}: this end is write-only (Pipe({ duplex: false }) gives [receiver, sender])`);
    return this._in;
  }

  private _writer(what: string): Channel {
    this._live();
    if (!this._out) throw new ValueError(`Connection.${what}: this end is read-only (Pipe({ duplex: false }) gives [receiver, sender])`);
    return this._out;
  }

  private static _frame(kind: number, body: Uint8Array): Uint8Array {
    const framed = new Uint8Array(body.length + 1);
    framed[0] = kind;
    framed.set(body, 1);
    return framed;
  }

  /** Runs an asynchronous call with this end pinned: closing it meanwhile cannot free its channels under the call. */
  private async _pinned<T>(fn: () => Promise<T>): Promise<T> {
    this._pin();
    try {
      return await fn();
    } finally {
      this._unpin();
    }
  }

  /** Sends any structured-clone value (forkless objects arrive live). */
  send(value: unknown): void {
    const out = this._writer("send");
    const transit = new TransitBuilder();
    const framed = Connection._frame(FRAME_VALUE, out.encodeValue(value, transit));
    if (out.putBytes(framed, mayBlock() ? FOREVER : 0, transit)) return;
    out.blockingCheck("send()", "await connection.sendAsync(value)");
  }

  async sendAsync(value: unknown): Promise<void> {
    const out = this._writer("sendAsync");
    const transit = new TransitBuilder();
    const framed = Connection._frame(FRAME_VALUE, out.encodeValue(value, transit));
    return this._pinned(async () => {
      await out.putBytesAsync(framed, transit);
    });
  }

  /** Python's send_bytes(buf, offset=0, size=None). */
  sendBytes(buffer: ArrayBuffer | SharedArrayBuffer | ArrayBufferView, offset = 0, size?: number): void {
    const out = this._writer("sendBytes");
    const framed = Connection._bytesFrame(buffer, offset, size);
    if (out.putBytes(framed, mayBlock() ? FOREVER : 0, new TransitBuilder())) return;
    out.blockingCheck("sendBytes()", "await connection.sendBytesAsync(buffer)");
  }

  /** sendBytes() for threads that may not block. */
  async sendBytesAsync(buffer: ArrayBuffer | SharedArrayBuffer | ArrayBufferView, offset = 0, size?: number): Promise<void> {
    const out = this._writer("sendBytesAsync");
    const framed = Connection._bytesFrame(buffer, offset, size);
    return this._pinned(async () => {
      await out.putBytesAsync(framed, new TransitBuilder());
    });
  }

  private static _bytesFrame(buffer: ArrayBuffer | SharedArrayBuffer | ArrayBufferView, offset: number, size: number | undefined): Uint8Array {
    const bytes =
      buffer instanceof ArrayBuffer || (typeof SharedArrayBuffer === "function" && buffer instanceof SharedArrayBuffer)
        ? new Uint8Array(buffer)
        : ArrayBuffer.isView(buffer)
          ? new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)
          : null;
    if (!bytes) throw new TypeError("Connection.sendBytes: expected an ArrayBuffer, a SharedArrayBuffer, or a typed array / DataView");
    if (!Number.isInteger(offset) || offset < 0 || offset > bytes.length) throw new ValueError("Connection.sendBytes: offset is negative or past the end of the buffer");
    const length = size ?? bytes.length - offset;
    if (!Number.isInteger(length) || length < 0 || offset + length > bytes.length) {
      throw new ValueError("Connection.sendBytes: size is negative or runs past the end of the buffer");
    }
    return Connection._frame(FRAME_BYTES, bytes.subarray(offset, offset + length));
  }

  private _receive(what: string): Received {
    const input = this._reader(what);
    const held = input.takeHeld();
    if (held) return held;
    let framed = input.getBytes(mayBlock() ? FOREVER : 0);
    if (framed === null) {
      input.blockingCheck(`${what}()`, "await connection.recvAsync()");
      framed = input.getBytes(FOREVER);
    }
    if (framed === END_OF_FILE || framed === null) {
      throw new EOFError(`Connection.${what}: the other end is closed and nothing is left to read`);
    }
    return framed;
  }

  private _unframe(message: Received, input: Channel): unknown {
    const framed = message.bytes;
    const body = framed.subarray(1);
    if (framed[0] === FRAME_BYTES) {
      input.dropMessage(message);
      return body.slice();
    }
    return input.decodeValue(message, body);
  }

  private _bytesOf(message: Received, input: Channel, what: string): Uint8Array {
    if (message.bytes[0] !== FRAME_BYTES) {
      input.dropMessage(message);
      throw new ValueError(`Connection.${what}: the next message was sent with send(), not sendBytes(); read it with recv()`);
    }
    return message.bytes.subarray(1);
  }

  /** Blocks for the next value; EOFError when the other end is closed and nothing is left. */
  recv(): any {
    const message = this._receive("recv");
    return this._unframe(message, this._in!);
  }

  async recvAsync(): Promise<any> {
    const input = this._reader("recvAsync");
    return this._pinned(async () => {
      const held = input.takeHeld();
      const message = held ?? (await input.getBytesAsync(FOREVER));
      if (message === END_OF_FILE || message === null) {
        throw new EOFError("Connection.recvAsync: the other end is closed and nothing is left to read");
      }
      return this._unframe(message, input);
    });
  }

  /** Python's recv_bytes(maxlength): MessageTooLongError (message dropped) if longer than maxLength. */
  recvBytes(maxLength?: number): Uint8Array {
    if (maxLength !== undefined && (!Number.isInteger(maxLength) || maxLength < 0)) {
      throw new ValueError("Connection.recvBytes: maxLength must be a non-negative integer");
    }
    const body = this._bytesOf(this._receive("recvBytes"), this._in!, "recvBytes");
    if (maxLength !== undefined && body.length > maxLength) {
      throw new MessageTooLongError(`Connection.recvBytes: the message has ${body.length} bytes, more than maxLength ${maxLength}; it was dropped`);
    }
    return body.slice();
  }

  /** Python's recv_bytes_into(buf, offset=0): bytes written; BufferTooShortError (with .data) if it does not fit. */
  recvBytesInto(buffer: ArrayBuffer | ArrayBufferView, offset = 0): number {
    const target =
      buffer instanceof ArrayBuffer
        ? new Uint8Array(buffer)
        : ArrayBuffer.isView(buffer)
          ? new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)
          : null;
    if (!target) throw new TypeError("Connection.recvBytesInto: expected an ArrayBuffer or a typed array / DataView");
    if (!Number.isInteger(offset) || offset < 0 || offset > target.length) throw new ValueError("Connection.recvBytesInto: offset is negative or past the end of the buffer");
    const body = this._bytesOf(this._receive("recvBytesInto"), this._in!, "recvBytesInto");
    if (body.length > target.length - offset) {
      throw new BufferTooShortError(`Connection.recvBytesInto: the message (${body.length} bytes) does not fit; it is in error.data`, body.slice());
    }
    target.set(body, offset);
    return body.length;
  }

  /** Whether data (or EOF) is ready to read. Python's poll(timeout=0): no argument = don't wait; null = wait forever. */
  poll(timeout: number | null = 0): boolean {
    const input = this._reader("poll");
    const ms = timeout === null ? FOREVER : checkTimeout(timeout, "Connection.poll");
    if (ms !== 0) input.blockingCheck("poll()", "await connection.pollAsync(timeout)");
    return input._heldMessage !== undefined || input.poll(ms);
  }

  async pollAsync(timeout: number | null = 0): Promise<boolean> {
    const input = this._reader("pollAsync");
    const ms = timeout === null ? FOREVER : checkTimeout(timeout, "Connection.pollAsync");
    if (input._heldMessage !== undefined) return true;
    return this._pinned(() => input.pollAsync(ms));
  }

  /** For wait(): readable now (data or EOF). */
  ready(): boolean {
    return this._in !== null && !this.closed && (this._in._heldMessage !== undefined || this._in.poll(0));
  }

  /** For waitAsync(): resolves once readable, or when `cancel` is cancelled (a race it lost leaves nothing pending). */
  readyAsync(cancel?: Cancellation): Promise<void> {
    const input = this._in;
    if (!input || this.closed) return Promise.resolve();
    return this._pinned(async () => {
      await input.pollAsync(FOREVER, cancel);
    });
  }

  override close(): void {
    if (this.closed) return;
    const held = this._in?.takeHeld();
    if (held) this._in!.dropMessage(held);
    const views = [this._in, this._out];
    super.close();
    for (const view of views) view?.close();
  }

  override toString(): string {
    if (this.closed) return "<Connection(closed)>";
    return `<Connection(${this.readable ? "r" : ""}${this.writable ? "w" : ""})>`;
  }
}
registerKind("Connection", (h) => Connection.fromHandle(h));
