// The demo page: 4 processes hash streams of pseudo-random data; the page shows live
// progress from a shared Array, a running total from a shared Value, and messages from a
// Queue — waiting only with the *Async calls, so the page never blocks.
import { Process, Event, Queue, Value, SharedArray, support } from "../../dist/forkless.mjs";
import { hashWorker, hashStream, here } from "./tasks.mjs";

// A bundle's children import the bundle itself: it must export what they run.
export { hashWorker };

const WORKERS = 4;

async function main() {
  const params = new URLSearchParams(location.search);
  const testMode = params.has("test");
  const $ = (id) => document.getElementById(id);

  const report = await support();
  $("support").textContent = JSON.stringify(report, null, 2);
  if (report.problems.length) {
    $("status").textContent = "forkless cannot run here:\n• " + report.problems.join("\n• ");
    $("status").className = "error";
    if (testMode) finish(false, [{ ok: false, what: `support(): ${report.problems.join(" | ")}` }]);
    return;
  }

  const rows = [];
  for (let i = 0; i < WORKERS; i++) {
    const row = document.createElement("div");
    row.className = "row";
    row.innerHTML = `<span class="name">process ${i + 1}</span><progress max="1" value="0"></progress><span class="state">idle</span>`;
    $("bars").append(row);
    rows.push({ bar: row.querySelector("progress"), state: row.querySelector(".state") });
  }

  let running = null;
  async function run() {
    const blocks = testMode ? 4 : Number($("size").value);
    const go = new Event();
    const progress = new SharedArray("i", WORKERS);
    const total = new Value("i", 0);
    const log = new Queue();
    const processes = [];
    for (let i = 0; i < WORKERS; i++) {
      rows[i].bar.max = blocks;
      rows[i].bar.value = 0;
      rows[i].state.textContent = "starting";
      const process = new Process({ target: hashWorker, args: [i, blocks, go, progress, total, log], module: here, name: `hasher-${i + 1}` });
      process.start();
      processes.push(process);
    }
    running = processes;
    $("run").disabled = true;
    $("stop").disabled = false;
    $("messages").textContent = "";
    const started = performance.now();
    go.set();

    // Live progress: read shared memory once per frame.
    let drawing = true;
    const draw = () => {
      for (let i = 0; i < WORKERS; i++) rows[i].bar.value = progress.get(i);
      const mib = (total.value * 256) / 1024;
      const seconds = (performance.now() - started) / 1000;
      $("total").textContent = `${mib.toFixed(1)} MiB hashed in ${seconds.toFixed(2)} s (${(mib / Math.max(seconds, 1e-3)).toFixed(0)} MiB/s)`;
      if (drawing) requestAnimationFrame(draw);
    };
    requestAnimationFrame(draw);

    // Messages from the processes, until each has ended.
    const hashes = [];
    const messages = (async () => {
      let done = 0;
      while (done < WORKERS && running === processes) {
        let message;
        try {
          message = await log.getAsync({ timeout: 200 });
        } catch {
          if (processes.every((p) => p.exitCode !== null)) break;
          continue;
        }
        const line = message.type === "start"
          ? `${message.name} (pid ${message.pid}) started`
          : `hasher-${message.i + 1} done in ${message.ms} ms: hash ${message.hash.toString(16).padStart(8, "0")}`;
        $("messages").textContent += line + "\n";
        if (message.type === "done") {
          hashes[message.i] = message.hash;
          rows[message.i].state.textContent = "hashed";
          done++;
        } else {
          rows[message.i].state.textContent = "running";
        }
      }
    })();

    for (const [i, process] of processes.entries()) {
      await process.joinAsync();
      rows[i].state.textContent = process.exitCode === 0 ? "done (exit 0)" : `stopped (exit ${process.exitCode})`;
    }
    await messages;
    drawing = false;
    draw();
    running = null;
    $("run").disabled = false;
    $("stop").disabled = true;

    if (testMode) {
      const checks = [
        { ok: processes.every((p) => p.exitCode === 0), what: `exit codes ${processes.map((p) => p.exitCode)}` },
        { ok: progress.toArray().every((v) => v === blocks), what: `progress ${progress.toArray()}` },
        { ok: total.value === WORKERS * blocks, what: `total ${total.value}` },
      ];
      for (let i = 0; i < WORKERS; i++) {
        const expected = hashStream(i, blocks);
        checks.push({ ok: hashes[i] === expected, what: `hash of process ${i + 1}: ${hashes[i]} (expected ${expected})` });
      }
      finish(checks.every((c) => c.ok), checks);
    }
  }

  $("run").addEventListener("click", () => run());
  $("stop").addEventListener("click", () => {
    for (const process of running ?? []) process.terminate();
  });
  $("run").disabled = false;
  if (testMode || params.has("autorun")) await run();
}

function finish(ok, checks) {
  window.__results = { done: true, ok, checks, errors: [], info: [] };
  document.title = `${ok ? "PASS" : "FAIL"} demo`;
}

// Children import this module too (to find hashWorker): only the page runs main(). A page
// test, not isMainProcess(), so that a page that cannot run forkless still shows why.
if (typeof document !== "undefined") {
  main().catch((error) => {
    document.getElementById("status").textContent = `${error.name}: ${error.message}`;
    document.getElementById("status").className = "error";
    window.__results = { done: true, ok: false, checks: [], errors: [`${error.name}: ${error.message}\n${error.stack}`], info: [] };
  });
}
