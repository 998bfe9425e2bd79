// Pipe and Connection (Python's multiprocessing.connection). Each direction is a ring
// (a Channel) in shared memory. A channel counts the Connection objects, in every process,
// that may write to it; when the last is closed, a reader that finds it empty gets EOFError,
// as with an OS pipe whose every write end is closed.
import { Kind, SharedObject, isAdopting, registerKind, type Handle } from "./handles";
import { Ring, END_OF_FILE, RING_EOF_WHEN_NO_WRITERS } from "./queues";
import { BufferTooShortError, EOFError, MessageTooLongError, ValueError } from "./errors";
import { FOREVER, checkTimeout, remaining } from "./options";
import { mayBlock, now } from "./platform";
import type { Sentinel } from "./process";

const DEFAULT_CAPACITY = 256 * 1024;
const KIND_VALUE = 0;
const KIND_BYTES = 1;

/** One direction of a pipe. */
class Channel extends Ring {
  static override readonly handleKind: string = "Channel";

  static create(capacity: number): Channel {
    const channel = Object.create(Channel.prototype) as Channel;
    channel._createRing(Kind.Channel, capacity, 0, RING_EOF_WHEN_NO_WRITERS);
    return channel;
  }

  static fromHandle(handle: Handle): Channel {
    const channel = Object.create(Channel.prototype) as Channel;
    channel._openRing(Kind.Channel, handle, "Channel");
    return channel;
  }

  writers(delta: number): void {
    this._ex.q_writers_add(this._live(), delta);
  }

  address(): number {
    return this._live();
  }

  putBytes(bytes: Uint8Array, timeoutMs: number): boolean {
    return this._putBytes(bytes, timeoutMs);
  }
  putBytesAsync(bytes: Uint8Array): Promise<boolean> {
    return this._putBytesAsync(bytes, FOREVER);
  }
  getBytes(timeoutMs: number): Uint8Array | null | typeof END_OF_FILE {
    return this._getBytes(timeoutMs);
  }
  getBytesAsync(timeoutMs: number): Promise<Uint8Array | null | typeof END_OF_FILE> {
    return this._getBytesAsync(timeoutMs);
  }
  encodeValue(value: unknown): Uint8Array {
    return this._encode(value);
  }
  decodeValue(bytes: Uint8Array): unknown {
    return this._decode(bytes);
  }
  blockingCheck(what: string, alternative: string): void {
    this._assertMayBlock(what, alternative);
  }
  poll(timeoutMs: number): boolean {
    return this._ex.q_poll(this._live(), timeoutMs) === 1;
  }
  async pollAsync(timeoutMs: number): Promise<boolean> {
    const q = this._live();
    const deadline = timeoutMs < 0 ? FOREVER : now() + timeoutMs;
    while (true) {
      if (this._ex.q_poll(q, 0) === 1) return true;
      const left = remaining(deadline, now());
      if (left === 0) return false;
      await this._waitForData(q, left);
    }
  }
}
registerKind("Channel", (h) => Channel.fromHandle(h));

export interface PipeOptions {
  /** false: the first connection only receives and the second only sends. Default true. */
  duplex?: boolean;
  /** Ring bytes per direction (default 256 KiB). */
  capacity?: number;
}

