import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Builds the console when its build is missing or older than its sources, so `npm start` on a
 * fresh clone (or after a pull) serves the current console; otherwise it costs a few stat calls.
 */
const here = import.meta.dirname;
const built = join(here, 'dist', 'index.html');
const inputs = ['index.html', 'vite.config.ts', 'package.json', 'src'].map((p) => join(here, p));

function newest(path: string): number {
  const info = statSync(path, { throwIfNoEntry: false });
  if (!info) return 0;
  if (!info.isDirectory()) return info.mtimeMs;
  return Math.max(info.mtimeMs, ...readdirSync(path).map((name) => newest(join(path, name))));
}

const builtAt = statSync(built, { throwIfNoEntry: false })?.mtimeMs ?? 0;
if (builtAt < Math.max(...inputs.map(newest))) {
  const started = performance.now();
  const { build } = await import('vite');
  await build({ configFile: join(here, 'vite.config.ts'), logLevel: 'warn' });
  console.log(`console built in ${Math.round(performance.now() - started)} ms`);
}
