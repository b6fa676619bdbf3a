import type { HttpServer } from '../http/index.ts';
import type { Registry } from 'prom-client';

/**
 * Health in `application/health+json` (draft-inadarei-api-health-check): a status of pass, warn
 * or fail, and a `checks` map of `component:measurement` to observations.
 */
export type HealthStatus = 'pass' | 'warn' | 'fail';

export interface Observation {
  componentId?: string;
  componentType?: string;
  observedValue?: unknown;
  observedUnit?: string;
  status: HealthStatus;
  time?: string;
  output?: string;
  links?: Record<string, string>;
}

export interface HealthCheck {
  /** `component:measurement`, for example `postgres:responseTime`. */
  name: string;
  run(): Promise<Observation | Observation[]>;
}

export interface HealthReport {
  status: HealthStatus;
  version: string;
  releaseId: string;
  serviceId: string;
  description: string;
  output?: string;
  checks: Record<string, Observation[]>;
}

export const HEALTH_CONTENT_TYPE = 'application/health+json';
const RANK: Record<HealthStatus, number> = { pass: 0, warn: 1, fail: 2 };

export function worst(statuses: Iterable<HealthStatus>): HealthStatus {
  let result: HealthStatus = 'pass';
  for (const s of statuses) if (RANK[s] > RANK[result]) result = s;
  return result;
}

/** Runs one check with a deadline: a hanging dependency reports `fail`, it never hangs health. */
async function runCheck(check: HealthCheck, timeoutMs: number): Promise<Observation[]> {
  const time = new Date().toISOString();
  let timer: NodeJS.Timeout | undefined;
  try {
    const result = await Promise.race([
      check.run(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return (Array.isArray(result) ? result : [result]).map((o) => ({ time, ...o }));
  } catch (error) {
    return [{ status: 'fail', time, output: (error as Error).message }];
  } finally {
    clearTimeout(timer);
  }
}

export interface HealthGroupOptions {
  serviceId: string;
  version: string;
  releaseId: string;
  description: string;
  timeoutMs: number;
}

export async function evaluate(checks: readonly HealthCheck[], options: HealthGroupOptions): Promise<HealthReport> {
  const results = await Promise.all(checks.map(async (c) => [c.name, await runCheck(c, options.timeoutMs)] as const));
  const map = Object.fromEntries(results);
  const status = worst(results.flatMap(([, obs]) => obs.map((o) => o.status)));
  const failing = results.filter(([, obs]) => obs.some((o) => o.status !== 'pass'));
  return {
    status,
    version: options.version,
    releaseId: options.releaseId,
    serviceId: options.serviceId,
    description: options.description,
    ...(failing.length
      ? {
          output: failing
            .map(([name, obs]) => `${name}: ${obs.find((o) => o.status !== 'pass')?.output ?? 'not passing'}`)
            .join('; '),
        }
      : {}),
    checks: map,
  };
}

export interface HealthRoutesOptions extends Omit<HealthGroupOptions, 'description'> {
  /** Path (`/health/api`) to the checks it reports and a description of what it covers. */
  groups: Record<string, { description: string; checks: readonly HealthCheck[] }>;
  /** Whether the process is ready for traffic (started, not shutting down). */
  isReady(): boolean;
  /** Checks that must pass for /readyz (for example the database). */
  readinessChecks: readonly HealthCheck[];
  metrics: Registry;
  /** Refreshes gauges (queue depths and the like) right before /metrics is scraped. */
  beforeScrape?: () => Promise<void>;
}

export function registerHealthRoutes(app: HttpServer, options: HealthRoutesOptions): void {
  const hide = { hide: true } as const;
  for (const [path, group] of Object.entries(options.groups)) {
    app.get(path, { schema: { ...hide } }, async (_req, reply) => {
      const report = await evaluate(group.checks, { ...options, description: group.description });
      void reply
        .status(report.status === 'fail' ? 503 : 200)
        .header('cache-control', 'no-store')
        .type(HEALTH_CONTENT_TYPE);
      return JSON.stringify(report);
    });
  }
  app.get('/livez', { schema: hide }, async (_req, reply) => {
    void reply.header('cache-control', 'no-store');
    return { status: 'pass' };
  });
  app.get('/readyz', { schema: hide }, async (_req, reply) => {
    const report = options.isReady()
      ? await evaluate(options.readinessChecks, { ...options, description: 'readiness' })
      : { status: 'fail' as const, output: 'not ready (starting or shutting down)' };
    void reply
      .status(report.status === 'fail' ? 503 : 200)
      .header('cache-control', 'no-store')
      .type(HEALTH_CONTENT_TYPE);
    return JSON.stringify(report);
  });
  app.get('/metrics', { schema: hide }, async (_req, reply) => {
    await options.beforeScrape?.();
    void reply.type(options.metrics.contentType);
    return options.metrics.metrics();
  });
}
