// Runs the real bin/shipoff as a child process.
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const SHIPOFF_BIN = path.join(REPO_ROOT, 'bin', 'shipoff');

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runShipoff(args: string[], options: { env?: NodeJS.ProcessEnv; stdin?: string | Buffer } = {}): Promise<RunResult> {
  // SHIPOFF_HTTPS_PORT 0: hosts started by tests never contend for the default 8443.
  return runProgram(SHIPOFF_BIN, args, { env: { SHIPOFF_HTTPS_PORT: '0', ...options.env }, ...(options.stdin !== undefined ? { stdin: options.stdin } : {}) });
}

/** Runs a program (no shell) with stdin given, and collects its output and exit status. */
export function runProgram(program: string, args: string[], options: { env?: NodeJS.ProcessEnv; stdin?: string | Buffer } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { env: { ...process.env, ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.stdin ?? '');
  });
}

export interface RunningHost {
  child: ChildProcess;
  /** The banner, once the host printed that it is up. */
  ready: Promise<string>;
  output(): string;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function startHost(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000): RunningHost {
  const child = spawn(SHIPOFF_BIN, args, { env: { ...process.env, SHIPOFF_HTTPS_PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`host not up within ${timeoutMs} ms:\n${out}`)), timeoutMs);
    const onData = (b: Buffer): void => {
      out += b.toString();
      if (out.includes('Stop with Ctrl-C')) {
        clearTimeout(timer);
        resolve(out);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`host exited with ${code} before it was up:\n${out}`));
    });
  });
  ready.catch(() => {});
  return {
    child,
    ready,
    output: () => out,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}
