/**
 * RFC 9457 problem details. Every failure a client can see has its own `type`
 * (`/problems/<slug>`), a title a person understands, and the fields a program needs.
 */
import type { ProblemDetails } from '@mic/contracts';

export { PROBLEM_CONTENT_TYPE, type ProblemDetails } from '@mic/contracts';

export class Problem extends Error {
  readonly status: number;
  readonly type: string;
  readonly title: string;
  readonly detail: string | undefined;
  readonly extensions: Record<string, unknown>;

  constructor(init: { status: number; type: string; title: string; detail?: string } & Record<string, unknown>) {
    const { status, type, title, detail, ...extensions } = init;
    super(detail ?? title);
    this.name = 'Problem';
    this.status = status;
    this.type = type.startsWith('/') || type.includes(':') ? type : `/problems/${type}`;
    this.title = title;
    this.detail = detail;
    this.extensions = extensions;
  }

  toJSON(instance?: string): ProblemDetails {
    return {
      ...this.extensions,
      type: this.type,
      title: this.title,
      status: this.status,
      ...(this.detail === undefined ? {} : { detail: this.detail }),
      ...(instance === undefined ? {} : { instance }),
    };
  }
}

export const problems = {
  notFound: (detail?: string) =>
    new Problem({ status: 404, type: 'not-found', title: 'Not found', ...(detail ? { detail } : {}) }),
  validation: (errors: { field: string; message: string }[]) =>
    new Problem({
      status: 400,
      type: 'validation',
      title: 'The request is not valid',
      detail: errors.map((e) => `${e.field}: ${e.message}`).join('; '),
      errors,
    }),
};
