/**
 * After `tsc -p tsconfig.build.json`: the sources import each other with `.ts` extensions (so Node runs
 * them as they are), and tsc rewrites those to `.js` in the emitted JavaScript but not in the emitted
 * declarations. A user's `tsc` (nodenext) rejects `.ts` specifiers in a dependency's `.d.ts` (TS5097),
 * so this rewrites every relative `.ts` specifier in `dist/**\/*.d.ts` to `.js`.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';

const RELATIVE_TS_SPECIFIER = /(from\s+|import\s*\(\s*)(['"])(\.{1,2}\/[^'"]+)\.ts\2/g;

const root = path.resolve(process.argv[2] ?? 'dist');
let rewritten = 0;
for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || !entry.name.endsWith('.d.ts')) continue;
  const file = path.join(entry.parentPath, entry.name);
  const text = await readFile(file, 'utf8');
  const fixed = text.replace(RELATIVE_TS_SPECIFIER, '$1$2$3.js$2');
  if (fixed !== text) {
    await writeFile(file, fixed);
    rewritten += 1;
  }
}
process.stdout.write(`rewrote .ts import specifiers in ${rewritten} declaration files under ${root}\n`);
