// A lock file holding the owner's pid. Node has no flock(), so exclusivity
// comes from O_EXCL creation; a lock whose owner died is taken over.
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { ShipoffError } from '../errors.js';

export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function ownerOf(file: string): { pid: number; ageMs: number } | undefined {
  try {
    const text = fs.readFileSync(file, 'utf8');
    const ageMs = Date.now() - fs.statSync(file).mtimeMs;
    return { pid: Number.parseInt(text, 10), ageMs };
  } catch {
    return undefined; // gone meanwhile
  }
}

export async function withPidLock<T>(file: string, what: string, fn: () => Promise<T>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fd = fs.openSync(file, 'wx', 0o600);
      fs.writeSync(fd, `${process.pid}\n`);
      fs.closeSync(fd);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = ownerOf(file);
    // An empty file is a lock being written right now, unless it is old.
    const stale = owner !== undefined && (Number.isNaN(owner.pid) ? owner.ageMs > 5_000 : !isProcessAlive(owner.pid));
    if (stale) {
      fs.rmSync(file, { force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new ShipoffError('SHIPOFF_DB_LOCKED', { reason: `${what}: process ${owner?.pid ?? '?'} holds ${file}` });
    }
    await sleep(25);
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(file, { force: true });
  }
}
