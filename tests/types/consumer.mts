// A TypeScript user's program, type-checked against the published declarations (package.json
// "types" → dist/types): `npm run test:types`. Lines marked @ts-expect-error must stay errors.
import {
  Process, Lock, RLock, Event, Condition, Semaphore, Barrier, Queue, SimpleQueue, JoinableQueue, Pipe, Value, SharedArray,
  RawValue, EmptyError, getAllStartMethods, setStartMethod, isMainProcess, type StartMethod, type Synchronized,
} from "forkless";

export class WorkerProcess extends Process {
  static override module = import.meta.url;
  constructor(readonly results: SimpleQueue, readonly lock: Lock, readonly id: number) {
    super({ name: `Worker-${id}` });
  }
  override run(): void {
    this.lock.withLock(() => this.results.put({ id: this.id }));
  }
}

async function main(): Promise<void> {
  const methods: StartMethod[] = getAllStartMethods();
  setStartMethod("reuse", { force: true });
  // @ts-expect-error: fork cannot exist here
  setStartMethod("fork");

  const results = new SimpleQueue();
  const p = new WorkerProcess(results, new Lock(), 1);
  p.start();
  await p.joinAsync(1000);
  const code: number | null = p.exitCode;

  const counter = new Value("i", 0);
  counter.withLock(() => counter.value++);
  const n: number = counter.value;
  const big = new Value("q", 1n);
  const b: bigint = big.value;
  const lock: RLock = counter.getLock();
  const raw: RawValue<"i"> = counter.getObj();
  const sync: Synchronized<RLock> = counter;
  const arr = new SharedArray("d", 4, { lock: new Lock() });
  const l: Lock = arr.getLock();
  const f: Float64Array = arr.array;
  using held = arr.hold({ timeout: 10 });

  const q = new Queue({ maxsize: 2 });
  try {
    const item = q.get({ timeout: 5 });
    const id: unknown = item;
  } catch (error) {
    if (!(error instanceof EmptyError)) throw error;
  }
  const jq = new JoinableQueue();
  const [a, c] = Pipe();
  a.send("hi");
  const event = new Event();
  const ok: boolean = await event.waitAsync(1);
  const cond = new Condition(new RLock());
  const sem = new Semaphore(2);
  const barrier = new Barrier(2);
  void [methods, code, n, b, lock, raw, sync, l, f, held, jq, c, ok, cond, sem, barrier, isMainProcess()];
}
void main;
