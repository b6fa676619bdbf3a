export * from './health.ts';
export * from './system.ts';
