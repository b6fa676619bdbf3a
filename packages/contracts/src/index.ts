export * from './health.ts';
export * from './system.ts';
export * from './service-tokens.ts';
export * from './secrets.ts';
export * from './credentials.ts';
export * from './events.ts';
export * from './routing.ts';
export * from './deliveries.ts';
