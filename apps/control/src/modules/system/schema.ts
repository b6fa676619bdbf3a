// The queue heartbeat table is shared plumbing; this plane's migrations create its own copy.
export { queueHeartbeats } from '@mic/platform/schema';
