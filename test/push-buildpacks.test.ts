// Every kind of app our promise names, pushed end to end: stock git over
// OpenSSH to a running host, built in real containers, answered through the
// router. Failures reject the push and leave the previous release serving.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stackImageRef } from '../buildpacks/index.js';
import { nodeApp } from './helpers/apps.js';
import { startPushingHost, type PushingHost } from './helpers/pushing-host.js';

const run = `b${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;

function assertLive(r: { code: number | null; output: string }, app: string): void {
  assert.equal(r.code, 0, r.output);
  assert.match(r.output, new RegExp(`remote: =====> ${app} v\\d+ is live`));
}

function assertRejected(r: { code: number | null; output: string }, message: RegExp): void {
  assert.notEqual(r.code, 0, r.output);
  assert.match(r.output, message);
  assert.match(r.output, /pre-receive hook declined/);
}

describe('git push builds every kind of app', { timeout: 900_000 }, () => {
  let host: PushingHost;

  before(async () => {
    host = await startPushingHost('pushbp');
  });

  after(async () => {
    await host?.close();
  });

  it('a Dockerfile app is built by the Docker engine and answers through the router', async () => {
    const app = `docker-${run}`;
    const r = await host.pushApp(app, {
      Dockerfile: `FROM ${stackImageRef()}\nWORKDIR /srv\nCOPY server.js .\nCMD ["node", "server.js"]\n`,
      'server.js': "require('http').createServer((q, s) => s.end('dockerfile ok\\n')).listen(process.env.PORT);\n",
    });
    assertLive(r, app);
    assert.match(r.output, /remote: -----> Dockerfile app detected/);
    assert.match(r.output, /remote: -----> Step 1\/\d+ : FROM /);
    assert.deepEqual(await host.get(app), { status: 200, body: 'dockerfile ok\n' });
  });

  it('a third-party buildpack from a local git repository, named in .buildpacks', async () => {
    const pack = path.join(host.dataDir, 'buildpacks', 'greeting-pack');
    fs.mkdirSync(path.join(pack, 'bin'), { recursive: true });
    fs.writeFileSync(path.join(pack, 'bin/detect'), '#!/usr/bin/env bash\n[[ -f "$1/greeting" ]] && echo Greeting\n');
    fs.writeFileSync(path.join(pack, 'bin/compile'), '#!/usr/bin/env bash\necho "-----> Baking the greeting"\ntr a-z A-Z < "$1/greeting" > "$1/greeting.out"\n');
    fs.writeFileSync(path.join(pack, 'bin/release'), '#!/usr/bin/env bash\nprintf -- "---\\ndefault_process_types:\\n  web: python3 -m http.server \\"\\$PORT\\"\\n"\n');
    const g = (...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd: pack, stdio: 'pipe' });
    g('init', '-q', '-b', 'main');
    g('add', '-A');
    g('commit', '-qm', 'buildpack');

    const app = `thirdparty-${run}`;
    const r = await host.pushApp(app, { greeting: 'hello from a buildpack\n', '.buildpacks': `${pack}\n` });
    assertLive(r, app);
    assert.match(r.output, /remote: -----> Fetching buildpack .*greeting-pack/);
    assert.match(r.output, /remote: -----> Baking the greeting/);
    assert.deepEqual(await host.get(app, '/greeting.out'), { status: 200, body: 'HELLO FROM A BUILDPACK\n' });

    // A .buildpacks naming a path outside the host's buildpacks directory is refused; v1 keeps serving.
    const refused = await host.pushApp(app, { greeting: 'changed\n', '.buildpacks': '/etc\n' });
    assertRejected(refused, /\.buildpacks names "\/etc", which is not a buildpack Shipoff can use: local buildpacks must be under/);
    assert.deepEqual(await host.get(app, '/greeting.out'), { status: 200, body: 'HELLO FROM A BUILDPACK\n' });
  });

  it('an undetectable repository is refused with what was looked for and found; a Node app then deploys to the same name', async () => {
    const app = `nothing-${run}`;
    const r = await host.pushApp(app, { 'README.md': '# nothing to run\n', 'main.go': 'package main\n' });
    assertRejected(r, /no buildpack matched: looked for package\.json \(Node\.js\).*found README\.md, main\.go/);
    const fixed = await host.pushApp(app, nodeApp('now node'));
    assertLive(fixed, app);
    assert.equal((await host.get(app)).body, 'now node 1m production\n');
  });
});
