import Fastify, {
  LogController,
  type FastifyInstance,
  type FastifyError,
  type FastifyBaseLogger,
  type RawServerDefault,
} from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { TypeBoxValidatorCompiler, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { Histogram, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import { PROBLEM_CONTENT_TYPE, Problem, problems } from './problems.ts';

export { Problem, problems, PROBLEM_CONTENT_TYPE, type ProblemDetails } from './problems.ts';
export { idempotencyKeyOf, requestHash } from './idempotency.ts';
export { isUuid } from './ids.ts';

export type HttpServer = FastifyInstance<
  RawServerDefault,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route registered, for tests that walk them (auth, roles). */
    registeredRoutes: readonly { method: string; url: string }[];
  }
}

export interface HttpServerOptions {
  logger: Logger;
  metrics: Registry;
  title: string;
  version: string;
  description: string;
  /** Largest request body accepted, in bytes (413 above it). */
  bodyLimit?: number;
  /** Proxies whose X-Forwarded-For and -Proto are believed; none by default. */
  trustProxy?: boolean | string[];
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

interface ValidationIssue {
  instancePath: string;
  params?: unknown;
  message?: string | undefined;
}

/** One entry per invalid field; a missing-properties error names each missing field. */
function fieldErrors(context: string, issues: readonly ValidationIssue[]): { field: string; message: string }[] {
  return issues.flatMap((issue) => {
    const base = issue.instancePath.replace(/^\//, '').replaceAll('/', '.');
    const params = (issue.params ?? {}) as { requiredProperties?: unknown; missingProperty?: unknown };
    const missing = Array.isArray(params.requiredProperties)
      ? params.requiredProperties.map(String)
      : typeof params.missingProperty === 'string'
        ? [params.missingProperty]
        : [];
    if (missing.length) {
      return missing.map((name) => ({
        field: [context, base, name].filter(Boolean).join('.'),
        message: 'is required',
      }));
    }
    return [{ field: [context, base].filter(Boolean).join('.'), message: issue.message ?? 'is not valid' }];
  });
}

/** Turns any error thrown in a handler into problem details; 5xx never reveal internals. */
function toProblem(error: FastifyError | Problem): Problem {
  if (error instanceof Problem) return error;
  if (error.validation) {
    return problems.validation(fieldErrors(error.validationContext ?? 'body', error.validation));
  }
  const status = error.statusCode ?? 500;
  if (status === 413)
    return new Problem({
      status,
      type: 'payload-too-large',
      title: 'The request body is too large',
      detail: error.message,
    });
  if (status === 415)
    return new Problem({
      status,
      type: 'unsupported-media-type',
      title: 'Unsupported content type',
      detail: error.message,
    });
  if (status >= 400 && status < 500) {
    const invalidJson = error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || error instanceof SyntaxError;
    return new Problem({
      status,
      type: invalidJson ? 'invalid-json' : 'bad-request',
      title: invalidJson ? 'The body is not valid JSON' : 'Bad request',
      detail: error.message,
    });
  }
  return new Problem({ status: status >= 500 ? status : 500, type: 'internal', title: 'Internal error' });
}

/**
 * The HTTP server both planes use: TypeBox schemas (validation, types and OpenAPI from one
 * definition), request ids, problem-details errors, request metrics and OpenAPI at /docs.
 */
export async function createHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const app = Fastify({
    loggerInstance: options.logger,
    bodyLimit: options.bodyLimit ?? 1_048_576,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    // One line per request is written by the onResponse hook below instead.
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    trustProxy: options.trustProxy ?? false,
    forceCloseConnections: 'idle',
    ajv: { customOptions: { coerceTypes: 'array', removeAdditional: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.setValidatorCompiler(TypeBoxValidatorCompiler);

  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by route and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [options.metrics],
  });

  const routes: { method: string; url: string }[] = [];
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) if (method !== 'HEAD') routes.push({ method, url: route.url });
  });
  app.decorate('registeredRoutes', routes);
  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id);
  });
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    duration.observe({ method: req.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
    const level =
      reply.statusCode >= 500
        ? 'error'
        : route.startsWith('/health') || route === '/metrics' || route.endsWith('z')
          ? 'debug'
          : 'info';
    req.log[level](
      { method: req.method, url: req.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) },
      'request',
    );
  });

  app.setErrorHandler((error: FastifyError | Problem, req, reply) => {
    const problem = toProblem(error);
    if (problem.status >= 500) req.log.error({ err: error }, 'request failed');
    else req.log.info({ problem: problem.type, detail: problem.detail }, 'request refused');
    void reply.status(problem.status).type(PROBLEM_CONTENT_TYPE).send(problem.toJSON(req.url));
  });
  app.setNotFoundHandler((req, reply) => {
    const problem = problems.notFound(`no route ${req.method} ${req.url.split('?')[0]}`);
    void reply.status(404).type(PROBLEM_CONTENT_TYPE).send(problem.toJSON(req.url));
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: options.title, version: options.version, description: options.description },
      // Routes name `bearer` (instance engine tokens, service tokens); without it the document fails to build.
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  // Typed with Fastify's base logger so modules' plugins need not know it is pino.
  return app as unknown as HttpServer;
}
