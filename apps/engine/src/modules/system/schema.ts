// The shared plumbing's tables; this plane's migrations create its own copy of each.
export { queueHeartbeats, serviceTokens } from '@mic/platform/schema';
