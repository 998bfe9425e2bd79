// The module's whole export surface: pointer-in, number-out functions over the shared arena.
export * from "./arena";
export * from "./lock";
export * from "./semaphore";
export * from "./event";
export * from "./condition";
export * from "./barrier";
export * from "./thread";
export * from "./ring";
