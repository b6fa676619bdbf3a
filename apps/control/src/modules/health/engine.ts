import { HealthReport, ENGINE_HEALTH_PATH } from '@mic/contracts';
import type { HealthCheck, Observation } from '@mic/platform';
import Value from 'typebox/value';

/**
 * `engine:health`: asks the engine over HTTP with a short deadline. An engine that is down, slow
 * or answering nonsense is `fail` here, and only here: it never turns control's own health red.
 */
export function engineCheck(engineUrl: string, timeoutMs: number): HealthCheck {
  return {
    name: 'engine:health',
    async run(): Promise<Observation> {
      const started = performance.now();
      let response: Response;
      try {
        response = await fetch(`${engineUrl}${ENGINE_HEALTH_PATH}`, { signal: AbortSignal.timeout(timeoutMs) });
      } catch (error) {
        const reason = (error as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : 'unreachable';
        return { componentId: engineUrl, componentType: 'component', status: 'fail', output: `engine ${reason}` };
      }
      const elapsed = Math.round(performance.now() - started);
      const body: unknown = await response.json().catch(() => null);
      if (!Value.Check(HealthReport, body)) {
        return {
          componentId: engineUrl,
          componentType: 'component',
          status: 'fail',
          output: `engine answered ${response.status} without a health report`,
        };
      }
      return {
        componentId: engineUrl,
        componentType: 'component',
        observedValue: elapsed,
        observedUnit: 'ms',
        status: body.status,
        ...(body.output ? { output: body.output } : {}),
      };
    },
  };
}
