// node22/node24 (Node binaries from the npm registry, used to run the tests on every Node the
// README promises) both declare a `node` bin; npm links it into node_modules/.bin, where it
// would shadow the system node in every npm script. The test runner calls them by path.
import { lstatSync, readlinkSync, unlinkSync } from "node:fs";

for (const name of ["node", "npm", "npx", "corepack"]) {
  const link = `node_modules/.bin/${name}`;
  try {
    if (lstatSync(link).isSymbolicLink() && /node2\d\/|\.\.\/npm\//.test(readlinkSync(link))) unlinkSync(link);
  } catch {}
}
