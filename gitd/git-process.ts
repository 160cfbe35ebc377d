// Running git's own programs: a clean environment, argv only (never a shell),
// and each in a process group of its own so that a push cancelled half-way
// takes its pre-receive hook down with it.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import path from 'node:path';

/** Our environment without anything that would point git elsewhere or impersonate a push. */
export function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined || key.startsWith('GIT_') || key.startsWith('SHIPOFF_')) continue;
    env[key] = value;
  }
  return env;
}

/**
 * Forces the repository's own hooks directory, so a core.hooksPath in the
 * machine's global git config cannot switch the deploy hook off.
 */
export function hooksEnv(repo: string): Record<string, string> {
  return { GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'core.hooksPath', GIT_CONFIG_VALUE_0: path.join(repo, 'hooks') };
}

export function spawnGroup(command: string, args: string[], env: Record<string, string>): ChildProcessWithoutNullStreams {
  return spawn(command, args, { env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
}

const KILL_GRACE_MS = 3_000;

/**
 * SIGTERM to the whole group (git lets receive-pack remove its quarantine on
 * it), SIGKILL a little later if the leader is still there.
 */
export function killGroup(child: ChildProcessWithoutNullStreams): void {
  const pid = child.pid;
  if (pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const signal = (sig: NodeJS.Signals): void => {
    try {
      process.kill(-pid, sig);
    } catch {
      // already gone
    }
  };
  signal('SIGTERM');
  setTimeout(() => {
    if (child.exitCode === null && child.signalCode === null) signal('SIGKILL');
  }, KILL_GRACE_MS).unref();
}

export function exited(child: ChildProcessWithoutNullStreams): Promise<number> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    child.once('error', () => resolve(127));
    child.once('close', (code, signal) => resolve(code ?? (signal ? 128 + 15 : 1)));
  });
}
