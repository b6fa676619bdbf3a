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
          status: isLooping ? 'fail' : 'pass',
          ...(isLooping
            ? {
                output: `${plane} keeps crashing: ${state.recentRestarts} restarts recently, last exit ${state.lastExit?.code ?? state.lastExit?.signal}`,
              }
            : {}),
        },
      ];
    },
  };
}
