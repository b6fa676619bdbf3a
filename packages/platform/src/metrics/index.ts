import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export { Counter, Gauge, Histogram, Registry };

/** One registry per process, with Node's default metrics prefixed by the plane's name. */
export function createMetricsRegistry(plane: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ plane });
  collectDefaultMetrics({ register: registry });
  return registry;
}
