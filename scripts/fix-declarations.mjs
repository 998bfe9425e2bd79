// After tsc emits dist/types/*.d.ts: give relative specifiers the extension Node's resolution
// ("moduleResolution": "node16"/"nodenext") requires, and write a .d.cts twin of every file
// for CommonJS consumers (package.json exports "require" → types/index.d.cts).
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const dir = fileURLToPath(new URL("../dist/types/", import.meta.url));
const relative = /(from\s+|import\s*\(\s*|^import\s+)(["'])(\.{1,2}\/[^"']+?)(\2)/gm;

for (const name of readdirSync(dir)) {
  if (!name.endsWith(".d.ts")) continue;
  const text = readFileSync(dir + name, "utf8");
  const withExtension = (ext) => text.replace(relative, (_, lead, quote, path) => `${lead}${quote}${path}${ext}${quote}`);
  writeFileSync(dir + name, withExtension(".js"));
  writeFileSync(dir + name.replace(/\.d\.ts$/, ".d.cts"), withExtension(".cjs"));
}
