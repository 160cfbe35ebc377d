// How long the admin operations that roll out instances take, end to end over
// SSH with the stock OpenSSH client (from starting `ssh` to its exit, when the
// new instances answer and traffic has moved):
//   config:set  - a release without a build: the live image with new config
//   ps:restart  - fresh instances of the live release replace the running one
//   rollback    - an earlier release's image and config as a new release
//   scale 1→2   - one more web instance, healthy and in the routes
//   whoami      - the reference: an SSH command that touches no instance
//                 (connection, key check, one store query)
// Also, for scale: a re-push of a one-line change (the build path) in the
// same sitting, to show what skipping the build saves.
//
// Run: node dist/bench/admin-ops.js [rounds]   (default 5; needs scripts/setup)
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { commitAll, makeRepo, nodeApp, push, sshCommand, writeFiles } from '../test/helpers/apps.js';
import { runProgram, runShipoff, startHost } from '../test/helpers/cli.js';
import { freePort } from '../test/helpers/ports.js';
import { tempDir } from '../test/helpers/temp.js';
import { median, formatMs } from './stats.js';

const rounds = Number(process.argv[2] ?? 5);

const dir = tempDir('bench-admin');
const data = path.join(dir.path, 'data');
const httpPort = await freePort();
const sshPort = await freePort();
const env = { SHIPOFF_DATA: data, SHIPOFF_HTTP_PORT: String(httpPort), SHIPOFF_SSH_PORT: String(sshPort) };
const host = startHost(['up'], env);
const app = `benchadm-${process.pid}`;
try {
  await host.ready;
  const keyFile = path.join(dir.path, 'id_bench');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyFile]);
  const added = await runShipoff(['keys:add', 'bench'], { env, stdin: fs.readFileSync(keyFile + '.pub') });
  if (added.code !== 0) throw new Error(added.stderr);
  const sshArgs = sshCommand(keyFile, sshPort).split(' ').slice(1);
  const ssh = async (...args: string[]): Promise<number> => {
    const t0 = performance.now();
    const r = await runProgram('ssh', [...sshArgs, 'shipoff@127.0.0.1', ...args]);
    if (r.code !== 0) throw new Error(`${args.join(' ')}: ${r.stderr}`);
    return performance.now() - t0;
  };
  const repo = makeRepo(path.join(dir.path, app), nodeApp('bench 0'));
  const gitEnv = { GIT_SSH_COMMAND: sshCommand(keyFile, sshPort) };
  const first = await push(repo, [`ssh://shipoff@127.0.0.1:${sshPort}/${app}.git`, 'main'], gitEnv);
  if (first.code !== 0) throw new Error(first.output);
  await ssh('ps:autosleep', app, 'off');

  const results: Record<string, number[]> = { whoami: [], 'config:set': [], 'ps:restart': [], rollback: [], 'scale 1→2': [], 're-push': [] };
  for (let round = 0; round < rounds; round++) {
    results.whoami!.push(await ssh('whoami'));
    results['config:set']!.push(await ssh('config:set', app, `ROUND=${round}`));
    results['ps:restart']!.push(await ssh('ps:restart', app));
    results.rollback!.push(await ssh('rollback', app, 'v1'));
    results['scale 1→2']!.push(await ssh('ps:scale', app, 'web=2'));
    await ssh('ps:scale', app, 'web=1');
    writeFiles(repo, { 'greeting.js': `module.exports = "bench ${round + 1}";\n` });
    commitAll(repo, 'one-line change');
    const t0 = performance.now();
    const r = await push(repo, [`ssh://shipoff@127.0.0.1:${sshPort}/${app}.git`, 'main'], gitEnv);
    if (r.code !== 0) throw new Error(r.output);
    results['re-push']!.push(performance.now() - t0);
    process.stderr.write(`round ${round + 1}/${rounds}: ${Object.entries(results).map(([k, xs]) => `${k} ${Math.round(xs.at(-1)!)} ms`).join(', ')}\n`);
  }
  const ref = median(results.whoami!);
  console.log(`admin-ops, ${rounds} rounds, ${os.cpus().length} cores (${os.cpus()[0]?.model.trim()})\n`);
  console.log('| case | median | min..max | × whoami |');
  console.log('|---|---|---|---|');
  for (const [name, xs] of Object.entries(results)) console.log(`| ${name} | ${formatMs(median(xs))} | ${formatMs(Math.min(...xs))}..${formatMs(Math.max(...xs))} | ${(median(xs) / ref).toFixed(1)} |`);
} finally {
  await host.stop();
  const ids = execFileSync('docker', ['ps', '-a', '-q', '--filter', `label=shipoff.app=${app}`], { encoding: 'utf8' }).split('\n').filter(Boolean);
  if (ids.length) execFileSync('docker', ['rm', '-f', ...ids], { stdio: 'ignore' });
  const images = execFileSync('docker', ['images', '-q', '--filter', `label=shipoff.app=${app}`], { encoding: 'utf8' }).split('\n').filter(Boolean);
  if (images.length) execFileSync('docker', ['rmi', '-f', ...new Set(images)], { stdio: 'ignore' });
  dir.remove();
}
