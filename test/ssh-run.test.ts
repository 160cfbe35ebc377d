// `run APP CMD...` over SSH: a one-off container from the live release, with
// a real terminal under ssh -t and plain pipes without; the command's exit
// status comes back as ssh's, and the container is gone afterwards, also
// when the client is killed mid-run.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import ssh2 from 'ssh2';
import { sshCommand } from './helpers/apps.js';
import { startPushingHost, type PushingHost } from './helpers/pushing-host.js';

const run = `r${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
const APP = `run-${run}`;

/** The one-off containers of the app, running or not. */
function oneOffs(): string[] {
  return execFileSync('docker', ['ps', '-aq', '--filter', `label=shipoff.app=${APP}`, '--filter', 'label=shipoff.role=run'], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean);
}

async function until(what: string, check: () => boolean, timeoutMs: number, seen: () => string = () => ''): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms ${seen()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('run APP CMD over SSH', { timeout: 240_000 }, () => {
  let host: PushingHost;
  let viewerKey: string;

  before(async () => {
    host = await startPushingHost('sshrun');
    const r = await host.pushApp(APP, {
      'package.json': JSON.stringify({ name: 'one-off-sample', version: '1.0.0', private: true, scripts: { start: 'node server.js' } }) + '\n',
      'server.js': "require('http').createServer((q, s) => s.end('ok')).listen(process.env.PORT);\n",
    });
    assert.equal(r.code, 0, r.output);
    viewerKey = host.newKey('vera');
    const added = await host.shipoff(['keys:add', 'vera'], fs.readFileSync(viewerKey + '.pub', 'utf8'));
    assert.equal(added.code, 0, added.stderr);
    const granted = await host.ssh(['access:grant', APP, 'vera', 'viewer']);
    assert.equal(granted.code, 0, granted.stderr);
  });

  after(async () => {
    await host?.close();
  });

  it('ssh -t gives the command a terminal; its exit status is ssh\'s', async () => {
    const r = await host.ssh(['run', APP, 'sh', '-c', "'test -t 0 && exit 3'"], { tty: true });
    assert.equal(r.code, 3, r.stdout + r.stderr);
    const tty = await host.ssh(['run', APP, 'tty'], { tty: true });
    assert.equal(tty.code, 0, tty.stdout + tty.stderr);
    assert.match(tty.stdout, /^\/dev\/pts\/\d+\r?\n?$/);
  });

  it('without -t it has plain pipes: stdin in, stdout and stderr apart', async () => {
    const notTty = await host.ssh(['run', APP, 'sh', '-c', "'test -t 0 && exit 3'"]);
    assert.equal(notTty.code, 1, notTty.stderr);
    const echoed = await host.ssh(['run', APP, 'cat'], { stdin: 'hello from stdin\n' });
    assert.equal(echoed.code, 0, echoed.stderr);
    assert.equal(echoed.stdout, 'hello from stdin\n');
    // More than any buffer on the way, both ways: nothing lost, nothing reordered.
    const big = Array.from({ length: 40_000 }, (_, i) => `line ${i}`).join('\n') + '\n';
    const copied = await host.ssh(['run', APP, 'cat'], { stdin: big });
    assert.equal(copied.code, 0, copied.stderr);
    assert.equal(copied.stdout.length, big.length);
    assert.ok(copied.stdout === big, 'the same bytes came back');
    const split = await host.ssh(['run', APP, 'sh', '-c', "'echo out; echo err >&2; exit 7'"]);
    assert.equal(split.code, 7);
    assert.equal(split.stdout, 'out\n');
    assert.equal(split.stderr, 'err\n');
  });

  it('runs in the release: its files, the launch environment, SHIPOFF_APP and DYNO, no PORT', async () => {
    const env = await host.ssh(['run', APP, 'env']);
    assert.equal(env.code, 0, env.stderr);
    assert.match(env.stdout, new RegExp(`^SHIPOFF_APP=${APP}$`, 'm'));
    assert.match(env.stdout, /^DYNO=run\.\d+$/m);
    assert.match(env.stdout, /^SHIPOFF_RELEASE=v1$/m);
    assert.doesNotMatch(env.stdout, /^PORT=/m);
    // The buildpack's .profile.d is sourced, as for the app's processes: node is on PATH.
    const node = await host.ssh(['run', APP, 'node', '-e', "'console.log(require(\"./package.json\").name)'"]);
    assert.equal(node.code, 0, node.stderr);
    assert.equal(node.stdout, 'one-off-sample\n');
    // Words after APP are the command's, options too.
    const ls = await host.ssh(['run', APP, 'ls', '-la', 'server.js']);
    assert.equal(ls.code, 0, ls.stderr);
    assert.match(ls.stdout, /server\.js/);
  });

  it('a command that does not exist exits 127 and says so', async () => {
    const r = await host.ssh(['run', APP, 'no-such-command', 'x']);
    assert.equal(r.code, 127);
    assert.match(r.stderr, /no-such-command: not found/);
  });

  it('an unknown app is 66, a viewer is refused, a missing command is a usage error', async () => {
    const unknown = await host.ssh(['run', 'no-such-app', 'true']);
    assert.equal(unknown.code, 66);
    assert.match(unknown.stderr, /App no-such-app does not exist/);
    const viewer = await host.ssh(['run', APP, 'true'], { keyFile: viewerKey });
    assert.equal(viewer.code, 77, viewer.stderr);
    assert.match(viewer.stderr, /this needs the developer role/);
    const usage = await host.ssh(['run', APP]);
    assert.equal(usage.code, 64);
    // Under ssh -t the client's terminal is raw: our messages end their lines with \r\n.
    const onTty = await host.ssh(['run', 'no-such-app', 'true'], { tty: true });
    assert.equal(onTty.code, 66);
    assert.match(onTty.stderr, /App no-such-app does not exist \[SHIPOFF_APP_NOT_FOUND\]\r\n$/);
  });

  it('the terminal has the size the client asked for and follows its window changes', async () => {
    const key = fs.readFileSync(path.join(host.scratch, 'id_admin'));
    const client = new ssh2.Client();
    await new Promise<void>((resolve, reject) => {
      client.once('ready', resolve).once('error', reject);
      client.connect({ host: '127.0.0.1', port: host.sshPort, username: 'shipoff', privateKey: key });
    });
    try {
      const stream = await new Promise<ssh2.ClientChannel>((resolve, reject) =>
        client.exec(`run ${APP} sh -c 'while read line; do stty size; done'`, { pty: { rows: 33, cols: 101, term: 'xterm' } }, (err, s) => (err ? reject(err) : resolve(s))),
      );
      let output = '';
      stream.on('data', (b: Buffer) => (output += b.toString()));
      stream.stderr.on('data', (b: Buffer) => (output += b.toString()));
      // Engines before API 1.42 size the terminal just after the start: ask until it shows.
      await until('the first size', () => {
        stream.write('\r');
        return output.includes('33 101');
      }, 20_000, () => JSON.stringify(output));
      stream.setWindow(40, 120, 0, 0);
      // The resize reaches the container over its own call: ask again until it shows.
      await until('the new size', () => {
        stream.write('\r');
        return output.includes('40 120');
      }, 10_000);
      stream.write('\x04'); // Ctrl-D: read sees the end, the shell exits
      const code = await new Promise<number>((resolve) => stream.once('exit', (c: number) => resolve(c)));
      assert.equal(code, 0, output);
    } finally {
      client.end();
    }
  });

  it('the container is removed when the client is killed mid-run, and none is left over', async () => {
    assert.deepEqual(oneOffs(), [], 'the runs before left nothing');
    const [program, ...args] = sshCommand(path.join(host.scratch, 'id_admin'), host.sshPort).split(' ');
    const child = spawn(program!, [...args, 'shipoff@127.0.0.1', 'run', APP, 'sleep', '60'], { stdio: ['pipe', 'ignore', 'ignore'] });
    try {
      await until('the one-off container', () => oneOffs().length === 1, 20_000);
      child.kill('SIGKILL');
      await until('the one-off container removed', () => oneOffs().length === 0, 8_000);
    } finally {
      child.kill('SIGKILL');
    }
    assert.deepEqual(oneOffs(), []);
    const instances = await host.ssh(['ps:report', APP]);
    assert.doesNotMatch(instances.stdout, /run\./, 'one-off runs are no instances');
  });

  it('a one-off container a dead host process left running is removed when the host starts', async () => {
    // What a host killed mid-run leaves: a running one-off of another session of this host.
    const hostId = createHash('sha256').update(host.dataDir).digest('hex').slice(0, 12);
    const image = execFileSync('docker', ['images', '-q', '--filter', `label=shipoff.app=${APP}`], { encoding: 'utf8' }).split('\n')[0]!;
    const orphan = execFileSync('docker', ['run', '-d', '--label', 'com.shipoff.managed=true', '--label', `shipoff.host=${hostId}`, '--label', `shipoff.app=${APP}`, '--label', 'shipoff.role=run', '--label', 'shipoff.run-session=dead', image, 'sleep', '300'], { encoding: 'utf8' }).trim();
    assert.equal(oneOffs().length, 1);
    await host.restart();
    assert.match(host.output(), /Removed 1 one-off container/);
    assert.equal(execFileSync('docker', ['ps', '-aq', '--filter', `id=${orphan}`], { encoding: 'utf8' }).trim(), '');
  });
});
