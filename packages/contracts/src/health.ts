import { Type, type Static } from 'typebox';

/** draft-inadarei-api-health-check: what every /health/* endpoint of either plane answers. */
export const HealthStatus = Type.Union([Type.Literal('pass'), Type.Literal('warn'), Type.Literal('fail')]);

export const HealthObservation = Type.Object(
  {
    componentId: Type.Optional(Type.String()),
    componentType: Type.Optional(Type.String()),
    observedValue: Type.Optional(Type.Unknown()),
    observedUnit: Type.Optional(Type.String()),
    status: HealthStatus,
    time: Type.Optional(Type.String()),
    output: Type.Optional(Type.String()),
  },
  { additionalProperties: true },
);

export const HealthReport = Type.Object(
  {
    status: HealthStatus,
    version: Type.Optional(Type.String()),
    releaseId: Type.Optional(Type.String()),
    serviceId: Type.Optional(Type.String()),
    description: Type.Optional(Type.String()),
    output: Type.Optional(Type.String()),
    checks: Type.Optional(Type.Record(Type.String(), Type.Array(HealthObservation))),
  },
  { additionalProperties: true },
);
export type HealthReport = Static<typeof HealthReport>;

/** The engine's overall health, which control reads for `/health/engine`. */
export const ENGINE_HEALTH_PATH = '/health';
