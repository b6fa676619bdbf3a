/**
 * Messages between the `mic start` supervisor and the planes it runs, over the Node IPC channel.
 * A plane started on its own (no IPC channel) simply sends nothing.
 */

export type PlaneName = 'control' | 'engine';

/** Exit code of a plane that stopped because of its configuration: the supervisor must not retry it. */
export const EXIT_CONFIG = 78;

export interface PlaneRuntimeState {
  plane: PlaneName;
  state: 'starting' | 'running' | 'restarting' | 'crash-loop' | 'stopped';
  pid: number | null;
  restarts: number;
  /** Restarts inside the crash-loop window; at the threshold the plane is reported as looping. */
  recentRestarts: number;
  lastExit: { code: number | null; signal: string | null; at: string } | null;
  nextRestartAt: string | null;
}

export type SupervisorMessage = { type: 'supervisor-status'; planes: PlaneRuntimeState[] };
export type PlaneMessage = { type: 'ready'; plane: PlaneName; url: string } | { type: 'config-error'; line: string };

export function isSupervisorMessage(value: unknown): value is SupervisorMessage {
  return typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'supervisor-status';
}

export function isPlaneMessage(value: unknown): value is PlaneMessage {
  const type = typeof value === 'object' && value !== null ? (value as { type?: unknown }).type : undefined;
  return type === 'ready' || type === 'config-error';
}

/** Whether this process runs under `mic start` (it has an IPC channel to the supervisor). */
export function isSupervised(): boolean {
  return Boolean(process.send && process.connected);
}

/** Sends a message to the supervisor; resolves once it is written (before a process.exit). */
export function notifySupervisor(message: PlaneMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}

/** Latest state the supervisor reported, for health checks; empty when the plane runs alone. */
let latestStatus: PlaneRuntimeState[] = [];

export function listenToSupervisor(): void {
  process.on('message', (message: unknown) => {
    if (isSupervisorMessage(message)) latestStatus = message.planes;
  });
}

export function supervisorStatus(): readonly PlaneRuntimeState[] {
  return latestStatus;
}
