// Argument checks shared by every public method: errors say what was wrong and what to pass.

export const FOREVER = -1;

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "function") return "a function";
  if (value === null) return "null";
  if (typeof value === "object") return Array.isArray(value) ? "an array" : "an object";
  return String(value);
}

/** A timeout in milliseconds: undefined/null waits forever (returned as FOREVER). */
export function checkTimeout(timeout: unknown, where: string): number {
  if (timeout === undefined || timeout === null) return FOREVER;
  if (typeof timeout !== "number") {
    throw new TypeError(`${where}: timeout must be a number of milliseconds, or undefined to wait forever; got ${describe(timeout)}`);
  }
  if (!Number.isFinite(timeout) || timeout < 0) {
    throw new RangeError(
      `${where}: timeout must be a finite number of milliseconds ≥ 0, or undefined to wait forever; got ${describe(timeout)}`,
    );
  }
  return timeout;
}

export interface AcquireOptions {
  /** false: try once and return at once (Python's block=False). Default true. */
  block?: boolean;
  /** Milliseconds to wait at most; undefined waits forever. Ignored when block is false. */
  timeout?: number;
}

/** Resolves acquire({block, timeout}) to a timeout in ms (0 = try once, FOREVER = no limit). */
export function checkAcquireOptions(options: AcquireOptions | undefined, where: string): number {
  if (options === undefined || options === null) return FOREVER;
  if (typeof options !== "object") {
    throw new TypeError(`${where}: expected an options object like { timeout: 100 } or { block: false }; got ${describe(options)}`);
  }
  const { block, timeout } = options;
  if (block !== undefined && typeof block !== "boolean") {
    throw new TypeError(`${where}: block must be true or false; got ${describe(block)}`);
  }
  const ms = checkTimeout(timeout, where);
  return block === false ? 0 : ms;
}

export function checkCount(value: unknown, where: string, what: string, min: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > 0x3fffffff) {
    throw new RangeError(`${where}: ${what} must be an integer from ${min} to ${0x3fffffff}; got ${describe(value)}`);
  }
  return value;
}

/** Remaining milliseconds until an absolute deadline (Infinity when there is none). */
export function remaining(deadline: number, now: number): number {
  return deadline < 0 ? Infinity : Math.max(0, deadline - now);
}
