// npm run test:browser — the browser scenarios (tests/browser/) in real engines:
//   chromium: Debian's /usr/bin/chromium, headless, driven by playwright-core;
//   webkit:   Debian's WebKitWebDriver + MiniBrowser under a private Xvfb, over W3C WebDriver
//             (plain HTTP), once with JSC_useSharedArrayBuffer=1 (everything) and once without
//             (the diagnosis WebKit users see when it hides SharedArrayBuffer).
// Prints exactly one summary line per engine ("chromium: N passed, 0 failed"), details for
// failures, and exits non-zero on any failure. Browsers, Xvfb and the server are always
// cleaned up. A missing browser fails loudly, unless FORKLESS_BROWSERS=optional.
//
// Options (environment): FORKLESS_BROWSER_ENGINES=chromium,webkit  FORKLESS_BROWSER_ONLY=scenario,…
//                        FORKLESS_BROWSER_VERBOSE=1 (a line per scenario)
//                        FORKLESS_BROWSER_TIMEOUT_MS=600000 (the whole run's wall-clock limit)
import { spawn, spawnSync } from "node:child_process";
import { existsSync, cpSync, rmSync, mkdirSync, accessSync, constants } from "node:fs";
import { createServer as createNetServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { startServer } from "./browser-server.mjs";
import { buildWebBundle } from "./browser-bundle.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const CHROMIUM = process.env.FORKLESS_CHROMIUM ?? "/usr/bin/chromium";
const WEBDRIVER = process.env.FORKLESS_WEBKITWEBDRIVER ?? "/usr/bin/WebKitWebDriver";
const MINIBROWSER = process.env.FORKLESS_MINIBROWSER ?? "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser";
const XVFB = "/usr/bin/Xvfb";
const INSTALL = "apt-get update && apt-get install -y chromium webkit2gtk-driver xvfb   (as root; Debian/Ubuntu)";
const VERBOSE = process.env.FORKLESS_BROWSER_VERBOSE === "1";
const OPTIONAL = process.env.FORKLESS_BROWSERS === "optional";
const SCENARIO_TIMEOUT_MS = 60_000;
// Most steps have a timeout of their own, but not all (page.evaluate on a page whose main thread
// is stuck, browser.close, a cleanup waiting on a browser that stopped answering): past this the
// run cleans up and fails instead of hanging. A normal run loads ~40 pages of seconds each.
const RUN_TIMEOUT_MS = Number(process.env.FORKLESS_BROWSER_TIMEOUT_MS) || 600_000;
let step = "starting"; // what the run was doing, for the timeout's message

// ---------------------------------------------------------------- what runs where

const CORE = [
  "lock-counter",
  "event",
  "barrier",
  "condition",
  "queue-mpmc",
  "pipe",
  "ansible",
  "exit-codes",
  "nested",
  "shared-values",
  "promise-api",
  "main-thread-blocking",
  "support",
];

function page(mode, scenario) {
  return { name: mode === "iso" ? scenario : `${scenario} [${mode}]`, path: `/${mode}/tests/browser/run.html?s=${scenario}` };
}

const COMMON = [
  ...CORE.map((s) => page("iso", s)),
  page("csp", "csp"),
  page("csp-strict", "csp-no-wasm"),
  page("no-worker", "worker-load-error"),
  { name: "demo page (examples/web)", path: "/iso/examples/web/index.html?test=1" },
  { name: "esbuild bundle of examples/web", path: "/iso/build/web-bundle/index.html?test=1" },
];

const PLANS = {
  chromium: [
    { run: (tests, origin) => runChromium(tests, origin), tests: [...COMMON, page("plain", "no-isolation")] },
    // No WebAssembly (V8 without JIT drops it), as in iOS Lockdown Mode.
    { run: (tests, origin) => runChromium(tests, origin, ["--js-flags=--jitless"]), tests: [page("iso", "no-wasm")] },
  ],
  webkit: [
    { run: (tests, origin) => runWebKit(tests, origin, { JSC_useSharedArrayBuffer: "1" }), tests: COMMON },
    // Without JSC_useSharedArrayBuffer=1 WebKitGTK hides SharedArrayBuffer, as Safari does on a
    // page that is not isolated: the page without COOP/COEP must get the diagnosis, not a hang.
    { run: (tests, origin) => runWebKit(tests, origin, {}), tests: [page("plain", "no-isolation"), page("iso", "hidden-sab")] },
    // No WebAssembly, as in iOS Lockdown Mode (which turns this JavaScriptCore option off).
    { run: (tests, origin) => runWebKit(tests, origin, { JSC_useSharedArrayBuffer: "1", JSC_useWasm: "0" }), tests: [page("iso", "no-wasm")] },
  ],
};

// ---------------------------------------------------------------- cleanup

const cleanups = [];
function onCleanup(fn) {
  cleanups.push(fn);
  return fn;
}
async function cleanup() {
  while (cleanups.length) {
    try {
      await cleanups.pop()();
    } catch {}
  }
}
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, async () => {
    await cleanup();
    process.exit(130);
  });
}

