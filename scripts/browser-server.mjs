// A tiny static server for the browser tests and the web demo: loopback only, no
// dependencies. The first path segment picks the headers, so one page can be served
// several ways and its relative imports (../../dist/forkless.mjs, the worker, fixtures)
// inherit the same headers:
//
//   /iso/...         cross-origin isolated (COOP same-origin + COEP require-corp)
//   /plain/...       no isolation headers (SharedArrayBuffer is withheld)
//   /csp/...         isolated + CSP  script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'
//   /csp-strict/...  isolated + CSP  script-src 'self'; worker-src 'self'
//   /no-worker/...   isolated, but every worker.mjs answers 404
//
// Only dist/, build/web-bundle/, tests/browser/ and examples/web/ are served.
import { createServer } from "node:http";
import { readFile, stat } from "node:fs/promises";
import { extname, join, normalize, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(fileURLToPath(new URL("..", import.meta.url)));
const SERVED = ["dist", "build/web-bundle", "tests/browser", "examples/web"];

const ISOLATION = {
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
  "Cross-Origin-Resource-Policy": "same-origin",
};

export const MODES = {
  iso: { ...ISOLATION },
  plain: {},
  csp: { ...ISOLATION, "Content-Security-Policy": "script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'" },
  "csp-strict": { ...ISOLATION, "Content-Security-Policy": "script-src 'self'; worker-src 'self'" },
  // Isolated, but forkless's worker script is missing (404): a deployment mistake to diagnose.
  "no-worker": { ...ISOLATION },
};

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".cjs": "text/javascript; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".wasm": "application/wasm",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".txt": "text/plain; charset=utf-8",
  ".ts": "text/plain; charset=utf-8",
};

function resolvePath(urlPath, mounts) {
  let decoded;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes("\0")) return null;
  const relative = normalize(decoded).replace(/^[/\\]+/, "").split(sep).join("/");
  for (const [prefix, dir] of Object.entries(mounts)) {
    if (relative !== prefix && !relative.startsWith(prefix + "/")) continue;
    const file = resolve(dir, relative.slice(prefix.length + 1));
    return file === dir || file.startsWith(dir + sep) ? file : null;
  }
  return null;
}

/**
 * Starts the server on 127.0.0.1 (port 0 = any free port).
 * `index`: where / redirects to; `dist`: a directory to serve as dist/ instead of the repo's.
 * Returns { origin, port, close(), requests } — requests counts hits per mode.
 */
export async function startServer({ port = 0, log = false, index, dist } = {}) {
  // URL prefix → directory; `dist` lets a test run serve a snapshot of dist/.
  const mounts = Object.fromEntries(SERVED.map((dir) => [dir, join(ROOT, dir)]));
  if (dist) mounts.dist = resolve(dist);
  const requests = Object.fromEntries(Object.keys(MODES).map((mode) => [mode, 0]));
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    if (url.pathname === "/" && index) {
      res.writeHead(302, { Location: index }).end();
      return;
    }
    const match = /^\/([a-z-]+)(\/.*)$/.exec(url.pathname);
    const mode = match && Object.hasOwn(MODES, match[1]) ? match[1] : null;
    const file = mode && !(mode === "no-worker" && /\/worker\.mjs$/.test(match[2])) ? resolvePath(match[2], mounts) : null;
    const headers = { "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", ...(mode ? MODES[mode] : {}) };
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, headers).end();
      return;
    }
    if (!file) {
      res.writeHead(404, { ...headers, "Content-Type": "text/plain" }).end("not found\n");
      return;
    }
    try {
      const info = await stat(file);
      const path = info.isDirectory() ? join(file, "index.html") : file;
      const body = await readFile(path);
      requests[mode]++;
      if (log) console.log(`${req.method} ${url.pathname}`);
      res.writeHead(200, {
        ...headers,
        "Content-Type": TYPES[extname(path)] ?? "application/octet-stream",
        "Content-Length": body.length,
      });
      res.end(req.method === "HEAD" ? undefined : body);
    } catch {
      res.writeHead(404, { ...headers, "Content-Type": "text/plain" }).end("not found\n");
    }
  });
  server.keepAliveTimeout = 1000;
  await new Promise((resolveListen, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolveListen);
  });
  const actual = server.address().port;
  return {
    origin: `http://127.0.0.1:${actual}`,
    port: actual,
    requests,
    close: () =>
      new Promise((done) => {
        server.closeAllConnections?.();
        server.close(() => done());
      }),
  };
}

// node scripts/browser-server.mjs [port]: serve until interrupted.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const server = await startServer({ port: Number(process.argv[2] ?? 0), log: true });
  console.log(`serving ${SERVED.join(", ")} on ${server.origin}/{${Object.keys(MODES).join(",")}}/…`);
}
