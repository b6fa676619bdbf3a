import { describe, expect, it } from 'vitest';
import {
  GraphError,
  classifyGraphError,
  graphErrorFromNetwork,
  graphErrorFromResponse,
  type GraphErrorClassification,
} from './errors.ts';

/**
 * Error bodies as Meta sends them: the Graph API error-handling guide, the WhatsApp Cloud API
 * error-code reference and answers captured in public reports (see the Graph API section of
 * src/webhooks/fixtures/SOURCES.md). fbtrace ids varied.
 */
const CASES: [string, number, object, GraphErrorClassification][] = [
  [
    'unparseable token',
    400,
    {
      error: {
        message: 'Invalid OAuth access token - Cannot parse access token',
        type: 'OAuthException',
        code: 190,
        fbtrace_id: 'AZ6Kx2mFpbTzF8aWQF1mM3s',
      },
    },
    'auth',
  ],
  [
    'expired token (subcode 463)',
    400,
    {
      error: {
        message:
          'Error validating access token: Session has expired on Tuesday, 10-Oct-23 08:00:00 PDT. The current time is Tuesday, 10-Oct-23 09:12:13 PDT.',
        type: 'OAuthException',
        code: 190,
        error_subcode: 463,
        fbtrace_id: 'ABcAKEmb2nPzSqFO0m8wTV6',
      },
    },
    'auth',
  ],
  [
    'password changed (subcode 460)',
    400,
    {
      error: {
        message:
          'Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons.',
        type: 'OAuthException',
        code: 190,
        error_subcode: 460,
        fbtrace_id: 'EJplcsCHuLu',
      },
    },
    'auth',
  ],
  [
    'app not installed (subcode 458)',
    400,
    {
      error: {
        message: 'Error validating access token: The user has not authorized application 1234567890.',
        type: 'OAuthException',
        code: 190,
        error_subcode: 458,
        fbtrace_id: 'A8s1Y3cS0mPq',
      },
    },
    'auth',
  ],
  [
    'WhatsApp AuthException (code 0)',
    401,
    { error: { message: '(#0) AuthException', type: 'OAuthException', code: 0, fbtrace_id: 'AbCdEfGh0' } },
    'auth',
  ],
  [
    'application request limit (4)',
    400,
    {
      error: {
        message: '(#4) Application request limit reached',
        type: 'OAuthException',
        is_transient: true,
        code: 4,
        fbtrace_id: 'AqX2bGkN5yP',
      },
    },
    'rate-limited',
  ],
  [
    'user request limit (17)',
    400,
    {
      error: {
        message: '(#17) User request limit reached',
        type: 'OAuthException',
        is_transient: true,
        code: 17,
        error_subcode: 2446079,
        fbtrace_id: 'A7kQ1xYh',
      },
    },
    'rate-limited',
  ],
  [
    'page request limit (32)',
    400,
    { error: { message: '(#32) Page request limit reached', type: 'OAuthException', code: 32, fbtrace_id: 'Bx1' } },
    'rate-limited',
  ],
  [
    'API rate limit (613)',
    400,
    {
      error: {
        message: '(#613) Calls to this api have exceeded the rate limit.',
        type: 'OAuthException',
        code: 613,
        fbtrace_id: 'C93kd',
      },
    },
    'rate-limited',
  ],
  [
    'business use case limit (80001)',
    400,
    {
      error: {
        message:
          '(#80001) There have been too many calls to this Page account. Wait a bit and try again. For more info, please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting.',
        type: 'OAuthException',
        code: 80001,
        fbtrace_id: 'D21xz',
      },
    },
    'rate-limited',
  ],
  [
    'WhatsApp throughput (130429)',
    429,
    {
      error: {
        message: '(#130429) Rate limit hit',
        type: 'OAuthException',
        code: 130429,
        error_data: {
          messaging_product: 'whatsapp',
          details:
            'Message failed to send because there were too many messages sent from this phone number in a short period of time',
        },
        error_subcode: 2494055,
        fbtrace_id: 'Az8or2yhqkZfEZ-_4Qn_Bam',
      },
    },
    'rate-limited',
  ],
  [
    'WhatsApp Business Account rate limit (80007)',
    400,
    { error: { message: '(#80007) Rate limit issues', type: 'OAuthException', code: 80007, fbtrace_id: 'E1' } },
    'rate-limited',
  ],
  [
    'unknown error (1)',
    500,
    {
      error: {
        message: 'An unknown error occurred',
        type: 'OAuthException',
        code: 1,
        error_subcode: 99,
        fbtrace_id: 'F0x9',
      },
    },
    'transient',
  ],
  [
    'service error (2)',
    500,
    {
      error: {
        message: 'An unexpected error has occurred. Please retry your request later.',
        type: 'OAuthException',
        is_transient: true,
        code: 2,
        fbtrace_id: 'G77aa',
      },
    },
    'transient',
  ],
  [
    'WhatsApp something went wrong (131000)',
    500,
    {
      error: {
        message: '(#131000) Something went wrong',
        type: 'OAuthException',
        code: 131000,
        error_data: { messaging_product: 'whatsapp', details: 'Something went wrong' },
        fbtrace_id: 'H1',
      },
    },
    'transient',
  ],
  [
    'WhatsApp service unavailable (131016)',
    503,
    { error: { message: '(#131016) Service unavailable', type: 'OAuthException', code: 131016, fbtrace_id: 'H2' } },
    'transient',
  ],
  [
    'capability (3)',
    400,
    {
      error: {
        message: '(#3) Application does not have the capability to make this API call.',
        type: 'OAuthException',
        code: 3,
        fbtrace_id: 'I1',
      },
    },
    'permission',
  ],
  [
    'permission denied (10)',
    403,
    {
      error: {
        message: '(#10) Application does not have permission for this action',
        type: 'OAuthException',
        code: 10,
        fbtrace_id: 'I2',
      },
    },
    'permission',
  ],
  [
    'permissions error (200)',
    403,
    {
      error: {
        message: '(#200) Permissions error',
        type: 'OAuthException',
        code: 200,
        error_subcode: 1545041,
        fbtrace_id: 'I3',
      },
    },
    'permission',
  ],
  [
    'WhatsApp access denied (131005)',
    403,
    { error: { message: '(#131005) Access denied', type: 'OAuthException', code: 131005, fbtrace_id: 'I4' } },
    'permission',
  ],
  [
    'object missing or not accessible (100/33)',
    400,
    {
      error: {
        message:
          "Unsupported post request. Object with ID '102290129340398' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api",
        type: 'GraphMethodException',
        code: 100,
        error_subcode: 33,
        fbtrace_id: 'J1',
      },
    },
    'invalid-request',
  ],
  [
    'bad subscribed_fields (100)',
    400,
    {
      error: {
        message: '(#100) Param subscribed_fields[0] must be one of {feed, messages, messaging_postbacks} - got "nope".',
        type: 'OAuthException',
        code: 100,
        fbtrace_id: 'J2',
      },
    },
    'invalid-request',
  ],
  [
    'WhatsApp template does not exist (132001)',
    404,
    {
      error: {
        message: '(#132001) Template name does not exist in the translation',
        type: 'OAuthException',
        code: 132001,
        fbtrace_id: 'J3',
      },
    },
    'invalid-request',
  ],
  [
    'policy block (368)',
    400,
    {
      error: {
        message: '(#368) The action attempted has been deemed abusive or is otherwise disallowed',
        type: 'OAuthException',
        code: 368,
        fbtrace_id: 'K1',
      },
    },
    'permanent',
  ],
  [
    'WhatsApp re-engagement window closed (131047)',
    400,
    {
      error: {
        message: '(#131047) Re-engagement message',
        type: 'OAuthException',
        code: 131047,
        error_data: {
          messaging_product: 'whatsapp',
          details: 'Message failed to send because more than 24 hours have passed since the customer last replied.',
        },
        fbtrace_id: 'K2',
      },
    },
    'permanent',
  ],
];

