// Builds examples/web with esbuild into build/web-bundle/, to show that an app built with a
// common bundler works. Two entry points with code splitting: the app, and forkless's
// worker entry, so that `new URL("./worker.mjs", import.meta.url)` inside the shared chunk
// finds the bundled worker next to it. keepNames: children find targets by function name.
import { build } from "esbuild";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

export async function buildWebBundle({ dist = join(ROOT, "dist"), out = join(ROOT, "build/web-bundle") } = {}) {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  await build({
    absWorkingDir: ROOT,
    entryPoints: { app: "examples/web/app.mjs", worker: join(dist, "worker.mjs") },
    plugins: [
      {
        name: "forkless-dist",
        setup(b) {
          b.onResolve({ filter: /\/dist\/forkless\.mjs$/ }, () => ({ path: join(dist, "forkless.mjs") }));
        },
      },
    ],
    bundle: true,
    splitting: true,
    format: "esm",
    target: "es2022",
    keepNames: true,
    minify: true,
    outdir: out,
    entryNames: "[name]",
    chunkNames: "chunk-[hash]",
    outExtension: { ".js": ".mjs" },
    logLevel: "warning",
  });
  copyFileSync(join(ROOT, "examples/web/index.html"), join(out, "index.html"));
  copyFileSync(join(ROOT, "examples/web/style.css"), join(out, "style.css"));
  return out;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  console.log(`built ${await buildWebBundle()}`);
}
