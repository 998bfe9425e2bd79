// npm run demo:web — serves examples/web/ cross-origin isolated (COOP/COEP) on loopback and
// prints the URL. Builds dist/ first if it is missing. Ctrl-C stops it.
//   PORT=8080 npm run demo:web      a fixed port (default: 8080, or any free one if taken)
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { startServer } from "./browser-server.mjs";
import { buildWebBundle } from "./browser-bundle.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

if (!existsSync(join(ROOT, "dist/forkless.mjs")) || !existsSync(join(ROOT, "dist/worker.mjs"))) {
  console.log("demo:web: dist/ is missing; running npm run build");
  const run = spawnSync("npm", ["run", "build"], { cwd: ROOT, stdio: "inherit" });
  if (run.status !== 0) process.exit(1);
}
await buildWebBundle();

const index = "/iso/examples/web/index.html";
let server;
try {
  server = await startServer({ port: Number(process.env.PORT ?? 8080), index });
} catch {
  server = await startServer({ port: 0, index });
}
console.log(`forkless web demo (cross-origin isolated: COOP same-origin + COEP require-corp):

  ${server.origin}${index}

  the same app built with esbuild:     ${server.origin}/iso/build/web-bundle/index.html
  under a CSP (wasm-unsafe-eval):      ${server.origin}/csp/examples/web/index.html
  without isolation (the diagnosis):   ${server.origin}/plain/examples/web/index.html

Served on 127.0.0.1 only. Ctrl-C to stop.`);
const stop = async () => {
  await server.close();
  process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
