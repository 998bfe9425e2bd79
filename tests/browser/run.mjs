// Runs one scenario (run.html?s=NAME) and publishes the outcome for the driver in
// window.__results (and a summary in document.title):
//   { name, done, ok, checks: [{ ok, what }], info: [], errors: [], ms }
const name = new URLSearchParams(location.search).get("s");
const results = { name, done: false, ok: false, checks: [], info: [], errors: [], ms: 0 };
window.__results = results;

addEventListener("error", (event) => results.errors.push(`uncaught: ${event.message}`));
addEventListener("unhandledrejection", (event) => results.errors.push(`unhandled rejection: ${event.reason?.stack ?? event.reason}`));

function show(value) {
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

function same(a, b) {
  return Object.is(a, b) || show(a) === show(b);
}

const t = {
  ok(condition, what) {
    results.checks.push({ ok: !!condition, what });
  },
  eq(actual, expected, what) {
    const ok = same(actual, expected);
    results.checks.push({ ok, what: ok ? what : `${what}: got ${show(actual)}, expected ${show(expected)}` });
  },
  info(text) {
    results.info.push(String(text));
  },
};

const SCENARIO_TIMEOUT = 45_000;
const started = performance.now();
try {
  // Imported here, not statically: a page whose module graph fails to load still reports why.
  const { scenarios } = await import("./scenarios.mjs");
  const scenario = scenarios[name];
  if (!scenario) throw new Error(`no scenario named ${JSON.stringify(name)}; known: ${Object.keys(scenarios).join(", ")}`);
  let timer;
  await Promise.race([
    scenario(t),
    new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`scenario timed out after ${SCENARIO_TIMEOUT} ms`)), SCENARIO_TIMEOUT))),
  ]);
  clearTimeout(timer);
} catch (error) {
  results.errors.push(`${error?.name ?? "Error"}: ${error?.message ?? error}\n${error?.stack ?? ""}`);
}
results.ms = Math.round(performance.now() - started);
results.ok = results.errors.length === 0 && results.checks.length > 0 && results.checks.every((c) => c.ok);
results.done = true;
document.title = `${results.ok ? "PASS" : "FAIL"} ${name}`;
document.getElementById("out").textContent = show(results);
