/** @mic/nexus-sim: a reference Nexus instance for tests, in-process (`startNexusSim`) or as a process (`src/main.ts`). */
export {
  startNexusSim,
  type ControlReport,
  type NexusSim,
  type NexusSimOptions,
  type ReceivedCommand,
  type ReceivedDelivery,
  type RejectedCommand,
  type RejectedDelivery,
  type SimInstance,
  type SimReport,
} from './sim.ts';
export {
  ControlModeRequest,
  SIM_MODE_NAMES,
  SimModeRequest,
  type ControlMode,
  type ControlModeName,
  type SimMode,
  type SimModeName,
} from './modes.ts';