/** Python's Pipe(duplex=True): two connected Connection objects. */
export function Pipe(options: PipeOptions = {}): [Connection, Connection] {
  const duplex = options.duplex ?? true;
  if (typeof duplex !== "boolean") throw new TypeError("Pipe: duplex must be true or false");
  const capacity = options.capacity ?? DEFAULT_CAPACITY;
  const a = Channel.create(capacity);
  const b = duplex ? Channel.create(capacity) : null;
  // a carries conn2 → conn1; b carries conn1 → conn2.
  const first = Connection._make(a, b);
  const second = Connection._make(b, a);
  a.close();
  b?.close();
  return [first, second];
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
    connection._in = input && Channel.fromHandle(input.toHandle())._ownedBy();
    connection._out = output && Channel.fromHandle(output.toHandle())._ownedBy();
    connection._out?.writers(1);
    return connection;
  }

  static fromHandle(handle: Handle): Connection {
    const connection = Object.create(Connection.prototype) as Connection;
    const adopting = isAdopting();
    const input = handle?.in ? Channel.fromHandle(handle.in as Handle) : null;
    const output = handle?.out ? Channel.fromHandle(handle.out as Handle) : null;
    connection._open(Kind.Connection, handle, "Connection");
    connection._in = input?._ownedBy() ?? null;
    connection._out = output?._ownedBy() ?? null;
    // An adopted connection takes over the writer count its in-flight copy already holds.
    if (!adopting) output?.writers(1);
    return connection;
  }

  protected override _handleExtras(): Record<string, unknown> {
    return { in: this._in?.toHandle() ?? null, out: this._out?.toHandle() ?? null };
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

  /** Sends any structured-clone value (forkless objects arrive live). */
  send(value: unknown): void {
    const out = this._writer("send");
    const framed = Connection._frame(KIND_VALUE, out.encodeValue(value));
    if (out.putBytes(framed, mayBlock() ? FOREVER : 0)) return;
    out.blockingCheck("send()", "await connection.sendAsync(value)");
  }

  async sendAsync(value: unknown): Promise<void> {
    const out = this._writer("sendAsync");
    await out.putBytesAsync(Connection._frame(KIND_VALUE, out.encodeValue(value)));
  }

  /** Python's send_bytes(buf, offset=0, size=None). */
  sendBytes(buffer: ArrayBuffer | ArrayBufferView, offset = 0, size?: number): void {
    const out = this._writer("sendBytes");
    const framed = Connection._bytesFrame(buffer, offset, size);
    if (out.putBytes(framed, mayBlock() ? FOREVER : 0)) return;
    out.blockingCheck("sendBytes()", "await connection.sendBytesAsync(buffer)");
  }

  /** sendBytes() for threads that may not block. */
  async sendBytesAsync(buffer: ArrayBuffer | ArrayBufferView, offset = 0, size?: number): Promise<void> {
    const out = this._writer("sendBytesAsync");
    await out.putBytesAsync(Connection._bytesFrame(buffer, offset, size));
  }

  private static _bytesFrame(buffer: ArrayBuffer | ArrayBufferView, offset: number, size: number | undefined): Uint8Array {
    const bytes =
      buffer instanceof ArrayBuffer
        ? new Uint8Array(buffer)
        : ArrayBuffer.isView(buffer)
          ? new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)
          : null;
    if (!bytes) throw new TypeError("Connection.sendBytes: expected an ArrayBuffer or a typed array / DataView");
    if (!Number.isInteger(offset) || offset < 0 || offset > bytes.length) throw new ValueError("Connection.sendBytes: offset is negative or past the end of the buffer");
    const length = size ?? bytes.length - offset;
    if (!Number.isInteger(length) || length < 0 || offset + length > bytes.length) {
      throw new ValueError("Connection.sendBytes: size is negative or runs past the end of the buffer");
    }
    return Connection._frame(KIND_BYTES, bytes.subarray(offset, offset + length));
  }

  private _receive(what: string): Uint8Array {
    const input = this._reader(what);
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

  private _unframe(framed: Uint8Array, input: Channel): unknown {
    const body = framed.subarray(1);
    return framed[0] === KIND_BYTES ? body.slice() : input.decodeValue(body);
  }

  /** Blocks for the next value; EOFError when the other end is closed and nothing is left. */
  recv(): any {
    const framed = this._receive("recv");
    return this._unframe(framed, this._in!);
  }

  async recvAsync(): Promise<any> {
    const input = this._reader("recvAsync");
    const framed = await input.getBytesAsync(FOREVER);
    if (framed === END_OF_FILE || framed === null) {
      throw new EOFError("Connection.recvAsync: the other end is closed and nothing is left to read");
    }
    return this._unframe(framed, input);
  }

  /** Python's recv_bytes(maxlength): MessageTooLongError (message dropped) if longer than maxLength. */
  recvBytes(maxLength?: number): Uint8Array {
    if (maxLength !== undefined && (!Number.isInteger(maxLength) || maxLength < 0)) {
      throw new ValueError("Connection.recvBytes: maxLength must be a non-negative integer");
    }
    const body = this._receive("recvBytes").subarray(1);
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
    const body = this._receive("recvBytesInto").subarray(1);
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
    return input.poll(ms);
  }

  pollAsync(timeout: number | null = 0): Promise<boolean> {
    const input = this._reader("pollAsync");
    return input.pollAsync(timeout === null ? FOREVER : checkTimeout(timeout, "Connection.pollAsync"));
  }

  /** For wait(): readable now (data or EOF). */
  ready(): boolean {
    return this._in !== null && !this.closed && this._in.poll(0);
  }

  async readyAsync(): Promise<void> {
    if (this._in) await this._in.pollAsync(FOREVER);
  }

  override close(): void {
    if (this.closed) return;
    this._out?.writers(-1);
    this._in?.close();
    this._out?.close();
    super.close();
  }

  override _abandon(): void {
    if (this.closed) return;
    this._in?._abandon();
    this._out?._abandon();
    super._abandon();
  }
}
registerKind("Connection", (h) => Connection.fromHandle(h));
