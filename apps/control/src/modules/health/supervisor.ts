import { supervisorStatus, type HealthCheck, type Observation } from '@mic/platform';

/**
 * `supervisor:restarts`: what `mic start` reports about each plane: its restart count, and `fail`
 * for the plane's group while it is in a restart loop, so the operator sees it on control's health.
 */
export function supervisorCheck(plane: 'control' | 'engine'): HealthCheck {
  return {
    name: 'supervisor:restarts',
    async run(): Promise<Observation[]> {
      const state = supervisorStatus().find((p) => p.plane === plane);
      if (!state) return [];
      const isLooping = state.state === 'crash-loop';
      // A single restart is not a health problem (the plane's own check says whether it is up);
      // a restart loop is.
      return [
        {
          componentId: plane,
          componentType: 'process',
          observedValue: state.restarts,
          observedUnit: 'restarts',
          // Running is pass; starting or restarting is warn (the plane's own check says whether
          // it answers); a restart loop is fail.
          status: isLooping ? 'fail' : state.state === 'running' ? 'pass' : 'warn',
          ...(isLooping
            ? {
                output: `${plane} keeps crashing: ${state.recentRestarts} restarts recently, last exit ${state.lastExit?.code ?? state.lastExit?.signal}`,
              }
            : state.state === 'running'
              ? {}
              : { output: `${plane} is ${state.state}` }),
        },
      ];
    },
  };
}
