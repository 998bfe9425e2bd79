declare module "forkless:wasm" {
  /** The optimized module, base64-encoded at build time so no fetch is needed. */
  const base64: string;
  export default base64;
}
