/**
 * RFC 9457 problem details: how every MIC API (both planes) and the SDK's delivery handler answer
 * errors. `type` is `/problems/<slug>` (or `about:blank`); extension fields carry what a program needs.
 */
export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  [extension: string]: unknown;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** True for a JSON value that has the members every problem details object has. */
export function isProblemDetails(value: unknown): value is ProblemDetails {
  if (typeof value !== 'object' || value === null) return false;
  const { type, title, status } = value as Record<string, unknown>;
  return typeof type === 'string' && typeof title === 'string' && typeof status === 'number';
}
