import { Type, type Static } from 'typebox';

/**
 * How the simulated instance answers verified deliveries, set with `POST /sim/mode` or `setMode`:
 *
 * - `ok`: 204 at once.
 * - `slow`: 204 after `delayMs`.
 * - `fail-500`: 500 every time.
 * - `rate-limited`: 429 with `Retry-After: retryAfterSeconds` (default 1).
 * - `unavailable`: 503 with `Retry-After: retryAfterSeconds` (default 1).
 * - `gone`: 410, which tells the engine to disable the endpoint.
 * - `hang`: never answers (until the simulator stops); the engine's timeout has to end it.
 * - `fail-for`: 500 for `durationMs` from the moment the mode is set, then 204.
 *
 * Deliveries that fail verification get 401 or 400 whatever the mode.
 */
const retryAfterSeconds = Type.Optional(
  Type.Integer({ minimum: 0, maximum: 86_400, description: 'Retry-After, in seconds (default 1)' }),
);
const strict = { additionalProperties: false } as const;

export const SimModeRequest = Type.Union([
  Type.Object({ mode: Type.Literal('ok') }, strict),
  Type.Object({ mode: Type.Literal('slow'), delayMs: Type.Integer({ minimum: 0, maximum: 3_600_000 }) }, strict),
  Type.Object({ mode: Type.Literal('fail-500') }, strict),
  Type.Object({ mode: Type.Literal('rate-limited'), retryAfterSeconds }, strict),
  Type.Object({ mode: Type.Literal('unavailable'), retryAfterSeconds }, strict),
  Type.Object({ mode: Type.Literal('gone') }, strict),
  Type.Object({ mode: Type.Literal('hang') }, strict),
  Type.Object(
    { mode: Type.Literal('fail-for'), durationMs: Type.Integer({ minimum: 0, maximum: 86_400_000 }) },
    strict,
  ),
]);
export type SimModeRequest = Static<typeof SimModeRequest>;

export type SimModeName = SimModeRequest['mode'];

export const SIM_MODE_NAMES: readonly SimModeName[] = [
  'ok',
  'slow',
  'fail-500',
  'rate-limited',
  'unavailable',
  'gone',
  'hang',
  'fail-for',
];

/** The mode in force, defaults filled in; `fail-for` also says until when it fails. */
export type SimMode =
  | { mode: 'ok' }
  | { mode: 'slow'; delayMs: number }
  | { mode: 'fail-500' }
  | { mode: 'rate-limited'; retryAfterSeconds: number }
  | { mode: 'unavailable'; retryAfterSeconds: number }
  | { mode: 'gone' }
  | { mode: 'hang' }
  | { mode: 'fail-for'; durationMs: number; until: string };

export const DEFAULT_RETRY_AFTER_SECONDS = 1;

export function effectiveMode(request: SimModeRequest, now: Date): SimMode {
  switch (request.mode) {
    case 'rate-limited':
    case 'unavailable':
      return { mode: request.mode, retryAfterSeconds: request.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS };
    case 'fail-for':
      return {
        mode: 'fail-for',
        durationMs: request.durationMs,
        until: new Date(now.getTime() + request.durationMs).toISOString(),
      };
    default:
      return request;
  }
}

/**
 * How the simulated instance answers verified control commands (`POST /sim/control/mode` or
 * `setControlMode`), applied before a command runs, so a failed attempt leaves nothing done:
 *
 * - `ok`: runs the command and answers 200 with its result.
 * - `slow`: the same after `delayMs` (longer than control's timeout: the answer is lost, the
 *   command ran, and control's retry gets the recorded result).
 * - `fail-500`: 500 every time; nothing runs.
 * - `hang`: never answers (until the simulator stops); nothing runs.
 * - `fail-for`: 500 for `durationMs` from the moment the mode is set, then as `ok`.
 *
 * A command id seen before gets its recorded result in every mode, as the SDK answers replays.
 * Commands that fail verification get 401 or 400 whatever the mode.
 */
export const ControlModeRequest = Type.Union([
  Type.Object({ mode: Type.Literal('ok') }, strict),
  Type.Object({ mode: Type.Literal('slow'), delayMs: Type.Integer({ minimum: 0, maximum: 3_600_000 }) }, strict),
  Type.Object({ mode: Type.Literal('fail-500') }, strict),
  Type.Object({ mode: Type.Literal('hang') }, strict),
  Type.Object(
    { mode: Type.Literal('fail-for'), durationMs: Type.Integer({ minimum: 0, maximum: 86_400_000 }) },
    strict,
  ),
]);
export type ControlModeRequest = Static<typeof ControlModeRequest>;
export type ControlModeName = ControlModeRequest['mode'];

/** The control mode in force; `fail-for` also says until when it fails. */
export type ControlMode =
  | { mode: 'ok' }
  | { mode: 'slow'; delayMs: number }
  | { mode: 'fail-500' }
  | { mode: 'hang' }
  | { mode: 'fail-for'; durationMs: number; until: string };

export function effectiveControlMode(request: ControlModeRequest, now: Date): ControlMode {
  return request.mode === 'fail-for'
    ? { ...request, until: new Date(now.getTime() + request.durationMs).toISOString() }
    : request;
}
