import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { Problem, type HttpServer } from '@mic/platform';
import { isPermission, type Permission } from './permissions.ts';
import { forbidden, SESSION_COOKIE, type SignedInOperator } from './service.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** What an operator's role needs to call this `/v1/` route (modules/auth/permissions.ts). */
    permission?: Permission;
    /** A `/v1/auth/` route anyone may call (signing in). */
    public?: boolean;
    /** A `/v1/` route for any signed-in operator, about their own session or account. */
    authenticated?: boolean;
    /** Also open to a session limited to enrolling the second factor the hub requires. */
    duringEnrolment?: boolean;
  }
  interface FastifyRequest {
    /** The operator signed in with the session cookie, on every non-public `/v1/` route. */
    operator?: SignedInOperator;
  }
}

export const OPERATOR_PREFIX = '/v1/';
const PUBLIC_PREFIX = '/v1/auth/';
const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export type Access = { permission: Permission } | { public: true } | { authenticated: true };

/** What a `/v1/` route requires, as declared (for the route × role tests and the docs). */
export interface RouteAccess {
  method: string;
  url: string;
  access: Access;
}

/** The declared access of a `/v1/` route; anything but exactly one valid declaration stops the boot. */
export function accessOf(route: Pick<RouteOptions, 'method' | 'url' | 'config'>): Access {
  const name = `${[route.method].flat().join(',')} ${route.url}`;
  const config = route.config ?? {};
  const declared = [config.permission !== undefined, config.public === true, config.authenticated === true];
  if (declared.filter(Boolean).length !== 1) {
    throw new Error(
      `${name}: a /v1/ route must declare exactly one of config.permission ('<area>.<action>' from apps/control/src/modules/auth/permissions.ts), config.authenticated or config.public`,
    );
  }
  if (config.permission !== undefined) {
    if (!isPermission(config.permission)) {
      throw new Error(
        `${name}: unknown permission ${JSON.stringify(config.permission)}; add it to apps/control/src/modules/auth/permissions.ts`,
      );
    }
    return { permission: config.permission };
  }
  if (config.public) {
    if (!route.url.startsWith(PUBLIC_PREFIX)) throw new Error(`${name}: only ${PUBLIC_PREFIX} routes may be public`);
    return { public: true };
  }
  return { authenticated: true };
}

const signInFirst = () =>
  new Problem({
    status: 401,
    type: 'unauthorized',
    title: 'Sign in first',
    detail: 'no valid session: POST /v1/auth/login',
  });

const enrolFirst = () =>
  new Problem({
    status: 403,
    type: 'second-factor-enrolment-required',
    title: 'Enrol a second factor first',
    detail: 'the hub requires a second factor of your role: POST /v1/auth/second-factor/enrolment, then confirm it',
  });

const csrfRefused = () =>
  new Problem({
    status: 403,
    type: 'csrf',
    title: 'The CSRF token is missing or wrong',
    detail: 'send the csrfToken of your session (from the login or GET /v1/auth/session) as x-csrf-token',
  });

function sameToken(given: string | string[] | undefined, expected: string): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Every `/v1/` route declares its access when it is registered (checked here, so a route without
 * one never boots), and every request to one is authenticated by its session cookie before its body
 * is read: 401 without a valid session, 403 without the CSRF token on an unsafe method or without
 * the permission. `/internal/` keeps its service tokens; health, metrics and docs stay open.
 */
export function registerAccessControl(app: HttpServer): readonly RouteAccess[] {
  const routes: RouteAccess[] = [];
  app.addHook('onRoute', (route) => {
    if (!route.url.startsWith(OPERATOR_PREFIX)) return;
    const access = accessOf(route);
    for (const method of [route.method].flat()) if (method !== 'HEAD') routes.push({ method, url: route.url, access });
  });
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    if (!req.routeOptions.url?.startsWith(OPERATOR_PREFIX)) return;
    const config = req.routeOptions.config;
    if (config.public) return;
    const token = req.cookies[SESSION_COOKIE];
    const operator = token ? await app.operators.authenticate(token) : null;
    if (!operator) {
      if (token) void reply.clearCookie(SESSION_COOKIE, { path: '/' });
      throw signInFirst();
    }
    if (UNSAFE_METHODS.has(req.method) && !sameToken(req.headers['x-csrf-token'], operator.session.csrfToken)) {
      throw csrfRefused();
    }
    if (operator.session.scope === 'enrolment' && !config.duringEnrolment) throw enrolFirst();
    if (config.permission && !operator.permissions.has(config.permission)) throw forbidden(config.permission);
    req.operator = operator;
  });
  return routes;
}
