import type { SecretStore } from './service.ts';

/** The Meta app whose webhooks arrive at `/meta/webhook` (others at `/meta/webhook/{app}`). */
export const DEFAULT_META_APP = 'default';

export function metaAppRefs(app: string) {
  return { appSecret: `meta-app/${app}/app-secret`, verifyToken: `meta-app/${app}/verify-token` };
}

/** META_APP_SECRET and META_VERIFY_TOKEN, when set, are the default app's entries. */
export async function seedDefaultMetaApp(
  store: SecretStore,
  env: { appSecret?: string | undefined; verifyToken?: string | undefined },
): Promise<void> {
  const refs = metaAppRefs(DEFAULT_META_APP);
  const seeds = [
    [refs.appSecret, 'meta-app-secret', env.appSecret],
    [refs.verifyToken, 'meta-verify-token', env.verifyToken],
  ] as const;
  for (const [ref, kind, value] of seeds) {
    if (value && (await store.revealValid(ref))[0] !== value) await store.put(ref, kind, value);
  }
}