function killGroup(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, "SIGTERM");
  } catch {
    try {
      child.kill("SIGTERM");
    } catch {}
  }
  const hard = setTimeout(() => {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {}
  }, 2000);
  hard.unref();
}

function waitExit(child, ms) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const timer = setTimeout(done, ms);
    child.once("exit", () => {
      clearTimeout(timer);
      done();
    });
  });
}

// ---------------------------------------------------------------- helpers

function executable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function freePort() {
  const server = createNetServer();
  await new Promise((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address();
  await new Promise((done) => server.close(done));
  return port;
}

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

function summarize(result) {
  const failed = result.checks?.filter((c) => !c.ok).map((c) => `✗ ${c.what}`) ?? [];
  return [...failed, ...(result.errors ?? []).map((e) => `error: ${e}`)];
}

// ---------------------------------------------------------------- Chromium (playwright-core)

async function runChromium(tests, origin, extraArgs = []) {
  let chromium;
  try {
    ({ chromium } = await import("playwright-core"));
  } catch {
    throw new Missing("playwright-core is not installed: run npm ci (it is a devDependency)");
  }
  step = "chromium: launching the browser";
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", ...extraArgs],
    timeout: 60_000,
  });
  onCleanup(() => browser.close());
  const version = browser.version();
  const outcomes = [];
  // One page; each scenario navigates it, which ends the previous page's workers.
  const context = await browser.newContext();
  const page = await context.newPage();
  let console = [];
  page.on("console", (message) => {
    if (message.type() === "error" || message.type() === "warning") console.push(`console.${message.type()}: ${message.text()}`);
  });
  page.on("pageerror", (error) => console.push(`pageerror: ${error.message}`));
  for (const test of tests) {
    step = `chromium: ${test.name}`;
    console = [];
    const started = Date.now();
    let result;
    try {
      await page.goto(origin + test.path, { timeout: 30_000 });
      await page.waitForFunction(() => window.__results?.done === true, null, { timeout: SCENARIO_TIMEOUT_MS, polling: 50 });
      result = await page.evaluate(() => window.__results);
    } catch (error) {
      result = { ok: false, errors: [`driver: ${error.message.split("\n")[0]}`], checks: [] };
      try {
        const partial = await page.evaluate(() => window.__results);
        if (partial) result.checks = partial.checks ?? [];
      } catch {}
    }
    outcomes.push({ test, result, ms: Date.now() - started, console });
  }
  await context.close();
  await browser.close();
  return { version: `Chromium ${version}${extraArgs.length ? ` (${extraArgs.join(" ")})` : ""}`, outcomes };
}

// ---------------------------------------------------------------- WebKit (WebKitWebDriver + MiniBrowser, W3C WebDriver)

class Missing extends Error {}

let xvfbDisplay;
async function ensureXvfb() {
  if (xvfbDisplay) return xvfbDisplay;
  // -displayfd: Xvfb picks a free display itself and writes its number to fd 3.
  const xvfb = spawn(XVFB, ["-displayfd", "3", "-screen", "0", "1280x800x24", "-nolisten", "tcp"], {
    stdio: ["ignore", "ignore", "pipe", "pipe"],
    detached: true,
  });
  onCleanup(async () => {
    killGroup(xvfb);
    await waitExit(xvfb, 3000);
  });
  let stderr = "";
  xvfb.stderr.on("data", (chunk) => (stderr += chunk));
  const display = await new Promise((done, fail) => {
    let text = "";
    const timer = setTimeout(() => fail(new Error(`Xvfb did not start within 10 s: ${stderr.trim()}`)), 10_000);
    xvfb.stdio[3].on("data", (chunk) => {
      text += chunk;
      if (text.includes("\n")) {
        clearTimeout(timer);
        done(`:${text.trim()}`);
      }
    });
    xvfb.once("exit", (code) => {
      clearTimeout(timer);
      fail(new Error(`Xvfb exited (${code}): ${stderr.trim()}`));
    });
  });
  xvfbDisplay = display;
  return display;
}

