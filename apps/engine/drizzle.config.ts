import { defineConfig } from 'drizzle-kit';

// Tables are unqualified: the connection's search_path puts them in this plane's schema.
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/modules/*/schema.ts',
  out: './migrations',
});
