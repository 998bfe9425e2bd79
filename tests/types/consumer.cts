// The same package seen from CommonJS (package.json exports "require" → dist/types/index.d.cts).
import { Process, Value, Queue, getAllStartMethods, type StartMethod } from "forkless";

class WorkerProcess extends Process {
  static override module = __filename;
  override run(): void {}
}

const counter = new Value("i", 0);
counter.withLock(() => counter.value++);
const methods: StartMethod[] = getAllStartMethods();
const q = new Queue();
const p = new WorkerProcess();
void [methods, q, p];
