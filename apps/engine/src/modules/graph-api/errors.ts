import { graphErrorBody } from '@mic/meta';
import { Problem } from '@mic/platform';

/** An answer in Meta's terms: the HTTP status and the Graph error body. */
export interface GraphFailure {
  status: number;
  body: ReturnType<typeof graphErrorBody>;
}

const failure = (status: number, code: number, message: string, details?: string, isTransient?: boolean) => ({
  status,
  body: graphErrorBody({
    code,
    message,
    ...(details === undefined ? {} : { details }),
    ...(isTransient === undefined ? {} : { isTransient }),
  }),
});

/** A token that is not an instance's: Meta's answer to a token it cannot parse. */
export const invalidToken = () => failure(401, 190, 'Invalid OAuth access token - Cannot parse access token');

/** An id the token has no access to (another tenant's, or none at all: the two are not told apart). */
export const permissionDenied = (objectId: string) =>
  failure(403, 200, '(#200) Permissions error', `the access token cannot send from ${objectId}`);

export const invalidParameter = (details: string) => failure(400, 100, '(#100) Invalid parameter', details);

/**
 * The engine's own refusals, as the Graph error a client's error handling already knows: a paused
 * instance or a module turned off is a permission Meta would refuse (#10), the month's quota a
 * rate limit (#80007), the engine turned off a temporary outage (#2).
 */
export function graphFailureOf(error: unknown): GraphFailure {
  if (error instanceof Problem) {
    const details = error.detail ?? error.title;
    switch (error.type) {
      case '/problems/invalid-instance-token':
      case '/problems/unauthorized':
        return invalidToken();
      case '/problems/validation': {
        const errors = error.extensions.errors;
        const fields = Array.isArray(errors)
          ? (errors as { field: string; message: string }[]).map((e) => `${e.field || 'body'}: ${e.message}`)
          : [];
        return invalidParameter(fields.join('; ') || details);
      }
      case '/problems/message-quota-exceeded':
        return failure(400, 80007, '(#80007) Rate limit issues', details);
      case '/problems/engine-disabled':
        return failure(503, 2, 'Service temporarily unavailable', details, true);
      default:
        if (error.status === 401) return invalidToken();
        if (error.status === 400) return invalidParameter(details);
        if (error.status === 403 || error.status === 423) {
          return failure(403, 10, '(#10) Application does not have permission for this action', details);
        }
        if (error.status === 404) return failure(404, 803, '(#803) Some of the aliases you requested do not exist');
        break;
    }
  }
  // Fastify's own: a body that is not JSON, too large, or of another content type.
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return invalidParameter(error instanceof Error ? error.message : 'the request is not valid');
  }
  return failure(500, 1, 'An unknown error occurred', undefined, true);
}

/**
 * A media id the instance cannot see, unknown or another tenant's: Meta's answer for an object that
 * does not exist or that the token has no access to, which tells the two apart by nothing.
 */
export const unknownObject = (method: string, objectId: string) => ({
  status: 400,
  body: graphErrorBody({
    code: 100,
    subcode: 33,
    type: 'GraphMethodException',
    message: `Unsupported ${method.toLowerCase()} request. Object with ID '${objectId}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api`,
  }),
});

/** A path the Graph-compatible API does not serve: Meta's "unknown path components". */
export const unknownPath = (path: string) => failure(400, 2500, `Unknown path components: ${path}`);

/** Meta did not answer (refused, reset, timed out): a temporary error the client retries. */
export const metaUnreachable = () => failure(503, 2, 'Service temporarily unavailable', undefined, true);

/** The channel has no Meta token in the engine's secret store (never connected, or disconnected). */
export const channelNotConnected = (channelId: string) =>
  failure(
    403,
    10,
    '(#10) Application does not have permission for this action',
    `the channel ${channelId} has no Meta access token in the engine`,
  );

/** Meta's media URL could not be fetched: WhatsApp's media download error. */
export const mediaDownloadFailed = (details: string) => failure(400, 131052, '(#131052) Media download error', details);

/** Meta answered a failure without a Graph error body. */
export const unexpectedAnswer = (status: number) =>
  failure(status, 1, 'An unknown error occurred', `Meta answered HTTP ${status} without an error body`);
