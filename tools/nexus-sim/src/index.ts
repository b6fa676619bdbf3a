/** @mic/nexus-sim: a reference Nexus instance for tests, in-process (`startNexusSim`) or as a process (`src/main.ts`). */
export {
  startNexusSim,
  type NexusSim,
  type NexusSimOptions,
  type ReceivedDelivery,
  type RejectedDelivery,
  type SimReport,
} from './sim.ts';
export { SIM_MODE_NAMES, SimModeRequest, type SimMode, type SimModeName } from './modes.ts';
