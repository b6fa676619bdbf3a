import fp from 'fastify-plugin';
import type { HttpServer } from '@mic/platform';
import { Keyring, type KeyringSource } from './keyring.ts';
import { seedDefaultMetaApp } from './meta-apps.ts';
import { registerSecretRoutes } from './routes.ts';
import { SecretStore } from './service.ts';

export { SecretStore } from './service.ts';
export { Keyring, type KeyringSource } from './keyring.ts';
export { DEFAULT_META_APP, metaAppRefs } from './meta-apps.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** The engine's secret store: the only reader of Meta tokens and instance secrets. */
    secrets: SecretStore;
  }
}

export interface SecretsOptions {
  keyring: KeyringSource;
  metaAppSecret: string | undefined;
  metaVerifyToken: string | undefined;
}

export default fp(
  async (app: HttpServer, options: SecretsOptions) => {
    const keyring = Keyring.load(options.keyring);
    const store = new SecretStore(app.db.orm, keyring, app.clock);
    app.decorate('secrets', store);
    await seedDefaultMetaApp(store, { appSecret: options.metaAppSecret, verifyToken: options.metaVerifyToken });
    registerSecretRoutes(app);
    app.log.info({ keyring: keyring.describe(), kekVersion: keyring.activeVersion }, 'secret store ready');
  },
  { name: 'secrets' },
);
