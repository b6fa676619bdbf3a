import { supervisorStatus, type HealthCheck, type Observation } from '@mic/platform';

/**
 * `supervisor:restarts`: what `mic start` reports about each plane. A plane in a restart loop is
 * `fail` for that plane's group, so the operator sees it on control's health.
 */
export function supervisorCheck(plane: 'control' | 'engine'): HealthCheck {
  return {
    name: 'supervisor:restarts',
    async run(): Promise<Observation[]> {
      const state = supervisorStatus().find((p) => p.plane === plane);
      if (!state) return [];
      const isLooping = state.state === 'crash-loop';
      return [
        {
          componentId: plane,
          componentType: 'process',
          observedValue: state.restarts,
          observedUnit: 'restarts',
          status: isLooping ? 'fail' : state.recentRestarts > 0 ? 'warn' : 'pass',
          ...(isLooping
            ? {
                output: `${plane} keeps crashing: ${state.recentRestarts} restarts in a row, last exit ${state.lastExit?.code ?? state.lastExit?.signal}`,
              }
            : state.recentRestarts > 0
              ? { output: `${plane} restarted ${state.recentRestarts} time(s) recently` }
              : {}),
        },
      ];
    },
  };
}
