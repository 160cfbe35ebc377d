// The store contract against an external PostgreSQL server (DATABASE_URL),
// started for this file from the machine's PostgreSQL binaries.
import { after, before } from 'node:test';
import { startExternalPostgres, type ExternalPostgres } from './helpers/external-postgres.js';
import { tempDir } from './helpers/temp.js';
import { storeContract } from './store-contract.js';

let server: ExternalPostgres;
let databases = 0;
before(async () => {
  server = await startExternalPostgres();
});
after(async () => {
  await server?.stop();
});

storeContract('external PostgreSQL (DATABASE_URL)', async () => {
  const dir = tempDir('store-ext');
  const databaseUrl = await server.newDatabase(`contract_${process.pid}_${++databases}`);
  return { settings: { dataDir: dir.path, databaseUrl }, cleanup: async () => dir.remove() };
});
