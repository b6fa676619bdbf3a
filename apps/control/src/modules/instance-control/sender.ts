import Value from 'typebox/value';
import {
  CONTROL_COMMAND_ID_HEADER,
  CONTROL_COMMAND_SCHEMAS,
  CONTROL_KEY_ID_HEADER,
  CONTROL_SIGNATURE_HEADER,
  CONTROL_TIMESTAMP_HEADER,
  ControlResult,
  isProblemDetails,
  type ControlCommand,
  type ControlCommandName,
  type ControlError,
} from '@mic/contracts';
import type { CommandSigningKey } from './keys.ts';

export type CommandOutcome =
  | { ok: true; status: number; result: ControlResult; latencyMs: number }
  | { ok: false; status: number | null; error: ControlError; latencyMs: number };

/** Why a 2xx answer is not the result of `command`, or null when it is. */
function resultProblem(value: unknown, command: ControlCommand): string | null {
  if (!Value.Check(ControlResult, value)) return 'the answer is not a command result';
  if (value.id !== command.id || value.command !== command.command) return 'the answer is for another command';
  if (value.status === 'failed') return value.error ? null : 'a failed result without an error';
  const schema = CONTROL_COMMAND_SCHEMAS[command.command as ControlCommandName]?.result;
  if (schema && !Value.Check(schema, value.result ?? {})) return `the result is not a ${command.command} result`;
  return null;
}

async function failureMessage(response: Response): Promise<string> {
  const base = `instance answered ${response.status}`;
  try {
    const body: unknown = await response.json();
    if (isProblemDetails(body)) return `${base}: ${body.title}${body.detail ? ` (${body.detail})` : ''}`;
  } catch {
    // Not JSON: the status says enough.
  }
  return base;
}

/**
 * One attempt of one command: signed now (fresh timestamp, same id), POSTed to the instance's
 * control URL. Only a 2xx carrying this command's result counts as an answer; anything else
 * (refusal, 5xx, timeout, garbage) is a failed attempt to retry.
 */
export async function sendCommand(request: {
  url: string;
  command: ControlCommand;
  key: CommandSigningKey;
  timeoutMs: number;
  now: Date;
  userAgent: string;
}): Promise<CommandOutcome> {
  const { command, key } = request;
  const body = JSON.stringify(command);
  const timestamp = Math.floor(request.now.getTime() / 1000);
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  try {
    const response = await fetch(request.url, {
      method: 'POST',
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(request.timeoutMs),
      headers: {
        'content-type': 'application/json',
        'user-agent': request.userAgent,
        [CONTROL_COMMAND_ID_HEADER]: command.id,
        [CONTROL_TIMESTAMP_HEADER]: String(timestamp),
        [CONTROL_KEY_ID_HEADER]: key.keyId,
        [CONTROL_SIGNATURE_HEADER]: key.sign(command.id, timestamp, body),
      },
    });
    if (response.status < 200 || response.status > 299) {
      const message = await failureMessage(response);
      return {
        ok: false,
        status: response.status,
        error: { code: `http-${response.status}`, message },
        latencyMs: elapsed(),
      };
    }
    let value: unknown;
    try {
      value = await response.json();
    } catch {
      value = undefined;
    }
    const problem = resultProblem(value, command);
    if (problem) {
      return {
        ok: false,
        status: response.status,
        error: { code: 'invalid-result', message: problem },
        latencyMs: elapsed(),
      };
    }
    return { ok: true, status: response.status, result: value as ControlResult, latencyMs: elapsed() };
  } catch (error) {
    const isTimeout = (error as Error).name === 'TimeoutError';
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    return {
      ok: false,
      status: null,
      error: isTimeout
        ? { code: 'timeout', message: `no answer within ${request.timeoutMs} ms` }
        : { code: 'unreachable', message: `connection failed${cause ? ` (${cause})` : ''}` },
      latencyMs: elapsed(),
    };
  }
}
