import { chmodSync, linkSync, mkdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { StartupError } from '../lifecycle/index.ts';
import { generateToken } from './tokens.ts';
import { SERVICE_TOKEN_PREFIX } from './store.ts';
import type { PlaneName } from '../supervision/index.ts';

/**
 * The embedded default's service tokens: one file, owner-only, holding the token each plane
 * presents to the other (`control` is what control presents to the engine). Whichever plane starts
 * first creates it. Deployments on separate machines set ENGINE_TOKEN / CONTROL_TOKEN instead.
 */
export type PeerTokens = Record<PlaneName, string>;

export function assertOwnerOnly(path: string, env: string): void {
  const mode = statSync(path).mode & 0o777;
  if (mode & 0o077) {
    throw new StartupError(
      `${env}: ${path} is readable by others (mode ${mode.toString(8)}); run chmod 600 on it`,
      true,
    );
  }
}

function parse(path: string): PeerTokens {
  const value = JSON.parse(readFileSync(path, 'utf8')) as Partial<PeerTokens>;
  if (typeof value.control !== 'string' || typeof value.engine !== 'string') {
    throw new StartupError(`${path} does not hold a token for each plane`, true);
  }
  return { control: value.control, engine: value.engine };
}

export function readOrCreatePeerTokens(path: string, env = 'MIC_DATA_DIR'): PeerTokens {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  // Written aside and linked into place: the other plane, starting at the same moment, either
  // finds no file or a whole one, never an empty file between create and write.
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(
    tmp,
    JSON.stringify({ control: generateToken(SERVICE_TOKEN_PREFIX), engine: generateToken(SERVICE_TOKEN_PREFIX) }),
    { mode: 0o600 },
  );
  try {
    linkSync(tmp, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    unlinkSync(tmp);
  }
  assertOwnerOnly(path, env);
  return parse(path);
}

/** Replaces the file atomically (used by token rotation). */
export function writePeerTokens(path: string, tokens: PeerTokens): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(tokens), { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

/** The token this plane presents, re-read when the file changes (rotation needs no restart). */
export function peerTokenReader(path: string, plane: PlaneName): () => string {
  let cached: { mtimeMs: number; token: string } | undefined;
  return () => {
    const { mtimeMs } = statSync(path);
    if (!cached || cached.mtimeMs !== mtimeMs) cached = { mtimeMs, token: parse(path)[plane] };
    return cached.token;
  };
}
