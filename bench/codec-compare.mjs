// Encode+decode round trips per second of the queue codec (host/codec.ts) against the
// other ways to turn a value into bytes and back in JavaScript:
//   node bench/codec-compare.mjs [--seconds=1] [--json] [--strings]
// --strings adds the measurements behind the codec's string thresholds: ns per string for
// a JavaScript loop against TextEncoder.encodeInto / TextDecoder, by length.
// msgpackr is measured too when it can be imported (it is not a dependency: install it
// for a measurement with `npm install --no-save msgpackr`, or point MSGPACKR at a copy).
import { build } from "esbuild";
import { readFileSync } from "node:fs";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import v8 from "node:v8";

const root = fileURLToPath(new URL("..", import.meta.url));
const args = Object.fromEntries(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, "").split("=");
    return [k, v ?? true];
  }),
);
const seconds = Number(args.seconds ?? 1);

// host/codec.ts, bundled on the fly (its imports reach the runtime, whose Wasm is stubbed).
async function loadCodec() {
  const dir = mkdtempSync(join(tmpdir(), "forkless-codec-"));
  const outfile = join(dir, "codec.mjs");
  await build({
    entryPoints: [join(root, "host/codec.ts")],
    bundle: true,
    format: "esm",
    platform: "neutral",
    outfile,
    logLevel: "warning",
    plugins: [
      {
        name: "stub-wasm",
        setup(b) {
          b.onResolve({ filter: /^forkless:(wasm|abi)$/ }, (args) => ({ path: args.path.slice(9), namespace: "stub" }));
          b.onLoad({ filter: /.*/, namespace: "stub" }, (args) => ({
            // The module's numbers are real (the build wrote them); the module itself is never started here.
            contents: args.path === "abi" ? `export default ${readFileSync(join(root, "build/abi.json"), "utf8")};` : 'export default "";',
            loader: "js",
          }));
        },
      },
    ],
  });
  try {
    return await import(pathToFileURL(outfile).href);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function loadMsgpackr() {
  for (const spec of [process.env.MSGPACKR, "msgpackr"].filter(Boolean)) {
    try {
      return await import(spec.startsWith("/") ? pathToFileURL(join(spec, "index.js")).href : spec);
    } catch {
      // not installed
    }
  }
  return undefined;
}

// The values: 1024 of each, so no codec sees the same object twice in a row.
function hot(i) {
  return { id: 12345 + i, name: `item-${12345 + i}`, value: 3.14159 + i };
}

function nested(i) {
  return {
    id: 100000 + i,
    type: "order",
    status: i % 3 === 0 ? "paid" : "pending",
    createdAt: 1718000000000 + i * 1000,
    customer: {
      id: 5000 + (i % 97),
      name: `Customer ${i % 97}`,
      email: `customer${i % 97}@example.com`,
      vip: i % 5 === 0,
      address: { street: `${i % 300} Main Street`, city: "Springfield", zip: "12345", country: "US" },
    },
    items: Array.from({ length: 5 }, (_, j) => ({
      sku: `SKU-${(i * 7 + j) % 1000}`,
      title: `Product number ${j} in a fairly long name`,
      qty: 1 + ((i + j) % 4),
      price: 9.99 + j * 2.5,
      tags: ["new", j % 2 ? "sale" : "regular"],
    })),
    total: 123.45 + i,
    currency: "USD",
    notes: "Leave the parcel at the back door, please.",
  };
}

const refs = {
  retain() {
    throw new Error("no shared objects in this benchmark");
  },
  revive() {
    throw new Error("no shared objects in this benchmark");
  },
};

function codecs(forkless, msgpackr) {
  const list = [];
  const enc = new forkless.Encoder();
  list.push(["forkless codec", (v) => forkless.decode(enc.encode(v, refs), refs), (v) => enc.encode(v, refs).length]);
  list.push(["v8.serialize/deserialize", (v) => v8.deserialize(v8.serialize(v)), (v) => v8.serialize(v).length]);
  const te = new TextEncoder();
  const td = new TextDecoder();
  list.push(["JSON + TextEncoder/Decoder", (v) => JSON.parse(td.decode(te.encode(JSON.stringify(v)))), (v) => te.encode(JSON.stringify(v)).length]);
  list.push(["structuredClone", (v) => structuredClone(v), () => NaN]);
  if (msgpackr) {
    list.push(["msgpackr pack/unpack", (v) => msgpackr.unpack(msgpackr.pack(v)), (v) => msgpackr.pack(v).length]);
    const p = new msgpackr.Packr({ structuredClone: true, useRecords: false });
    list.push(["msgpackr structuredClone:true", (v) => p.unpack(p.pack(v)), (v) => p.pack(v).length]);
    // Records need the Function constructor to be fast; a packer and an unpacker share the structures here.
    const r = new msgpackr.Packr({ useRecords: true, structures: [] });
    list.push(["msgpackr records*", (v) => r.unpack(r.pack(v)), (v) => r.pack(v).length]);
  }
  return list;
}

// Round trips per second: the best of several ~100 ms rounds (a loaded machine steals
// whole rounds, not fractions of each), after a warm-up; and per second of this process's
// CPU time (user + system, all threads), which a busy machine disturbs less.
function cpuMicros() {
  const c = process.cpuUsage();
  return c.user + c.system;
}

function measure(roundTrip, values) {
  const n = values.length;
  let sink = 0;
  const warm = performance.now() + 300;
  for (let i = 0; performance.now() < warm; i++) for (let j = 0; j < 256; j++) sink += roundTrip(values[(i * 256 + j) % n]).id;
  let wall = 0;
  let cpu = 0;
  const until = performance.now() + seconds * 1000;
  do {
    let count = 0;
    const start = performance.now();
    const cpuStart = cpuMicros();
    let now = start;
    while (now - start < 100) {
      for (let j = 0; j < 256; j++) sink += roundTrip(values[(count + j) % n]).id;
      count += 256;
      now = performance.now();
    }
    wall = Math.max(wall, (count * 1000) / (now - start));
    cpu = Math.max(cpu, (count * 1e6) / Math.max(1, cpuMicros() - cpuStart));
  } while (performance.now() < until);
  if (sink === -1) console.log(sink);
  return { wall, cpu };
}

// ns per call of each way to write or read a string of n characters (CPU time, best of 5).
function stringCosts() {
  const fcc = String.fromCharCode;
  const te = new TextEncoder();
  const td8 = new TextDecoder("utf-8", { ignoreBOM: true });
  const td16 = new TextDecoder("utf-16le", { ignoreBOM: true });
  const time = (f, reps) => {
    let best = Infinity;
    for (let r = 0; r < 5; r++) {
      const start = cpuMicros();
      for (let i = 0; i < reps; i++) f(i & 63);
      best = Math.min(best, ((cpuMicros() - start) * 1000) / reps);
    }
    return best;
  };
  const rows = [];
  for (const n of [8, 16, 24, 32, 48, 64, 128, 512, 4096]) {
    const reps = Math.max(2000, Math.round(2e6 / n));
    const ascii = Array.from({ length: 64 }, (_, k) => Array.from({ length: n }, (_, i) => String.fromCharCode(97 + ((i + k) % 26))).join(""));
    const cjk = ascii.map((a) => a.replace(/[a-m]/g, "語"));
    const out = new Uint8Array(3 * n + 16);
    const bytes = ascii.map((a) => te.encode(a));
    const cjk8 = cjk.map((c) => te.encode(c));
    const utf16 = cjk.map((c) => {
      const b = new Uint8Array(2 * n);
      for (let i = 0; i < n; i++) (b[2 * i] = c.charCodeAt(i)), (b[2 * i + 1] = c.charCodeAt(i) >> 8);
      return b;
    });
    const loopAscii = (k) => {
      const str = ascii[k];
      for (let i = 0; i < str.length; i++) out[5 + i] = str.charCodeAt(i);
    };
    const chunks = (k) => {
      const b = bytes[k];
      let str = "";
      let i = 0;
      for (; i + 16 <= n; i += 16) str += fcc(b[i], b[i + 1], b[i + 2], b[i + 3], b[i + 4], b[i + 5], b[i + 6], b[i + 7], b[i + 8], b[i + 9], b[i + 10], b[i + 11], b[i + 12], b[i + 13], b[i + 14], b[i + 15]);
      for (; i < n; i++) str += fcc(b[i]);
      return str;
    };
    const loop16 = (k) => {
      const str = cjk[k];
      for (let i = 0, p = 5; i < str.length; i++, p += 2) {
        const c = str.charCodeAt(i);
        out[p] = c;
        out[p + 1] = c >> 8;
      }
    };
    rows.push({
      n,
      "ASCII write: loop": time(loopAscii, reps),
      "ASCII write: encodeInto": time((k) => te.encodeInto(ascii[k], out.subarray(5)), reps),
      "ASCII read: fromCharCode": time(chunks, reps),
      "ASCII read: TextDecoder": time((k) => td8.decode(bytes[k]), reps),
      "CJK write: UTF-16 loop": time(loop16, reps),
      "CJK write: encodeInto": time((k) => te.encodeInto(cjk[k], out.subarray(5)), reps),
      "CJK read: UTF-16 TextDecoder": time((k) => td16.decode(utf16[k]), reps),
      "CJK read: UTF-8 TextDecoder": time((k) => td8.decode(cjk8[k]), reps),
    });
  }
  return rows;
}

const forkless = await loadCodec();
const msgpackr = await loadMsgpackr();
const workloads = [
  ["hot object", Array.from({ length: 1024 }, (_, i) => hot(i))],
  ["~1 KB nested object", Array.from({ length: 1024 }, (_, i) => nested(i))],
];
const results = [];
for (const [workload, values] of workloads) {
  for (const [name, roundTrip, size] of codecs(forkless, msgpackr)) {
    const check = roundTrip(values[7]);
    if (JSON.stringify(check) !== JSON.stringify(values[7])) throw new Error(`${name} did not round-trip the ${workload}`);
    const { wall, cpu } = measure(roundTrip, values);
    results.push({ workload, codec: name, bytes: size(values[7]), opsPerSecond: wall, opsPerCpuSecond: cpu });
  }
}

const strings = args.strings ? stringCosts() : undefined;

if (args.json) {
  console.log(JSON.stringify({ node: process.version, results, strings }, null, 2));
} else {
  const fmt = (x) => Math.round(x).toLocaleString("en-US");
  console.log(`node ${process.version}; a round trip = encode + decode of one value; best 100 ms round of ${seconds} s per row\n`);
  for (const [workload] of workloads) {
    const rows = results.filter((r) => r.workload === workload);
    const base = rows[0];
    console.log(workload);
    console.log(`  ${"codec".padEnd(32)}${"bytes".padStart(7)}${"round trips/s".padStart(16)}${"per CPU-s".padStart(14)}${"vs forkless".padStart(13)}`);
    for (const r of rows) {
      const bytes = Number.isNaN(r.bytes) ? "-" : String(r.bytes);
      const ratio = `${(r.opsPerCpuSecond / base.opsPerCpuSecond).toFixed(2)}×`;
      console.log(`  ${r.codec.padEnd(32)}${bytes.padStart(7)}${fmt(r.opsPerSecond).padStart(16)}${fmt(r.opsPerCpuSecond).padStart(14)}${ratio.padStart(13)}`);
    }
    console.log();
  }
  console.log("vs forkless: by CPU time.");
  if (strings) {
    console.log("\nns per string of n characters (CPU time, best of 5; the codec's thresholds come from these)");
    const columns = Object.keys(strings[0]).filter((k) => k !== "n");
    console.log(`  ${"n".padStart(5)}${columns.map((c) => c.padStart(c.length + 2)).join("")}`);
    for (const row of strings) console.log(`  ${String(row.n).padStart(5)}${columns.map((c) => row[c].toFixed(0).padStart(c.length + 2)).join("")}`);
    console.log();
  }
  if (msgpackr) console.log("* msgpackr records: decoders generated with new Function (not allowed under a strict CSP); the unpacker shares the packer's structures.");
  else console.log("msgpackr: not installed (npm install --no-save msgpackr, or MSGPACKR=/path/to/msgpackr, to include it)");
}
