import { commonFields, fields, loadConfig, type ConfigOf } from '@mic/platform';

export function controlConfigSpec(env: Readonly<Record<string, string | undefined>>) {
  return {
    ...commonFields,
    host: fields.string('CONTROL_HOST', 'address the control plane listens on', '127.0.0.1'),
    port: fields.port('CONTROL_PORT', 'port of the control plane (API and console)', 3000),
    databaseUrl: fields.databaseUrl(
      'CONTROL_DATABASE_URL',
      'PostgreSQL URL of the control database; unset: embedded PGlite',
    ),
    databaseSchema: fields.string('CONTROL_DATABASE_SCHEMA', 'schema of the control tables', 'control'),
    engineUrl: fields.httpUrl(
      'ENGINE_URL',
      'where control reaches the engine',
      `http://127.0.0.1:${env.ENGINE_PORT?.trim() || '3100'}`,
    ),
    peerToken: fields.optionalString(
      'ENGINE_TOKEN',
      'service token control presents to the engine; unset: the embedded token file',
    ),
    engineTimeout: fields.duration('ENGINE_TIMEOUT', 'deadline of control calls to the engine', 10_000),
    engineHealthTimeout: fields.duration(
      'ENGINE_HEALTH_TIMEOUT',
      'how long control waits for the engine health',
      1_500,
    ),
  };
}

export type ControlConfig = ConfigOf<ReturnType<typeof controlConfigSpec>>;

export function loadControlConfig(env: Readonly<Record<string, string | undefined>> = process.env): ControlConfig {
  return loadConfig(controlConfigSpec(env), env);
}
