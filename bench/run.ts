// `npm run bench`: every benchmark in turn. Each prints its own table, with a baseline measured
// in the same run.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const BENCHES = ['startup.ts', 'ingress.ts', 'delivery.ts', 'outbound.ts', 'backup.ts'];
let failed = false;
for (const bench of BENCHES) {
  const result = spawnSync(process.execPath, [join(import.meta.dirname, bench)], { stdio: 'inherit' });
  failed ||= result.status !== 0;
}
process.exit(failed ? 1 : 0);
