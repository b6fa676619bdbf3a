import { existsSync } from 'node:fs';
import { ConfigError, InternalClient, PeerError, keysPath, peerTokenReader } from '@mic/platform';
import { controlCli } from '@mic/control/cli';

interface RotationResult {
  kekVersion: number;
  rewrapped: number;
  keyring: string;
}

/**
 * `mic secrets rotate-key`: asks the running engine to activate a new key-encryption key and
 * re-wrap every secret under it. The engine does it while it serves; this command speaks to it as
 * control does (control's engine address and service token).
 */
export async function rotateKey(): Promise<number> {
  const fail = (line: string) => {
    process.stderr.write(`mic secrets rotate-key: ${line}\n`);
    return 1;
  };
  let config;
  try {
    config = controlCli.loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) return fail(`configuration error: ${error.problems.join('; ')}`);
    throw error;
  }
  const file = keysPath(config.dataDir, 'service-tokens.json');
  if (!config.peerToken && !(file && existsSync(file))) {
    return fail(
      'no service token for the engine: set ENGINE_TOKEN (or run from the folder whose data/keys holds the embedded token file)',
    );
  }
  const token = config.peerToken ? () => config.peerToken! : peerTokenReader(file!, 'control');
  const engine = new InternalClient({ baseUrl: config.engineUrl, token, timeoutMs: 10 * 60_000, peer: 'engine' });
  try {
    const result = await engine.request<RotationResult>('POST', '/internal/v1/secrets/rotate-key');
    process.stdout.write(
      `key-encryption key v${result.kekVersion} is active; ${result.rewrapped} secret value(s) re-wrapped.\n` +
        `The keyring is ${result.keyring}: keep a copy of it outside this machine (backups never contain it).\n`,
    );
    return 0;
  } catch (error) {
    if (!(error instanceof PeerError)) throw error;
    if (error.isUnreachable)
      return fail(`the engine cannot be reached at ${config.engineUrl}; start it (mic start) and run this again`);
    return fail(error.problem?.detail ?? error.message);
  }
}
