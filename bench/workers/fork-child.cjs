// node.child-process-fork (bench/figures/process.mjs): the child's first line sends its first IPC message.
process.send("first", () => process.disconnect());
