// A thread for the codec's nesting tests (tests/host/codec.test.mjs): encodes a value nested
// `depth` levels deep, or decodes bytes and measures how deep the value is, on whatever stack
// the test gave this worker (resourceLimits.stackSizeMb). workerData: { codec (URL of the
// bundled codec), task: "encode" | "decode", kind, depth, bytes }.
import { parentPort, workerData } from "node:worker_threads";

const { Encoder, decode } = await import(workerData.codec);
const refs = {
  retain() {
    throw new Error("no forkless objects here");
  },
  revive() {
    throw new Error("no forkless objects here");
  },
};

/** A chain `depth` containers deep, built without recursion; the innermost holds "bottom". */
export function nest(kind, depth) {
  let v = "bottom";
  for (let i = 0; i < depth; i++) {
    switch (kind === "mixed" ? i % 6 : kind) {
      case "array":
      case 0:
        v = [v];
        break;
      case "object":
      case 1:
        v = { a: v };
        break;
      case 2:
        v = new Map([["k", v]]);
        break;
      case 3:
        v = new Set([v]);
        break;
      case 4:
        v = new Error("e", { cause: v });
        break;
      default:
        v = Object.assign(Object.create(null), { n: v });
    }
  }
  return v;
}

/** How many containers deep the chain is, and what is at the bottom (without recursion). */
export function measure(v) {
  let depth = 0;
  for (;;) {
    if (Array.isArray(v)) v = v[0];
    else if (v instanceof Map) v = v.get("k");
    else if (v instanceof Set) v = [...v][0];
    else if (v instanceof Error) v = v.cause;
    else if (v !== null && typeof v === "object") v = "a" in v ? v.a : v.n;
    else return { depth, bottom: v };
    depth++;
  }
}

const { task, kind, depth, bytes } = workerData;
try {
  if (task === "encode") {
    const out = new Encoder().encode(nest(kind, depth), refs).slice();
    parentPort.postMessage({ bytes: out }, [out.buffer]);
  } else {
    parentPort.postMessage(measure(decode(bytes, refs)));
  }
} catch (error) {
  parentPort.postMessage({ error: `${error.name}: ${error.message}` });
}