class WebDriver {
  constructor(base) {
    this.base = base;
  }
  async call(method, path, body, timeoutMs = 30_000) {
    const response = await fetch(this.base + path, {
      method,
      headers: { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const json = await response.json().catch(() => ({}));
    if (!response.ok) {
      const value = json.value ?? {};
      throw new Error(`WebDriver ${method} ${path}: ${value.error ?? response.status} ${value.message ?? ""}`.trim());
    }
    return json.value;
  }
}

async function runWebKit(tests, origin, jscOptions) {
  step = "webkit: starting Xvfb, the driver and a session";
  const display = await ensureXvfb();
  const port = await freePort();
  const env = { ...process.env, DISPLAY: display };
  delete env.WAYLAND_DISPLAY;
  for (const name of Object.keys(env)) if (name.startsWith("JSC_")) delete env[name];
  Object.assign(env, jscOptions);
  const driverProcess = spawn(WEBDRIVER, [`--port=${port}`, "--host=127.0.0.1"], { env, stdio: ["ignore", "ignore", "pipe"], detached: true });
  let driverLog = "";
  driverProcess.stderr.on("data", (chunk) => (driverLog = (driverLog + chunk).slice(-4000)));
  onCleanup(async () => {
    killGroup(driverProcess);
    await waitExit(driverProcess, 3000);
  });
  const driver = new WebDriver(`http://127.0.0.1:${port}`);
  for (let i = 0; ; i++) {
    try {
      const status = await driver.call("GET", "/status", undefined, 1000);
      if (status?.ready !== false) break;
    } catch (error) {
      if (i > 100) throw new Error(`WebKitWebDriver did not answer on port ${port}: ${error.message} ${driverLog}`);
    }
    await sleep(100);
  }
  const session = await driver.call(
    "POST",
    "/session",
    {
      capabilities: {
        alwaysMatch: {
          "webkitgtk:browserOptions": { binary: MINIBROWSER, args: ["--automation"] },
        },
      },
    },
    60_000,
  );
  const id = session.sessionId;
  onCleanup(() => driver.call("DELETE", `/session/${id}`, undefined, 10_000));
  const options = Object.entries(jscOptions).map(([k, v]) => `${k}=${v}`);
  const version = `WebKitGTK ${session.capabilities?.browserVersion ?? "?"} (${options.length ? options.join(" ") : "default settings"})`;
  const outcomes = [];
  for (const test of tests) {
    step = `webkit: ${test.name}`;
    const started = Date.now();
    let result;
    try {
      await driver.call("POST", `/session/${id}/url`, { url: origin + test.path }, 30_000);
      const deadline = Date.now() + SCENARIO_TIMEOUT_MS;
      for (;;) {
        const text = await driver.call(
          "POST",
          `/session/${id}/execute/sync`,
          { script: "return window.__results && window.__results.done ? JSON.stringify(window.__results) : null", args: [] },
          10_000,
        );
        if (text) {
          result = JSON.parse(text);
          break;
        }
        if (Date.now() > deadline) throw new Error(`no result within ${SCENARIO_TIMEOUT_MS} ms`);
        await sleep(50);
      }
    } catch (error) {
      result = { ok: false, errors: [`driver: ${error.message}`], checks: [] };
      try {
        const partial = await driver.call(
          "POST",
          `/session/${id}/execute/sync`,
          { script: "return JSON.stringify({ url: location.href, title: document.title, results: window.__results || null })", args: [] },
          5000,
        );
        const parsed = JSON.parse(partial);
        result.checks = parsed.results?.checks ?? [];
        result.errors.push(...(parsed.results?.errors ?? []), `page: ${parsed.url} "${parsed.title}" done=${parsed.results?.done}`);
      } catch {}
    }
    outcomes.push({ test, result, ms: Date.now() - started, console: [] });
  }
  // Leave this session and its driver now (not only at exit): another one follows.
  await driver.call("DELETE", `/session/${id}`, undefined, 10_000).catch(() => {});
  killGroup(driverProcess);
  await waitExit(driverProcess, 3000);
  return { version, outcomes };
}

// ---------------------------------------------------------------- main

function missingFor(engine) {
  const missing = [];
  if (engine === "chromium" && !executable(CHROMIUM)) missing.push(`${CHROMIUM} (Debian package chromium)`);
  if (engine === "webkit") {
    if (!executable(WEBDRIVER)) missing.push(`${WEBDRIVER} (Debian package webkit2gtk-driver)`);
    if (!executable(MINIBROWSER)) missing.push(`${MINIBROWSER} (Debian package webkit2gtk-driver)`);
    if (!executable(XVFB)) missing.push(`${XVFB} (Debian package xvfb)`);
  }
  return missing;
}

function ensureBuilt() {
  if (existsSync(join(ROOT, "dist/forkless.mjs")) && existsSync(join(ROOT, "dist/worker.mjs"))) return;
  console.log("test-browser: dist/ is missing; running npm run build");
  const run = spawnSync("npm", ["run", "build"], { cwd: ROOT, stdio: "inherit" });
  if (run.status !== 0) throw new Error("npm run build failed");
}

async function main() {
  const engines = (process.env.FORKLESS_BROWSER_ENGINES ?? "chromium,webkit").split(",").filter(Boolean);
  const only = process.env.FORKLESS_BROWSER_ONLY?.split(",").filter(Boolean);
  ensureBuilt();
  // Serve a snapshot of dist/: a rebuild while the browsers load it cannot tear a run.
  const snapshot = join(ROOT, "build/browser-dist");
  rmSync(snapshot, { recursive: true, force: true });
  mkdirSync(dirname(snapshot), { recursive: true });
  cpSync(join(ROOT, "dist"), snapshot, { recursive: true });
  await buildWebBundle({ dist: snapshot });
  const server = await startServer({ dist: snapshot });
  onCleanup(() => server.close());

  let failed = false;
  const missingAll = [];
  for (const engine of engines) {
    if (!PLANS[engine]) throw new Error(`unknown engine ${engine}; use chromium, webkit`);
    const missing = missingFor(engine);
    if (missing.length) {
      missingAll.push([engine, missing]);
      continue;
    }
    let passed = 0;
    let failures = 0;
    for (const plan of PLANS[engine]) {
      const tests = plan.tests.filter((test) => !only || only.some((name) => test.name.startsWith(name)));
      if (tests.length === 0) continue;
      let report;
      try {
        report = await plan.run(tests, server.origin);
      } catch (error) {
        if (error instanceof Missing) {
          missingAll.push([engine, [error.message]]);
          break;
        }
        failures += tests.length;
        console.log(`  FAIL ${engine}: could not run ${tests.map((t) => t.name).join(", ")}: ${error.stack ?? error}`);
        continue;
      }
      if (VERBOSE) console.log(`${engine}: ${report.version}`);
      for (const { test, result, ms, console: lines } of report.outcomes) {
        const ok = result?.ok === true;
        if (ok) passed++;
        else failures++;
        if (VERBOSE || !ok) console.log(`  ${ok ? "ok  " : "FAIL"} ${engine} ${test.name} (${ms} ms)${ok ? "" : ` — ${report.version}`}`);
        if (VERBOSE) for (const line of result?.info ?? []) console.log(`      info: ${line}`);
        if (!ok) for (const line of [...summarize(result), ...lines.slice(0, 10)]) console.log(`      ${line}`);
      }
    }
    console.log(`${engine}: ${passed} passed, ${failures} failed`);
    if (failures > 0) failed = true;
  }
  if (missingAll.length) {
    const bar = "!".repeat(78);
    console.error(`\n${bar}`);
    for (const [engine, missing] of missingAll) console.error(`!! test:browser: ${engine} NOT RUN — missing: ${missing.join(", ")}`);
    console.error(`!! install with:  ${INSTALL}`);
    console.error(OPTIONAL ? "!! FORKLESS_BROWSERS=optional: not counted as a failure" : "!! (set FORKLESS_BROWSERS=optional to let this pass without them)");
    console.error(`${bar}\n`);
    if (!OPTIONAL) failed = true;
  }
  return failed ? 1 : 0;
}

setTimeout(async () => {
  console.error(`test-browser: still running after ${RUN_TIMEOUT_MS / 1000} s (FORKLESS_BROWSER_TIMEOUT_MS), at ${step}: a browser or its driver stopped answering; cleaning up and failing`);
  await Promise.race([cleanup(), sleep(15_000)]);
  process.exit(1);
}, RUN_TIMEOUT_MS).unref(); // unref: a run that is done need not wait for it

let code = 1;
try {
  code = await main();
} catch (error) {
  console.error(`test-browser: ${error.stack ?? error}`);
  code = 1;
} finally {
  step = "cleaning up";
  await cleanup();
}
process.exit(code);
