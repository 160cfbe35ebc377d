// Time from starting `git push` to the first HTTP 200 from the new release,
// for the Node sample (one npm dependency with a lockfile):
//   first   - a new app: empty build cache, npm ci in the build container
//   re-push - a one-line change to the same app: dependencies from the cache
// Reference, in the same sitting: `docker run --rm` of a trivial command in
// the stack image (the floor of anything that starts a container), so the
// figures can be read as ratios.
//
// Run: node dist/bench/push-to-live.js [rounds]   (default 5; needs scripts/setup)
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stackImageRef } from '../buildpacks/stack-image.js';
import { commitAll, getVia, makeRepo, nodeApp, push, sshCommand, writeFiles } from '../test/helpers/apps.js';
import { runShipoff, startHost } from '../test/helpers/cli.js';
import { freePort } from '../test/helpers/ports.js';
import { tempDir } from '../test/helpers/temp.js';

const rounds = Number(process.argv[2] ?? 5);

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

async function firstOk(port: number, host: string, body: string, started: number): Promise<number> {
  for (;;) {
    try {
      const r = await getVia(port, host);
      if (r.status === 200 && r.body.startsWith(body)) return performance.now() - started;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

const dir = tempDir('bench-push');
const data = path.join(dir.path, 'data');
const httpPort = await freePort();
const sshPort = await freePort();
const env = { SHIPOFF_DATA: data, SHIPOFF_HTTP_PORT: String(httpPort), SHIPOFF_SSH_PORT: String(sshPort) };
const host = startHost(['up'], env);
const apps: string[] = [];
try {
  await host.ready;
  const keyFile = path.join(dir.path, 'id_bench');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyFile]);
  const added = await runShipoff(['keys:add', 'bench'], { env, stdin: fs.readFileSync(keyFile + '.pub') });
  if (added.code !== 0) throw new Error(added.stderr);
  const gitEnv = { GIT_SSH_COMMAND: sshCommand(keyFile, sshPort) };

  const results: Record<string, number[]> = { reference: [], first: [], repush: [] };
  for (let round = 0; round < rounds; round++) {
    const t0 = performance.now();
    execFileSync('docker', ['run', '--rm', stackImageRef(), 'true']);
    results.reference!.push(performance.now() - t0);

    const app = `bench-${process.pid}-${round}`;
    apps.push(app);
    const repo = makeRepo(path.join(dir.path, app), nodeApp('bench 0'));
    const url = `ssh://shipoff@127.0.0.1:${sshPort}/${app}.git`;
    let started = performance.now();
    let r = await push(repo, [url, 'main'], gitEnv);
    if (r.code !== 0) throw new Error(r.output);
    results.first!.push(await firstOk(httpPort, `${app}.localhost`, 'bench 0', started));

    writeFiles(repo, { 'greeting.js': `module.exports = "bench 1";\n` });
    commitAll(repo, 'one-line change');
    started = performance.now();
    r = await push(repo, [url, 'main'], gitEnv);
    if (r.code !== 0) throw new Error(r.output);
    results.repush!.push(await firstOk(httpPort, `${app}.localhost`, 'bench 1', started));
    process.stderr.write(`round ${round + 1}/${rounds}: first ${Math.round(results.first!.at(-1)!)} ms, re-push ${Math.round(results.repush!.at(-1)!)} ms\n`);
  }

  const ref = median(results.reference!);
  console.log(`push-to-live, ${rounds} rounds, ${os.cpus().length} cores (${os.cpus()[0]?.model.trim()})\n`);
  console.log('| case | median | min..max | × reference |');
  console.log('|---|---|---|---|');
  for (const [name, xs] of Object.entries(results)) {
    const fmt = (ms: number): string => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`);
    console.log(`| ${name} | ${fmt(median(xs))} | ${fmt(Math.min(...xs))}..${fmt(Math.max(...xs))} | ${(median(xs) / ref).toFixed(1)} |`);
  }
} finally {
  await host.stop();
  for (const app of apps) {
    const ids = execFileSync('docker', ['ps', '-a', '-q', '--filter', `label=shipoff.app=${app}`], { encoding: 'utf8' }).split('\n').filter(Boolean);
    if (ids.length) execFileSync('docker', ['rm', '-f', ...ids], { stdio: 'ignore' });
    const images = execFileSync('docker', ['images', '-q', '--filter', `label=shipoff.app=${app}`], { encoding: 'utf8' }).split('\n').filter(Boolean);
    if (images.length) execFileSync('docker', ['rmi', '-f', ...new Set(images)], { stdio: 'ignore' });
  }
  dir.remove();
}
