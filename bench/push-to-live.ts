// Time from starting `git push` to the first HTTP 200 from the new release:
//   first          - the Node sample (one npm dependency, a lockfile) as a new
//                    app: empty build cache, npm ci in the build container
//   re-push        - a one-line change to it: node_modules from the cache
//   python first   - a pip app (two wheels from a local index) as a new app
//   python re-push - a one-line change: the virtualenv from the cache
//   php first      - a plain PHP app (no composer dependencies) as a new app
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
import { servePythonIndex } from '../test/helpers/python-index.js';
import { buildTestWheels, requirementsApp } from '../test/helpers/python-samples.js';
import { runShipoff, startHost } from '../test/helpers/cli.js';
import { freePort } from '../test/helpers/ports.js';
import { tempDir } from '../test/helpers/temp.js';
import { median, formatMs } from './stats.js';

const rounds = Number(process.argv[2] ?? 5);

async function firstOk(port: number, host: string, body: string, started: number): Promise<number> {
  for (;;) {
    try {
      const r = await getVia(port, host);
      if (r.status === 200 && r.body.includes(body)) return performance.now() - started;
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
const index = await servePythonIndex(buildTestWheels(path.join(dir.path, 'wheels')));
try {
  await host.ready;
  const keyFile = path.join(dir.path, 'id_bench');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyFile]);
  const added = await runShipoff(['keys:add', 'bench'], { env, stdin: fs.readFileSync(keyFile + '.pub') });
  if (added.code !== 0) throw new Error(added.stderr);
  const gitEnv = { GIT_SSH_COMMAND: sshCommand(keyFile, sshPort) };

  const results: Record<string, number[]> = { reference: [], first: [], 're-push': [], 'python first': [], 'python re-push': [], 'php first': [] };
  /** Pushes `repo` to a new or existing app and times it to the first 200 that shows `body`. */
  const timed = async (name: string, app: string, repo: string, body: string): Promise<void> => {
    const started = performance.now();
    const r = await push(repo, [`ssh://shipoff@127.0.0.1:${sshPort}/${app}.git`, 'main'], gitEnv);
    if (r.code !== 0) throw new Error(r.output);
    results[name]!.push(await firstOk(httpPort, `${app}.localhost`, body, started));
  };
  const pythonFiles = (label: string): Record<string, string> => {
    const files = requirementsApp(label);
    files['requirements.txt'] = `--index-url ${index.url}\n--trusted-host ${index.trustedHost}\n${files['requirements.txt']}`;
    return files;
  };
  for (let round = 0; round < rounds; round++) {
    const t0 = performance.now();
    execFileSync('docker', ['run', '--rm', stackImageRef(), 'true']);
    results.reference!.push(performance.now() - t0);

    const app = `bench-${process.pid}-${round}`;
    apps.push(app);
    const repo = makeRepo(path.join(dir.path, app), nodeApp('bench 0'));
    await timed('first', app, repo, 'bench 0');
    writeFiles(repo, { 'greeting.js': `module.exports = "bench 1";\n` });
    commitAll(repo, 'one-line change');
    await timed('re-push', app, repo, 'bench 1');

    const py = `benchpy-${process.pid}-${round}`;
    apps.push(py);
    const pyRepo = makeRepo(path.join(dir.path, py), pythonFiles('py 0'));
    await timed('python first', py, pyRepo, 'py 0');
    writeFiles(pyRepo, pythonFiles('py 1'));
    commitAll(pyRepo, 'one-line change');
    await timed('python re-push', py, pyRepo, 'py 1');

    const php = `benchphp-${process.pid}-${round}`;
    apps.push(php);
    const phpRepo = makeRepo(path.join(dir.path, php), { 'index.php': `<?php echo "php ${round}";\n` });
    await timed('php first', php, phpRepo, `php ${round}`);
    const last = Object.entries(results).map(([k, xs]) => `${k} ${Math.round(xs.at(-1) ?? 0)} ms`).join(', ');
    process.stderr.write(`round ${round + 1}/${rounds}: ${last}\n`);
  }

  const ref = median(results.reference!);
  console.log(`push-to-live, ${rounds} rounds, ${os.cpus().length} cores (${os.cpus()[0]?.model.trim()})\n`);
  console.log('| case | median | min..max | × reference |');
  console.log('|---|---|---|---|');
  for (const [name, xs] of Object.entries(results)) {
    console.log(`| ${name} | ${formatMs(median(xs))} | ${formatMs(Math.min(...xs))}..${formatMs(Math.max(...xs))} | ${(median(xs) / ref).toFixed(1)} |`);
  }
} finally {
  await index.close();
  await host.stop();
  for (const app of apps) {
    const ids = execFileSync('docker', ['ps', '-a', '-q', '--filter', `label=shipoff.app=${app}`], { encoding: 'utf8' }).split('\n').filter(Boolean);
    if (ids.length) execFileSync('docker', ['rm', '-f', ...ids], { stdio: 'ignore' });
    const images = execFileSync('docker', ['images', '-q', '--filter', `label=shipoff.app=${app}`], { encoding: 'utf8' }).split('\n').filter(Boolean);
    if (images.length) execFileSync('docker', ['rmi', '-f', ...new Set(images)], { stdio: 'ignore' });
  }
  dir.remove();
}