describe('Graph API error classification', () => {
  it.each(CASES)('%s → %s', (_name, status, body, expected) => {
    const error = graphErrorFromResponse(status, body);
    expect(error).toBeInstanceOf(GraphError);
    expect(error.classification).toBe(expected);
    const fields = (body as { error: Record<string, unknown> }).error;
    expect(error).toMatchObject({
      status,
      code: fields.code,
      subcode: fields.error_subcode ?? null,
      type: fields.type,
      fbtraceId: fields.fbtrace_id,
      message: fields.message,
    });
    expect(error.isRetryable).toBe(expected === 'transient' || expected === 'rate-limited');
  });

  it('keeps WhatsApp details and serializes without a stack', () => {
    const error = graphErrorFromResponse(429, CASES[10]![2]);
    expect(error.details).toMatch(/too many messages/);
    expect(JSON.parse(JSON.stringify(error))).toEqual({
      status: 429,
      code: 130429,
      subcode: 2494055,
      type: 'OAuthException',
      fbtraceId: 'Az8or2yhqkZfEZ-_4Qn_Bam',
      message: '(#130429) Rate limit hit',
      classification: 'rate-limited',
      isOutcomeUnknown: false,
    });
  });

  it('falls back on the HTTP status when there is no Graph error body', () => {
    expect(graphErrorFromResponse(502, '<html>Bad Gateway</html>').classification).toBe('transient');
    expect(graphErrorFromResponse(429, null).classification).toBe('rate-limited');
    expect(graphErrorFromResponse(401, null).classification).toBe('auth');
    expect(graphErrorFromResponse(403, {}).classification).toBe('permission');
    expect(graphErrorFromResponse(404, null).classification).toBe('invalid-request');
    expect(graphErrorFromResponse(400, { error: 'nope' }).message).toBe(
      'Graph API answered HTTP 400 without an error body',
    );
  });

  it("lets Meta's is_transient hint turn an unknown code transient, but never an auth error", () => {
    expect(classifyGraphError({ status: 400, code: 12345, subcode: null, isTransient: true })).toBe('transient');
    expect(classifyGraphError({ status: 400, code: 12345, subcode: null })).toBe('permanent');
    expect(classifyGraphError({ status: 400, code: 190, subcode: null, isTransient: true })).toBe('auth');
  });

  it('makes a call without an answer transient, saying why', () => {
    const timeout = graphErrorFromNetwork(Object.assign(new Error('aborted'), { name: 'TimeoutError' }), 250);
    expect(timeout).toMatchObject({ status: 0, classification: 'transient', code: null });
    expect(timeout.message).toBe('Graph API unreachable: no answer within 250 ms');
    const refused = graphErrorFromNetwork(
      new TypeError('fetch failed', { cause: Object.assign(new Error('x'), { code: 'ECONNREFUSED' }) }),
      250,
    );
    expect(refused.message).toBe('Graph API unreachable: ECONNREFUSED');
    expect(refused.isRetryable).toBe(true);
  });

  it('marks a call that may have reached Meta as outcome unknown, and one that never left as not', () => {
    const timeout = graphErrorFromNetwork(Object.assign(new Error('aborted'), { name: 'TimeoutError' }), 250);
    expect(timeout.isOutcomeUnknown).toBe(true);
    const reset = graphErrorFromNetwork(
      new TypeError('fetch failed', {
        cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }),
      }),
      250,
    );
    expect(reset.isOutcomeUnknown).toBe(true);
    for (const code of ['ECONNREFUSED', 'ENOTFOUND']) {
      const error = graphErrorFromNetwork(
        new TypeError('fetch failed', { cause: Object.assign(new Error(), { code }) }),
        1,
      );
      expect(error.isOutcomeUnknown).toBe(false);
    }
    expect(graphErrorFromResponse(500, null).isOutcomeUnknown).toBe(false);
  });

  it('classifies the send errors the outbound lanes act on', () => {
    const c = (code: number, subcode: number | null = null) => classifyGraphError({ status: 400, code, subcode });
    expect([c(130429), c(131056), c(131048)]).toEqual(['rate-limited', 'rate-limited', 'rate-limited']);
    expect(c(131047)).toBe('permanent');
    expect(c(131026)).toBe('permanent');
    expect([c(132000), c(132001), c(132012), c(131053)]).toEqual([
      'invalid-request',
      'invalid-request',
      'invalid-request',
      'invalid-request',
    ]);
    expect(c(190)).toBe('auth');
    expect(c(10, 2018278)).toBe('permanent');
    expect(c(10)).toBe('permission');
  });
});
