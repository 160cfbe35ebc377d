// The store contract against the embedded PostgreSQL server (the default).
import { storeContract } from './store-contract.js';
import { tempDir } from './helpers/temp.js';

storeContract('embedded PostgreSQL', async () => {
  const dir = tempDir('store');
  return { settings: { dataDir: dir.path, databaseUrl: undefined }, cleanup: async () => dir.remove() };
});
