import { randomBytes } from 'node:crypto';

/** W3C trace context (`traceparent: 00-<trace id>-<span id>-<flags>`). */
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/**
 * A traceparent for a new span: inside the caller's trace when `parent` is a valid traceparent,
 * otherwise at the root of a new trace.
 */
export function childTraceParent(parent?: string): string {
  const match = parent ? TRACEPARENT.exec(parent) : null;
  const traceId = match && !/^0+$/.test(match[1]!) ? match[1]! : randomBytes(16).toString('hex');
  return `00-${traceId}-${randomBytes(8).toString('hex')}-${match?.[3] ?? '01'}`;
}
