import { Type, type Static } from 'typebox';

export const Heartbeat = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    enqueuedAt: Type.String({ format: 'date-time' }),
    processedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    roundTripMs: Type.Union([Type.Number(), Type.Null()], { description: 'enqueue to processing, in ms' }),
  },
  { description: 'A job sent through the plane queue, proving enqueue-in-transaction and workers end to end.' },
);
export type Heartbeat = Static<typeof Heartbeat>;

export const SystemStatus = Type.Object({
  plane: Type.Union([Type.Literal('control'), Type.Literal('engine')]),
  version: Type.String(),
  pid: Type.Integer({ description: 'process id of this plane process' }),
  startedAt: Type.String({ format: 'date-time' }),
  database: Type.Object({
    kind: Type.Union([Type.Literal('pglite'), Type.Literal('postgres')]),
    schema: Type.String(),
    pendingMigrations: Type.Array(Type.String()),
  }),
  roles: Type.Array(Type.String()),
  queues: Type.Record(
    Type.String(),
    Type.Object({ queued: Type.Integer(), active: Type.Integer(), failed: Type.Integer() }),
  ),
  lastHeartbeat: Type.Union([Heartbeat, Type.Null()]),
});
export type SystemStatus = Static<typeof SystemStatus>;

export const HeartbeatParams = Type.Object({ id: Type.String({ format: 'uuid' }) });
