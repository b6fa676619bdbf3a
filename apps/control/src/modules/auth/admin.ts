import { openDatabase, systemClock, type DatabaseOptions } from '@mic/platform';
import type { ControlConfig } from '../../config.ts';
import { AuditLog } from '../audit/index.ts';
import { Operators } from './service.ts';
import { SecondFactorKey, secondFactorKeySource } from './second-factor.ts';

/** Control's accounts and audit log, opened by a command (`mic admin create`, `mic audit verify`). */
export interface ControlAdmin {
  operators: Operators;
  audit: AuditLog;
  close(): Promise<void>;
}

/**
 * Opens control's database for a command while control is not running (on PGlite it takes the
 * folder's lock: DataDirLockedError while control holds it, and the command asks control instead),
 * applying pending migrations first so a fresh install can get its first owner before `mic start`.
 */
export async function openControlAdmin(config: ControlConfig, database: DatabaseOptions): Promise<ControlAdmin> {
  const db = await openDatabase(database);
  try {
    await db.migrate();
  } catch (error) {
    await db.close();
    throw error;
  }
  const audit = new AuditLog(db.orm, systemClock);
  const operators = new Operators(
    db.orm,
    systemClock,
    audit,
    {
      sessionIdleMs: config.operatorSessionIdle,
      sessionMaxMs: config.operatorSessionMax,
      loginMaxFailures: config.loginMaxFailures,
      loginMaxFailuresPerIp: config.loginMaxFailuresPerIp,
      loginFailureWindowMs: config.loginFailureWindow,
      secondFactorRequired: config.secondFactorRequired,
      loginChallengeTtlMs: config.loginChallengeTtl,
    },
    SecondFactorKey.load(secondFactorKeySource(config.secondFactorKeyFile, config.dataDir)),
  );
  return { operators, audit, close: () => db.close() };
}
