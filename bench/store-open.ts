// How long opening the store takes, which every CLI command and host start
// pays. Cases:
//   cold     - new data dir: initdb + start the embedded server + migrate
//   restart  - cluster exists, server stopped: start + connect
//   join     - server already running (a host is up): connect only
//   external - DATABASE_URL to an already-running PostgreSQL 15
// Reference, in the same sitting: a bare `pg` connect + SELECT 1 to the same
// running embedded server, so the figures can be read as ratios.
//
// Run: node dist/bench/store-open.js [rounds]   (default 5)
import os from 'node:os';
import pg from 'pg';
import { openStore } from '../core/index.js';
import { startExternalPostgres } from '../test/helpers/external-postgres.js';
import { tempDir } from '../test/helpers/temp.js';
import { median } from './stats.js';

const rounds = Number(process.argv[2] ?? 5);

async function time(fn: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

const results: Record<string, number[]> = { reference: [], cold: [], restart: [], join: [], external: [] };

const dirs: ReturnType<typeof tempDir>[] = [];
for (let i = 0; i < rounds; i++) {
  const dir = tempDir('bench');
  dirs.push(dir);
  const settings = { dataDir: dir.path, databaseUrl: undefined };
  results.cold!.push(await time(async () => (await openStore(settings)).close()));
  results.restart!.push(await time(async () => (await openStore(settings)).close()));
  const host = await openStore(settings); // keeps the server up, as a running host does
  results.join!.push(await time(async () => (await openStore(settings)).close()));
  results.reference!.push(
    await time(async () => {
      const client = new pg.Client({ host: `${dir.path}/postgres/run`, port: 5432, user: 'shipoff', database: 'shipoff' });
      await client.connect();
      await client.query('SELECT 1');
      await client.end();
    }),
  );
  await host.close();
}
const ext = await startExternalPostgres();
for (let i = 0; i < rounds; i++) {
  const dir = tempDir('bench-ext');
  dirs.push(dir);
  const url = await ext.newDatabase(`bench_${i}`);
  await (await openStore({ dataDir: dir.path, databaseUrl: url })).close(); // migrate once
  results.external!.push(await time(async () => (await openStore({ dataDir: dir.path, databaseUrl: url })).close()));
}
await ext.stop();
dirs.forEach((d) => d.remove());

const ref = median(results.reference!);
console.log(`store open, ${rounds} rounds, ${os.cpus().length} cores, ${os.cpus()[0]?.model ?? ''}`);
console.log('case       median ms   min..max ms      x reference');
for (const [name, xs] of Object.entries(results)) {
  const m = median(xs);
  console.log(
    `${name.padEnd(10)} ${m.toFixed(1).padStart(9)}   ${Math.min(...xs).toFixed(0).padStart(6)}..${Math.max(...xs).toFixed(0).padEnd(6)}   ${(m / ref).toFixed(1).padStart(8)}`,
  );
}
