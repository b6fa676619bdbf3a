import { describe, expect, it } from 'vitest';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
// The real config, minus type information: the probe files below exist only in memory.
const eslint = new ESLint({ cwd: root, overrideConfig: tseslint.configs.disableTypeChecked });

/** Lints `code` as if it were the file at `path`, with the project's real ESLint config. */
async function boundaryErrors(path: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(root, path) });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('plane boundaries', () => {
  it.each([
    ['apps/engine/src/modules/probe.ts', "import { startControl } from '@mic/control/cli';"],
    ['apps/engine/src/modules/probe.ts', "import { loadControlConfig } from '../../../control/src/config.ts';"],
    ['apps/control/src/modules/probe.ts', "import { engineCli } from '@mic/engine/cli';"],
    ['apps/control/src/modules/probe.ts', "import x from '../../../engine/src/server.ts';"],
    ['packages/platform/src/probe.ts', "import { controlCli } from '@mic/control/cli';"],
  ])('%s may not run %s', async (path, code) => {
    expect(await boundaryErrors(path, `${code}\nexport {};\n`)).toHaveLength(1);
  });

  it('lets either plane import the shared packages', async () => {
    const code =
      "import { HealthReport } from '@mic/contracts';\nimport { createLogger } from '@mic/platform';\nexport { HealthReport, createLogger };\n";
    expect(await boundaryErrors('apps/engine/src/modules/probe.ts', code)).toEqual([]);
    expect(await boundaryErrors('apps/control/src/modules/probe.ts', code)).toEqual([]);
  });
});
