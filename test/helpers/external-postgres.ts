// A throwaway PostgreSQL server from the machine's own binaries (Debian's
// PostgreSQL 15, installed by scripts/setup when missing), on a free loopback
// port, for the store's "external DATABASE_URL" tests.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { freePort } from './ports.js';
import { tempDir } from './temp.js';

function findBinDir(): string {
  const candidates = fs.existsSync('/usr/lib/postgresql')
    ? fs.readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a)).map((v) => `/usr/lib/postgresql/${v}/bin`)
    : [];
  for (const dir of candidates) if (fs.existsSync(path.join(dir, 'initdb'))) return dir;
  throw new Error('no PostgreSQL server binaries found under /usr/lib/postgresql; scripts/setup installs them');
}

/** initdb refuses root: run the server as an unprivileged system user. */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (const name of ['postgres', 'nobody']) {
    try {
      const uid = Number(execFileSync('id', ['-u', name]).toString().trim());
      const gid = Number(execFileSync('id', ['-g', name]).toString().trim());
      return { uid, gid };
    } catch {
      // try the next
    }
  }
  throw new Error('running as root and no postgres or nobody user exists to run PostgreSQL as');
}

export interface ExternalPostgres {
  /** postgres:// URL of a fresh database (each call of newDatabase makes another). */
  url: string;
  version: string;
  newDatabase(name: string): Promise<string>;
  stop(): Promise<void>;
}

export async function startExternalPostgres(): Promise<ExternalPostgres> {
  const bin = findBinDir();
  const user = serverUser();
  const dir = tempDir('extpg');
  const dataDir = path.join(dir.path, 'data');
  fs.mkdirSync(dataDir, { mode: 0o700 });
  if (user) fs.chownSync(dataDir, user.uid, user.gid);
  execFileSync(path.join(bin, 'initdb'), ['-D', dataDir, '-U', 'tester', '--auth=trust', '--no-locale', '-E', 'UTF8', '--no-sync'], {
    stdio: 'pipe',
    ...(user ?? {}),
  });
  const port = await freePort();
  const server: ChildProcess = spawn(
    path.join(bin, 'postgres'),
    ['-D', dataDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-k', dataDir, '-c', 'fsync=off'],
    { stdio: ['ignore', 'ignore', 'pipe'], ...(user ?? {}) },
  );
  let log = '';
  server.stderr?.on('data', (b: Buffer) => (log += b.toString()));
  const base = `postgres://tester@127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  let version = '';
  for (;;) {
    const client = new pg.Client({ connectionString: `${base}/postgres` });
    try {
      await client.connect();
      version = (await client.query<{ server_version: string }>('SHOW server_version')).rows[0]!.server_version;
      await client.end();
      break;
    } catch {
      await client.end().catch(() => {});
      if (server.exitCode !== null || Date.now() > deadline) throw new Error(`external PostgreSQL did not start: ${log}`);
      await sleep(50);
    }
  }
  const newDatabase = async (name: string): Promise<string> => {
    const client = new pg.Client({ connectionString: `${base}/postgres` });
    await client.connect();
    await client.query(`CREATE DATABASE ${name}`);
    await client.end();
    return `${base}/${name}`;
  };
  return {
    url: await newDatabase('shipoff_test'),
    version,
    newDatabase,
    async stop() {
      if (server.exitCode === null) {
        const exited = new Promise((resolve) => server.once('exit', resolve));
        server.kill('SIGINT');
        await exited;
      }
      dir.remove();
    },
  };
}
