// piscina.roundtrip's task (bench/figures/queue.mjs): returns its input.
export default function identity(value) {
  return value;
}
