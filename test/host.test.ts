// `shipoff up`, `shipoff keys:add` and configuration errors, through the real
// bin/shipoff, a real embedded PostgreSQL server and real HTTP.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { embeddedServerPid } from '../core/index.js';
import { runShipoff, startHost } from './helpers/cli.js';
import { startExternalPostgres, type ExternalPostgres } from './helpers/external-postgres.js';
import { freePort } from './helpers/ports.js';
import { tempDir } from './helpers/temp.js';

function newKey(dir: string, name: string): string {
  const file = path.join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `${name}@test`, '-f', file]);
  return fs.readFileSync(`${file}.pub`, 'utf8');
}

function fingerprintBySshKeygen(pub: string, dir: string): string {
  const file = path.join(dir, `fp-${Date.now()}.pub`);
  fs.writeFileSync(file, pub);
  return execFileSync('ssh-keygen', ['-l', '-f', file]).toString().split(' ')[1]!;
}

async function get(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.text() };
}

/** fetch() may not set Host; the router routes by it. */
function getWithHost(port: number, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', headers: { host } }, (res) => {
      let body = '';
      res.on('data', (b: Buffer) => (body += b.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
}

function portIsClosed(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

describe('shipoff up', () => {
  let dir: ReturnType<typeof tempDir>;
  before(() => {
    dir = tempDir('host');
  });
  after(() => dir.remove());

  it('starts, prints what a new user needs, answers /healthz, and exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const data = path.join(dir.path, 'up');
    const host = startHost(['up'], { SHIPOFF_DATA: data, SHIPOFF_HTTP_PORT: String(port), SHIPOFF_SSH_PORT: '0' });
    try {
      const banner = await host.ready;
      assert.match(banner, new RegExp(`http://APP\\.localhost:${port}/`));
      assert.match(banner, new RegExp(`http://localhost:${port}/healthz`));
      assert.match(banner, /shipoff keys:add YOUR_NAME < ~\/\.ssh\/id_ed25519\.pub/);
      const health = await get(`http://127.0.0.1:${port}/healthz`);
      assert.equal(health.status, 200);
      assert.deepEqual({ ...JSON.parse(health.body), uptimeSeconds: 0 }, { status: 'ok', store: 'ok', backend: 'embedded', uptimeSeconds: 0 });
      const unknown = await getWithHost(port, 'nope.localhost');
      assert.equal(unknown.status, 404);
      assert.match(unknown.body, /No app answers at nope\.localhost/);
      assert.ok(embeddedServerPid(data), 'the embedded server runs while the host is up');
      assert.ok(fs.statSync(path.join(data, 'master.key')).mode % 0o1000 === 0o600, 'master key is mode 0600');
    } finally {
      const started = Date.now();
      assert.equal(await host.stop('SIGTERM'), 0, host.output());
      assert.ok(Date.now() - started < 15_000, 'shuts down promptly');
    }
    assert.match(host.output(), /Shutting down \(SIGTERM\)[\s\S]*Stopped/);
    assert.equal(embeddedServerPid(data), undefined, 'the embedded server stopped with the host');
    assert.ok(await portIsClosed(port));
  });

  it('exits 0 on SIGINT (Ctrl-C) as well, and starts again on the same data', async () => {
    const port = await freePort();
    const data = path.join(dir.path, 'up');
    const host = startHost(['up'], { SHIPOFF_DATA: data, SHIPOFF_HTTP_PORT: String(port), SHIPOFF_SSH_PORT: '0' });
    await host.ready;
    assert.equal((await get(`http://127.0.0.1:${port}/healthz`)).status, 200);
    assert.equal(await host.stop('SIGINT'), 0, host.output());
    assert.equal(embeddedServerPid(data), undefined);
  });

  it('a port already in use gives a clear error, a non-zero exit, and stops the database it started', async () => {
    const blocker = net.createServer().listen(0, '0.0.0.0');
    await new Promise((r) => blocker.once('listening', r));
    const port = (blocker.address() as net.AddressInfo).port;
    const data = path.join(dir.path, 'busy');
    try {
      const r = await runShipoff(['up'], { env: { SHIPOFF_DATA: data, SHIPOFF_HTTP_PORT: String(port), SHIPOFF_SSH_PORT: '0' } });
      assert.equal(r.code, 69);
      assert.match(r.stderr, new RegExp(`port ${port} is already in use; stop what listens there or set SHIPOFF_HTTP_PORT`));
      assert.match(r.stderr, /\[SHIPOFF_PORT_IN_USE\]/);
      assert.equal(embeddedServerPid(data), undefined);
    } finally {
      blocker.close();
    }
  });
});

describe('configuration errors', () => {
  const cases: [string, Record<string, string>, RegExp][] = [
    ['a port that is not a number', { SHIPOFF_HTTP_PORT: 'abc' }, /SHIPOFF_HTTP_PORT must be a port number from 0 to 65535, got "abc"/],
    ['a port out of range', { SHIPOFF_SSH_PORT: '70000' }, /SHIPOFF_SSH_PORT must be a port number/],
    ['the same port twice', { SHIPOFF_HTTP_PORT: '9000', SHIPOFF_SSH_PORT: '9000' }, /SHIPOFF_SSH_PORT must differ from SHIPOFF_HTTP_PORT/],
    ['a domain with a space', { SHIPOFF_DOMAIN: 'my host' }, /SHIPOFF_DOMAIN must be a host name/],
    ['a database URL of another kind', { DATABASE_URL: 'mysql://root:hunter2@db/x' }, /DATABASE_URL must start with postgres:\/\//],
    ['a database URL that is not a URL', { DATABASE_URL: 'not a url' }, /DATABASE_URL must be a URL/],
  ];
  for (const [what, env, message] of cases) {
    it(`${what}: clear message, exit 78, nothing created`, async () => {
      const dir = tempDir('badenv');
      const data = path.join(dir.path, 'data');
      try {
        const r = await runShipoff(['up'], { env: { SHIPOFF_DATA: data, ...env } });
        assert.equal(r.code, 78, r.stderr);
        assert.match(r.stderr, message);
        assert.match(r.stderr, /^ ! {5}.*\[SHIPOFF_BAD_ENV\]$/m);
        assert.doesNotMatch(r.stderr, /hunter2/, 'passwords are never echoed');
        assert.equal(fs.existsSync(data), false);
      } finally {
        dir.remove();
      }
    });
  }

  it('an unreachable external database says so and exits 69', async () => {
    const port = await freePort();
    const dir = tempDir('nodb');
    try {
      const r = await runShipoff(['up'], { env: { SHIPOFF_DATA: dir.path, DATABASE_URL: `postgres://x@127.0.0.1:${port}/db` } });
      assert.equal(r.code, 69);
      assert.match(r.stderr, /the database is not reachable .*\[SHIPOFF_DB_UNAVAILABLE\]/);
    } finally {
      dir.remove();
    }
  });
});

describe('shipoff keys:add on the host', () => {
  let dir: ReturnType<typeof tempDir>;
  before(() => {
    dir = tempDir('keys');
  });
  after(() => dir.remove());

  it('works while the host is stopped, and leaves no database running', async () => {
    const data = path.join(dir.path, 'stopped');
    const pub = newKey(dir.path, 'alice');
    const r = await runShipoff(['keys:add', 'alice'], { env: { SHIPOFF_DATA: data }, stdin: pub });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`Added ssh-ed25519 key ${fingerprintBySshKeygen(pub, dir.path).replace(/[+/]/g, '\\$&')} for alice`));
    assert.match(r.stdout, /New user alice, a host administrator/);
    assert.equal(embeddedServerPid(data), undefined);
    const list = await runShipoff(['keys:list', '--json'], { env: { SHIPOFF_DATA: data } });
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(JSON.parse(list.stdout).map((k: { user: string }) => k.user), ['alice']);
  });

  it('works while the host is running, against the same server', async () => {
    const data = path.join(dir.path, 'running');
    const port = await freePort();
    const host = startHost(['up'], { SHIPOFF_DATA: data, SHIPOFF_HTTP_PORT: String(port), SHIPOFF_SSH_PORT: '0' });
    try {
      await host.ready;
      const serverBefore = embeddedServerPid(data);
      const r = await runShipoff(['keys:add', 'bob'], { env: { SHIPOFF_DATA: data }, stdin: newKey(dir.path, 'bob') });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(embeddedServerPid(data), serverBefore, 'the command joined the host’s server and left it running');
      assert.equal((await get(`http://127.0.0.1:${port}/healthz`)).status, 200);
    } finally {
      assert.equal(await host.stop(), 0);
    }
    assert.equal(embeddedServerPid(data), undefined);
  });

  it('does not race a host that starts at the same moment', async () => {
    for (let round = 0; round < 3; round++) {
      const data = path.join(dir.path, `race-${round}`);
      const port = await freePort();
      const host = startHost(['up'], { SHIPOFF_DATA: data, SHIPOFF_HTTP_PORT: String(port), SHIPOFF_SSH_PORT: '0' });
      const added = await runShipoff(['keys:add', 'carol'], { env: { SHIPOFF_DATA: data }, stdin: newKey(dir.path, `carol${round}`) });
      try {
        assert.equal(added.code, 0, added.stderr);
        await host.ready;
        assert.equal((await get(`http://127.0.0.1:${port}/healthz`)).status, 200, 'the host still has its database after the command ended');
      } finally {
        assert.equal(await host.stop(), 0, host.output());
      }
      assert.equal(embeddedServerPid(data), undefined);
    }
  });

  it('refuses bad input with a clear message and adds nothing', async () => {
    const data = path.join(dir.path, 'bad');
    const priv = fs.readFileSync(path.join(dir.path, 'alice'), 'utf8');
    const cases: [string[], string, RegExp, number][] = [
      [['keys:add', 'dave'], '', /that is not an SSH public key: the input is empty/, 65],
      [['keys:add', 'dave'], priv, /this is a private key; give the \.pub file instead/, 65],
      [['keys:add', 'dave'], 'ssh-dss AAAAB3NzaC1kc3MAAACBAP== x', /key type "ssh-dss" is not supported/, 65],
      [['keys:add', 'Dave;id'], newKey(dir.path, 'dave'), /"Dave;id" is not a valid user name/, 65],
      [['keys:add'], '', /missing argument \[SHIPOFF_USAGE\]\n ! {5}Usage: shipoff keys:add USER/, 64],
      [['keys:add', 'a', 'b'], '', /unexpected argument "b"/, 64],
      [['keys:nope'], '', /keys:nope is not a shipoff command/, 64],
    ];
    for (const [args, stdin, message, code] of cases) {
      const r = await runShipoff(args, { env: { SHIPOFF_DATA: data }, stdin });
      assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
    const list = await runShipoff(['keys:list', '--json'], { env: { SHIPOFF_DATA: data } });
    assert.deepEqual(JSON.parse(list.stdout), []);
  });
});

describe('an external DATABASE_URL', () => {
  let server: ExternalPostgres;
  before(async () => {
    server = await startExternalPostgres();
  });
  after(async () => server?.stop());

  it('shipoff up and keys:add use it instead of the embedded server', async () => {
    const dir = tempDir('ext');
    const url = await server.newDatabase('host_test');
    const port = await freePort();
    const host = startHost(['up'], { SHIPOFF_DATA: dir.path, SHIPOFF_HTTP_PORT: String(port), SHIPOFF_SSH_PORT: '0', DATABASE_URL: url });
    try {
      assert.match(await host.ready, /external PostgreSQL \(DATABASE_URL\)/);
      const health = JSON.parse((await get(`http://127.0.0.1:${port}/healthz`)).body);
      assert.equal(health.backend, 'external');
      const r = await runShipoff(['keys:add', 'erin'], { env: { SHIPOFF_DATA: dir.path, DATABASE_URL: url }, stdin: newKey(dir.path, 'erin') });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(fs.existsSync(path.join(dir.path, 'postgres')), false, 'no embedded server was made');
    } finally {
      assert.equal(await host.stop(), 0);
      dir.remove();
    }
  });
});

describe('help', () => {
  it('lists commands grouped, and every command has --help', async () => {
    const r = await runShipoff(['help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /host:\n\s+router\s+.*\n\s+up\s+/);
    assert.match(r.stdout, /keys:\n\s+keys:add\s+/);
    const upHelp = await runShipoff(['up', '--help']);
    assert.equal(upHelp.code, 0);
    for (const name of ['SHIPOFF_DATA', 'SHIPOFF_DOMAIN', 'SHIPOFF_HTTP_PORT', 'SHIPOFF_SSH_PORT', 'DATABASE_URL']) {
      assert.match(upHelp.stdout, new RegExp(name));
    }
    const keysHelp = await runShipoff(['keys:add', '--help']);
    assert.match(keysHelp.stdout, /Usage: shipoff keys:add USER \[--admin\] < key\.pub/);
  });
});
