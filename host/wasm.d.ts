declare module "forkless:wasm" {
  /** The optimized module, base64-encoded at build time so no fetch is needed. */
  const base64: string;
  export default base64;
}

declare module "forkless:abi" {
  /** Every number the module exports (assembly/index.ts), by name, read from the built module. */
  const numbers: Readonly<Record<string, number>>;
  export default numbers;
}
