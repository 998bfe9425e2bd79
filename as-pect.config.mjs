// as-pect configuration for the AssemblyScript unit specs in tests/assembly.
//
// The module under test (assembly/*.ts) runs over ONE imported, shared WebAssembly.Memory and
// keeps everything at fixed addresses from byte 1024 on: the arena header, the thread table
// (to 133120), the page table (8 bytes per page of the arena's cap), then 64 KiB heap pages up
// to the cap that arena_init is given. The spec binaries are therefore compiled
// (tests/assembly/as-pect.asconfig.json) with threads, an imported shared memory, and
// --memoryBase 32 MiB so as-pect's static data and heap live above the arena; the specs give
// arena_init a cap of at most 512 pages (tests/assembly/support.ts checks it), so the arena
// never reaches MEMORY_BASE. The page counts below must match that file.

export const MEMORY_BASE = 32 << 20; // bytes; must equal options.memoryBase
export const INITIAL_PAGES = 528; // must equal options.initialMemory (MEMORY_BASE + 1 MiB)
export const MAXIMUM_PAGES = 1024; // must equal options.maximumMemory

// as-pect 8 takes compiler options only from the file named by --as-config, so package.json's
// test:assembly passes `--as-config tests/assembly/as-pect.asconfig.json`.

export default {
  entries: ["tests/assembly/**/*.spec.ts"],
  include: ["tests/assembly/**/*.include.ts"],
  disclude: [/node_modules/],

  /** Called once per spec file: each file gets a fresh shared memory (and a fresh arena). */
  async instantiate(_memory, createImports, instantiate, binary) {
    const memory = new WebAssembly.Memory({
      initial: INITIAL_PAGES,
      maximum: MAXIMUM_PAGES,
      shared: true,
    });
    return instantiate(
      binary,
      createImports({
        env: {
          memory,
          now: () => performance.now(),
        },
      }),
    );
  },

  outputBinary: false,
};
