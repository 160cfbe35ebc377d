// A running host with a temporary data dir and one admin key, for tests that
// push sample apps with the stock git and OpenSSH clients and read them back
// through the router. Everything it made is removed by close().
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { commitAll, getVia, makeRepo, push, sshCommand, writeFiles, type PushResult } from './apps.js';
import { runProgram, runShipoff, startHost, type RunningHost } from './cli.js';
import { freePort } from './ports.js';
import { tempDir } from './temp.js';

export interface PushingHost {
  readonly dataDir: string;
  readonly httpPort: number;
  readonly sshPort: number;
  readonly scratch: string;
  /** The host's environment, for `shipoff` commands run beside it. */
  readonly env: NodeJS.ProcessEnv;
  /** Runs `ssh shipoff@HOST ARGS...` with the stock OpenSSH client, as the admin key (or another key file); tty forces a terminal (-tt). */
  ssh(args: string[], options?: { stdin?: string; keyFile?: string; tty?: boolean }): Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** Starts `ssh shipoff@HOST ARGS...` and returns the client process, for commands that keep going (logs -t). */
  sshSpawn(args: string[], options?: { keyFile?: string }): ChildProcess;
  /** Makes a key pair in the scratch dir; returns the private key's path. */
  newKey(name: string): string;
  /** Runs `shipoff ARGS` on the host (as its administrator). */
  shipoff(args: string[], stdin?: string): Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** Pushes `files` as the whole tree of `app`'s repository (made on first use), to main. */
  pushApp(app: string, files: Record<string, string | { symlink: string }>, message?: string): Promise<PushResult>;
  get(app: string, urlPath?: string): Promise<{ status: number; body: string }>;
  output(): string;
  /** Stops the host (SIGTERM) and starts it again on the same data dir and ports. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

function docker(...args: string[]): string {
  return execFileSync('docker', args, { encoding: 'utf8' }).trim();
}

export async function startPushingHost(prefix: string): Promise<PushingHost> {
  const dir = tempDir(prefix);
  const dataDir = path.join(dir.path, 'data');
  const httpPort = await freePort();
  const sshPort = await freePort();
  const env = { SHIPOFF_DATA: dataDir, SHIPOFF_HTTP_PORT: String(httpPort), SHIPOFF_SSH_PORT: String(sshPort) };
  let host: RunningHost = startHost(['up'], env);
  await host.ready;
  const keyFile = path.join(dir.path, 'id_admin');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'admin@test', '-f', keyFile]);
  const added = await runShipoff(['keys:add', 'admin'], { env, stdin: fs.readFileSync(keyFile + '.pub') });
  assert.equal(added.code, 0, added.stderr);
  const sshEnv = { GIT_SSH_COMMAND: sshCommand(keyFile, sshPort) };
  const apps = new Set<string>();

  return {
    dataDir,
    httpPort,
    sshPort,
    scratch: dir.path,
    env,
    shipoff: (args, stdin) => runShipoff(args, { env, ...(stdin !== undefined ? { stdin } : {}) }),
    ssh: (args, options = {}) => {
      const [, ...sshArgs] = sshCommand(options.keyFile ?? keyFile, sshPort).split(' ');
      return runProgram('ssh', [...sshArgs, ...(options.tty ? ['-tt'] : []), 'shipoff@127.0.0.1', ...args], options.stdin !== undefined ? { stdin: options.stdin } : {});
    },
    sshSpawn: (args, options = {}) => {
      const [, ...sshArgs] = sshCommand(options.keyFile ?? keyFile, sshPort).split(' ');
      return spawn('ssh', [...sshArgs, 'shipoff@127.0.0.1', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    },
    newKey(name) {
      const file = path.join(dir.path, `id_${name}`);
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `${name}@test`, '-f', file]);
      return file;
    },
    async pushApp(app, files, message = 'push') {
      const repo = path.join(dir.path, 'repos', app);
      if (!apps.has(app)) {
        apps.add(app);
        makeRepo(repo, files);
      } else {
        // The tree becomes exactly `files`.
        for (const entry of fs.readdirSync(repo)) if (entry !== '.git') fs.rmSync(path.join(repo, entry), { recursive: true, force: true });
        writeFiles(repo, files);
        commitAll(repo, message);
      }
      return push(repo, [`ssh://shipoff@127.0.0.1:${sshPort}/${app}.git`, 'main'], sshEnv);
    },
    get: (app, urlPath = '/') => getVia(httpPort, `${app}.localhost`, urlPath),
    output: () => host.output(),
    async restart() {
      assert.equal(await host.stop(), 0, host.output());
      host = startHost(['up'], env);
      await host.ready;
    },
    async close() {
      await host.stop();
      for (const app of apps) {
        const containers = docker('ps', '-aq', '--filter', `label=shipoff.app=${app}`).split('\n').filter(Boolean);
        if (containers.length) docker('rm', '-f', ...containers);
        const images = docker('images', '-q', '--filter', `label=shipoff.app=${app}`).split('\n').filter(Boolean);
        if (images.length) execFileSync('docker', ['rmi', '-f', ...new Set(images)], { stdio: 'ignore' });
      }
      dir.remove();
    },
  };
}
