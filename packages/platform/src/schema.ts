// Tables of the shared plumbing. Each plane's migrations create its own copy of each (the planes
// never share a table); drizzle-kit finds them through each plane's system module schema.
export { queueHeartbeats } from './heartbeat/schema.ts';
export { serviceTokens } from './service-auth/schema.ts';
