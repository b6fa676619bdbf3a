import { randomUUID } from 'node:crypto';
import {
  ErrorCode,
  OpenFeature,
  StandardResolutionReasons,
  type Client,
  type EvaluationContext,
  type JsonValue,
  type Provider,
  type ResolutionDetails,
} from '@openfeature/server-sdk';
import { GLOBAL_FLAGS, TENANT_MODULES, type TenantModule, type TenantModules } from '@mic/contracts';

/** What a plane knows of flags: the global ones and each tenant's modules. */
export interface FlagSource {
  global(): Readonly<Record<string, boolean>>;
  tenantModules(tenantId: string): TenantModules | undefined | Promise<TenantModules | undefined>;
}

const TENANT_MODULE_FLAG = /^tenant\.module\.([a-z]+)$/;

/** `tenant.module.<module>` for a tenant: on when the module's global kill switch and the tenant's own module are. */
export const tenantModuleFlag = (module: TenantModule) => `tenant.module.${module}`;

/**
 * Resolves a flag the same way in both planes: a global flag from its stored value (or its default:
 * every global flag is on until turned off), a tenant's module from the kill switch and the tenant.
 */
export async function resolveFlag(
  source: FlagSource,
  key: string,
  tenantId: string | undefined,
): Promise<boolean | undefined> {
  const module = TENANT_MODULE_FLAG.exec(key)?.[1] as TenantModule | undefined;
  if (module && (TENANT_MODULES as readonly string[]).includes(module)) {
    if (!tenantId) return undefined;
    const modules = await source.tenantModules(tenantId);
    if (!modules) return undefined;
    return (source.global()[`module.${module}.enabled`] ?? true) && modules[module];
  }
  if (!(key in GLOBAL_FLAGS)) return undefined;
  return source.global()[key] ?? true;
}

class MicFlagProvider implements Provider {
  readonly metadata = { name: 'mic' };
  readonly runsOn = 'server' as const;
  readonly #source: FlagSource;

  constructor(source: FlagSource) {
    this.#source = source;
  }

  async resolveBooleanEvaluation(key: string, defaultValue: boolean, context: EvaluationContext) {
    const value = await resolveFlag(this.#source, key, context.targetingKey);
    if (value === undefined) {
      return { value: defaultValue, reason: StandardResolutionReasons.ERROR, errorCode: ErrorCode.FLAG_NOT_FOUND };
    }
    return {
      value,
      reason: context.targetingKey ? StandardResolutionReasons.TARGETING_MATCH : StandardResolutionReasons.STATIC,
    };
  }

  #unsupported<T>(defaultValue: T): Promise<ResolutionDetails<T>> {
    return Promise.resolve({
      value: defaultValue,
      reason: StandardResolutionReasons.ERROR,
      errorCode: ErrorCode.TYPE_MISMATCH,
    });
  }

  resolveStringEvaluation(_key: string, defaultValue: string) {
    return this.#unsupported(defaultValue);
  }

  resolveNumberEvaluation(_key: string, defaultValue: number) {
    return this.#unsupported(defaultValue);
  }

  resolveObjectEvaluation<T extends JsonValue>(_key: string, defaultValue: T) {
    return this.#unsupported(defaultValue);
  }
}

/**
 * A plane's flags through OpenFeature: each plane (several in one test process) gets a provider of
 * its own under a domain of its own, so a vendor provider could replace ours without touching callers.
 */
export class Flags {
  readonly client: Client;

  private constructor(client: Client) {
    this.client = client;
  }

  static async open(plane: string, source: FlagSource): Promise<Flags> {
    const domain = `${plane}-${randomUUID()}`;
    await OpenFeature.setProviderAndWait(domain, new MicFlagProvider(source));
    return new Flags(OpenFeature.getClient(domain));
  }

  /** A global flag, or a tenant's module with `tenantId`; an unknown flag is off. */
  isEnabled(key: string, tenantId?: string): Promise<boolean> {
    return this.client.getBooleanValue(key, false, tenantId ? { targetingKey: tenantId } : {});
  }
}
