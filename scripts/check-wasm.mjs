// Fails the build if the module could break when instantiated more than once over the one
// shared memory: a data segment (re-copied by every instantiation), a start function, a
// mutable global (per-instance state), or memory that is its own or not shared.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

function reader(bytes) {
  let at = 0;
  const u8 = () => bytes[at++];
  const leb = () => {
    let result = 0, shift = 0, byte;
    do {
      byte = bytes[at++];
      result += (byte & 0x7f) * 2 ** shift;
      shift += 7;
    } while (byte & 0x80);
    return result;
  };
  const name = () => {
    const n = leb();
    const s = new TextDecoder().decode(bytes.subarray(at, at + n));
    at += n;
    return s;
  };
  return { u8, leb, name, get at() { return at; }, set at(v) { at = v; } };
}

export function inspectModule(bytes) {
  const r = reader(bytes);
  r.at = 8;
  const found = { dataSegments: 0, start: false, mutableGlobals: 0, ownMemories: 0, importedMemories: [] };
  while (r.at < bytes.length) {
    const id = r.u8();
    const size = r.leb();
    const end = r.at + size;
    if (id === 2) {
      const count = r.leb();
      for (let i = 0; i < count; i++) {
        const module = r.name(), field = r.name(), kind = r.u8();
        if (kind === 0) r.leb();
        else if (kind === 1) { r.u8(); const f = r.leb(); r.leb(); if (f & 1) r.leb(); }
        else if (kind === 2) {
          const flags = r.leb();
          r.leb();
          if (flags & 1) r.leb();
          found.importedMemories.push({ module, field, shared: (flags & 2) !== 0, bounded: (flags & 1) !== 0 });
        } else if (kind === 3) { r.u8(); r.u8(); }
        else throw new Error(`unknown import kind ${kind}`);
      }
    } else if (id === 5) found.ownMemories += r.leb();
    else if (id === 6) {
      const count = r.leb();
      for (let i = 0; i < count; i++) {
        r.u8();
        if (r.u8() === 1) found.mutableGlobals++;
        while (r.u8() !== 0x0b) {} // skip the constant expression (no nested 0x0b in i32/f64 consts here)
      }
    } else if (id === 8) found.start = true;
    else if (id === 11) found.dataSegments += r.leb();
    r.at = end;
  }
  return found;
}

export function checkModule(path) {
  const bytes = new Uint8Array(readFileSync(path));
  const found = inspectModule(bytes);
  const problems = [];
  if (found.dataSegments) problems.push(`${found.dataSegments} data segment(s): static data is re-copied by every instance`);
  if (found.start) problems.push("a start function: it would run again in every instance");
  if (found.mutableGlobals) problems.push(`${found.mutableGlobals} mutable global(s): state that is per instance, not shared`);
  if (found.ownMemories) problems.push("a memory of its own: the memory must be imported");
  if (found.importedMemories.length !== 1 || !found.importedMemories[0].shared) {
    problems.push("the memory must be exactly one imported shared memory");
  }
  if (problems.length) {
    console.error(`check-wasm: ${path} breaks the one-memory model:\n  - ${problems.join("\n  - ")}`);
    process.exit(1);
  }
  console.log(`check-wasm: ${path} ok (${bytes.length} bytes; imported shared memory; no data, start or mutable globals)`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) checkModule(process.argv[2] ?? "build/forkless.wasm");
