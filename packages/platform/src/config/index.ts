/**
 * Configuration from environment variables, validated at start. Every problem is reported as one
 * line naming the variable, so an operator never sees a stack trace for a typo.
 */
import { parseNetworks } from '../url-safety/index.ts';

export interface Field<T> {
  readonly env: string;
  readonly description: string;
  /** Used when the variable is unset; `undefined` makes the variable required unless `isOptional`. */
  readonly fallback: T | undefined;
  readonly isOptional: boolean;
  /** A value that may hold a password: an error names the variable but never shows the value. */
  readonly isSecret?: boolean;
  parse(raw: string): T;
  /** How the default reads in the configuration reference (`5s` rather than `5000`). */
  display?(value: T): string;
}

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(problems.join('; '));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

type Env = Readonly<Record<string, string | undefined>>;
type Spec = Record<string, Field<unknown>>;
export type ConfigOf<S extends Spec> = { readonly [K in keyof S]: S[K] extends Field<infer T> ? T : never };

function field<T>(
  env: string,
  description: string,
  fallback: T | undefined,
  parse: (raw: string) => T,
  display?: (value: T) => string,
): Field<T> {
  return { env, description, fallback, isOptional: false, parse, ...(display ? { display } : {}) };
}

function optional<T>(env: string, description: string, parse: (raw: string) => T): Field<T | undefined> {
  return { env, description, fallback: undefined, isOptional: true, parse };
}

/** Reads every field of `spec` from `env`; throws one ConfigError listing all wrong values. */
export function loadConfig<S extends Spec>(spec: S, env: Env = process.env): ConfigOf<S> {
  const problems: string[] = [];
  const values: Record<string, unknown> = {};
  for (const [key, f] of Object.entries(spec)) {
    const raw = env[f.env];
    if (raw === undefined || raw.trim() === '') {
      if (f.fallback === undefined && !f.isOptional) {
        problems.push(`${f.env} is required (${f.description})`);
      }
      values[key] = f.fallback;
      continue;
    }
    try {
      values[key] = f.parse(raw.trim());
    } catch (error) {
      const shown = f.isSecret ? '' : `=${JSON.stringify(raw)}`;
      problems.push(`${f.env}${shown} is not valid: ${(error as Error).message}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return values as ConfigOf<S>;
}

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Parses `250ms`, `5s`, `2m`, `1h`, `1d`, or a bare number of milliseconds. */
export function parseDuration(raw: string): number {
  const match = DURATION.exec(raw.trim());
  if (!match) throw new Error('expected a duration such as 500ms, 5s, 2m or 1h');
  const unit = (match[2] ?? 'ms') as keyof typeof UNIT_MS;
  return Math.round(Number(match[1]) * UNIT_MS[unit]);
}

/** Checks that `raw` is an absolute URL of one of `protocols` (`smtp:`), naming what was expected. */
export function parseUrl(raw: string, protocols: readonly string[], example?: string): string {
  const expected = `expected ${example ?? `a ${protocols.map((p) => `${p.replace(':', '')}://`).join(' or ')} URL`}`;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(expected);
  }
  if (!protocols.includes(url.protocol)) throw new Error(expected);
  if (!url.hostname) throw new Error('the URL names no host');
  return raw;
}

/** The inverse of parseDuration: `1500` → `1500ms`, `300000` → `5m`. */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    if (ms >= UNIT_MS[unit] && ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  }
  return `${ms}ms`;
}

/** One line of the configuration reference. */
export interface ConfigEntry {
  variable: string;
  fallback: string;
  description: string;
}

/** The variables of a spec with their defaults as a person reads them. */
export function describeConfig(spec: Spec): ConfigEntry[] {
  return Object.values(spec).map((f) => ({
    variable: f.env,
    fallback:
      f.fallback === undefined || f.fallback === ''
        ? 'unset'
        : f.display
          ? f.display(f.fallback)
          : Array.isArray(f.fallback)
            ? f.fallback.join(',') || 'none'
            : String(f.fallback as string | number | boolean),
    description: f.description,
  }));
}

export const fields = {
  port(env: string, description: string, fallback: number): Field<number> {
    return field(env, description, fallback, (raw) => {
      const n = Number(raw);
      if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error('expected a port number from 0 to 65535');
      return n;
    });
  },
  integer(env: string, description: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): Field<number> {
    return field(env, description, fallback, (raw) => {
      const n = Number(raw);
      if (!Number.isInteger(n) || n < min || n > max) throw new Error(`expected a whole number from ${min} to ${max}`);
      return n;
    });
  },
  duration(env: string, description: string, fallbackMs: number): Field<number> {
    return field(env, description, fallbackMs, parseDuration, formatDuration);
  },
  string(env: string, description: string, fallback?: string): Field<string> {
    return field(env, description, fallback, (raw) => raw);
  },
  optionalString(env: string, description: string): Field<string | undefined> {
    return optional(env, description, (raw) => raw);
  },
  /** A PostgreSQL memory size such as `32MB`. */
  memorySize(env: string, description: string, fallback: string): Field<string> {
    return field(env, description, fallback, (raw) => {
      if (!/^\d+(kB|MB|GB)$/.test(raw)) throw new Error('expected a size such as 16MB or 1GB');
      return raw;
    });
  },
  choice<T extends string>(env: string, description: string, choices: readonly T[], fallback: T): Field<T> {
    return field(env, description, fallback, (raw) => {
      if (!(choices as readonly string[]).includes(raw)) throw new Error(`expected one of ${choices.join(', ')}`);
      return raw as T;
    });
  },
  boolean(env: string, description: string, fallback: boolean): Field<boolean> {
    return field(env, description, fallback, (raw) => {
      const v = raw.toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(v)) return true;
      if (['0', 'false', 'no', 'off'].includes(v)) return false;
      throw new Error('expected true or false');
    });
  },
  /** A comma-separated list of networks in CIDR notation (`10.0.0.0/8,fd00::/8`); unset: none. */
  networks(env: string, description: string): Field<string[]> {
    return field(env, description, [], parseNetworks, (networks) => networks.join(',') || 'none');
  },
  /** A PostgreSQL connection URL; unset means the embedded PGlite default. */
  databaseUrl(env: string, description: string): Field<string | undefined> {
    return optional(env, description, (raw) => {
      let url: URL;
      try {
        url = new URL(raw);
      } catch {
        throw new Error('expected a URL such as postgres://user:password@host:5432/database');
      }
      if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
        throw new Error('expected a postgres:// URL');
      }
      if (!url.hostname) throw new Error('the URL names no host');
      return raw;
    });
  },
  httpUrl(env: string, description: string, fallback: string): Field<string> {
    return field(env, description, fallback, (raw) => parseUrl(raw, ['http:', 'https:']).replace(/\/+$/, ''));
  },
  /**
   * An optional URL of one of `protocols`; `isSecret` for one that carries a password or a token
   * (an SMTP URL, a Slack webhook): a configuration error then never shows it.
   */
  optionalUrl(
    env: string,
    description: string,
    options: { protocols: readonly string[]; example?: string; isSecret?: boolean },
  ): Field<string | undefined> {
    return {
      ...optional(env, description, (raw) => parseUrl(raw, options.protocols, options.example)),
      ...(options.isSecret ? { isSecret: true } : {}),
    };
  },
};
