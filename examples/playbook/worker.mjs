// What runs in the worker processes, in Ansible's shape: a WorkerProcess (a forkless Process
// subclass overriding run()) holds its task, host and final queue as fields, runs the task and
// puts the result on the FinalQueue (a SimpleQueue subclass) that the manager reads.
// This module is imported by each child to find WorkerProcess: it must not start processes.
import { Process, SimpleQueue, registerClass } from "forkless";
import { executeTask } from "./executor.mjs";

/** Milliseconds since the epoch, sub-millisecond, comparable between threads. */
export function clock() {
  return performance.timeOrigin + performance.now();
}

export class FinalQueue extends SimpleQueue {
  /** Like Ansible's FinalQueue.send_callback("v2_runner_on_start", …): the task begins executing. */
  sendTaskStart(id, host) {
    this.put({ id, host, started: true });
  }

  /** Like Ansible's FinalQueue.send_task_result; `times` says when run() began and ended (for --timings). */
  sendTaskResult(id, host, result, times) {
    this.put({ id, host, result, times });
  }
}
registerClass(FinalQueue);

export class WorkerProcess extends Process {
  static module = import.meta.url;

  constructor(finalQ, id, task, host, hostVars) {
    super({ name: `Worker-${id}` });
    this.finalQ = finalQ; // a FinalQueue: arrives in the child as a live FinalQueue
    this.id = id; // which (task, host) this is, for the manager
    this.task = task; // { name, module, args, loop, when, vars, … } as loaded, untemplated
    this.host = host; // the host's name
    this.hostVars = hostVars; // inventory, play vars, facts and registered results
  }

  async run() {
    const begin = clock();
    // A task with a timeout says when it starts, so that the manager's clock starts then.
    if (this.task.timeout) this.finalQ.sendTaskStart(this.id, this.host);
    const result = await executeTask(this.task, this.host, this.hostVars);
    this.finalQ.sendTaskResult(this.id, this.host, result, { begin, end: clock() });
  }
}
