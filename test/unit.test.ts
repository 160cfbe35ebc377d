// Unit tests for the pure logic: settings, names, keys, encryption, the state
// table and the command registry.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import {
  appNameProblem,
  assertTransition,
  DEPLOY_STATES,
  DEPLOY_TRANSITIONS,
  isShipoffError,
  loadOrCreateMasterKey,
  loadSettings,
  open,
  parsePublicKey,
  seal,
  ShipoffError,
  ERRORS,
} from '../core/index.js';
import { CommandRegistry, parseCommandArgs, type Command } from '../admin/index.js';
import { tempDir } from './helpers/temp.js';

describe('settings', () => {
  it('has defaults', () => {
    const s = loadSettings({ SHIPOFF_DATA: '/tmp/x' });
    assert.deepEqual(s, {
      dataDir: '/tmp/x',
      domain: 'localhost',
      httpPort: 8080,
      httpsPort: 8443,
      sshPort: 2222,
      databaseUrl: undefined,
      buildConcurrency: 2,
      buildMemoryBytes: 1024 ** 3,
      buildCpus: undefined,
      buildTimeoutSeconds: 600,
      buildCaBundle: undefined,
      upstreamTimeoutSeconds: 60,
    });
  });

  it('reads every variable', () => {
    const s = loadSettings({ SHIPOFF_DATA: 'rel', SHIPOFF_DOMAIN: 'Apps.Example.com', SHIPOFF_HTTP_PORT: '80', SHIPOFF_SSH_PORT: '22', DATABASE_URL: 'postgresql://u:p@db:5432/s' });
    assert.equal(s.dataDir, path.resolve('rel'));
    assert.equal(s.domain, 'apps.example.com');
    assert.equal(s.httpPort, 80);
    assert.equal(s.sshPort, 22);
    assert.equal(s.databaseUrl, 'postgresql://u:p@db:5432/s');
  });

  it('reads the build limits', () => {
    const s = loadSettings({ SHIPOFF_DATA: '/tmp/x', SHIPOFF_BUILD_MEMORY: '1536m', SHIPOFF_BUILD_CPUS: '1.5', SHIPOFF_BUILD_TIMEOUT: '900', SHIPOFF_BUILD_CA_BUNDLE: 'none' });
    assert.equal(s.buildMemoryBytes, 1536 * 1024 ** 2);
    assert.equal(s.buildCpus, 1.5);
    assert.equal(s.buildTimeoutSeconds, 900);
    assert.equal(s.buildCaBundle, null);
    assert.equal(loadSettings({ SHIPOFF_DATA: '/tmp/x', SHIPOFF_BUILD_CA_BUNDLE: '/etc/hostname' }).buildCaBundle, '/etc/hostname');
  });

  for (const [env, pattern] of [
    [{ SHIPOFF_HTTP_PORT: '-1' }, /SHIPOFF_HTTP_PORT/],
    [{ SHIPOFF_HTTP_PORT: '8080x' }, /SHIPOFF_HTTP_PORT/],
    [{ SHIPOFF_SSH_PORT: '65536' }, /SHIPOFF_SSH_PORT/],
    [{ SHIPOFF_HTTPS_PORT: '443s' }, /SHIPOFF_HTTPS_PORT must be a port number/],
    [{ SHIPOFF_HTTPS_PORT: '8080' }, /SHIPOFF_HTTPS_PORT must differ from SHIPOFF_HTTP_PORT/],
    [{ SHIPOFF_DOMAIN: 'a..b' }, /SHIPOFF_DOMAIN/],
    [{ SHIPOFF_DOMAIN: '-x.com' }, /SHIPOFF_DOMAIN/],
    [{ SHIPOFF_DATA: '  ' }, /SHIPOFF_DATA/],
    [{ DATABASE_URL: 'http://x' }, /DATABASE_URL/],
    [{ SHIPOFF_BUILD_MEMORY: '10m' }, /SHIPOFF_BUILD_MEMORY.*128m/],
    [{ SHIPOFF_BUILD_MEMORY: '1 g' }, /SHIPOFF_BUILD_MEMORY/],
    [{ SHIPOFF_BUILD_CPUS: '0' }, /SHIPOFF_BUILD_CPUS/],
    [{ SHIPOFF_BUILD_CPUS: '1e3' }, /SHIPOFF_BUILD_CPUS/],
    [{ SHIPOFF_BUILD_TIMEOUT: '5' }, /SHIPOFF_BUILD_TIMEOUT.*10 to 7200/],
    [{ SHIPOFF_BUILD_CA_BUNDLE: 'certs.pem' }, /SHIPOFF_BUILD_CA_BUNDLE.*absolute/],
    [{ SHIPOFF_BUILD_CA_BUNDLE: '/nonexistent/ca.pem' }, /SHIPOFF_BUILD_CA_BUNDLE.*exists/],
  ] as const) {
    it(`refuses ${JSON.stringify(env)}`, () => {
      assert.throws(() => loadSettings({ SHIPOFF_DATA: '/tmp/x', ...env }), (err: unknown) => {
        assert.ok(isShipoffError(err, 'SHIPOFF_BAD_ENV'));
        assert.match(err.message, pattern);
        assert.equal(err.exitCode, 78);
        return true;
      });
    });
  }

  it('never echoes a database password', () => {
    assert.throws(() => loadSettings({ DATABASE_URL: 'mysql://root:s3cret@db/x' }), (err: Error) => !err.message.includes('s3cret'));
  });
});

describe('app names', () => {
  it('accepts DNS labels', () => {
    for (const ok of ['a', 'my-app', 'app2', 'x'.repeat(63)]) assert.equal(appNameProblem(ok), undefined, ok);
  });
  it('refuses everything else with the rule', () => {
    for (const bad of ['', 'A', 'a b', '../x', 'a;id', '$(id)', '1app', 'app-', '-app', 'a--b', 'x'.repeat(64), 'git', 'a.b', 'a/b', 'ä']) {
      assert.ok(appNameProblem(bad), `${JSON.stringify(bad)} should be refused`);
    }
    assert.match(appNameProblem('A')!, /lowercase letters, digits and dashes/);
    assert.match(appNameProblem('git')!, /reserved/);
  });
});

describe('SSH public keys', () => {
  it('computes the same fingerprint as ssh-keygen for every key type', () => {
    const dir = tempDir('keys');
    try {
      for (const [type, bits] of [['ed25519', ''], ['rsa', '2048'], ['ecdsa', '256'], ['ecdsa', '521']] as const) {
        const file = path.join(dir.path, `${type}${bits}`);
        execFileSync('ssh-keygen', ['-q', '-t', type, ...(bits ? ['-b', bits] : []), '-N', '', '-C', 'me@host', '-f', file]);
        const pub = fs.readFileSync(`${file}.pub`, 'utf8');
        const expected = execFileSync('ssh-keygen', ['-l', '-f', `${file}.pub`]).toString().split(' ')[1];
        const parsed = parsePublicKey(pub);
        assert.equal(parsed.fingerprint, expected, type);
        assert.equal(parsed.comment, 'me@host');
      }
    } finally {
      dir.remove();
    }
  });

  it('refuses what is not one public key', () => {
    const valid = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINhFhzMVY9utfqrWoWTtXVg0F6AiBFV7IMMyMcmoEzn7';
    for (const [text, pattern] of [
      ['', /empty/],
      [`${valid}\n${valid}`, /one key at a time/],
      ['-----BEGIN OPENSSH PRIVATE KEY-----\nxx\n-----END OPENSSH PRIVATE KEY-----', /private key/],
      ['ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAINhFhzMVY9utfqrWoWTtXVg0F6AiBFV7IMMyMcmoEzn7', /does not hold a ssh-rsa key/],
      ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5', /truncated/],
      ['ssh-ed25519 !!!', /not base64/],
      ['foo AAAA', /not supported/],
    ] as const) {
      assert.throws(() => parsePublicKey(text), (err: unknown) => isShipoffError(err, 'SHIPOFF_INVALID_PUBLIC_KEY') && pattern.test(err.message));
    }
  });
});

describe('secrets', () => {
  it('the master key is made once, mode 0600, and reused', () => {
    const dir = tempDir('mk');
    try {
      const a = loadOrCreateMasterKey(dir.path);
      const b = loadOrCreateMasterKey(dir.path);
      assert.equal(a.length, 32);
      assert.deepEqual(a, b);
      assert.equal(fs.statSync(path.join(dir.path, 'master.key')).mode & 0o777, 0o600);
    } finally {
      dir.remove();
    }
  });

  it('a master key readable by others is refused with the fix', () => {
    const dir = tempDir('mk');
    try {
      loadOrCreateMasterKey(dir.path);
      fs.chmodSync(path.join(dir.path, 'master.key'), 0o644);
      assert.throws(() => loadOrCreateMasterKey(dir.path), /readable by other users .* chmod 600/);
    } finally {
      dir.remove();
    }
  });

  it('seal/open round-trips, uses a fresh IV, and detects tampering and a wrong context', () => {
    const key = Buffer.alloc(32, 7);
    const a = seal(key, 'sekrit ☃', 'config:1:A');
    const b = seal(key, 'sekrit ☃', 'config:1:A');
    assert.notDeepEqual(a, b);
    assert.equal(open(key, a, 'config:1:A'), 'sekrit ☃');
    assert.throws(() => open(key, a, 'config:2:A'));
    const tampered = Buffer.from(a);
    tampered[tampered.length - 1]! ^= 1;
    assert.throws(() => open(key, tampered, 'config:1:A'));
    assert.throws(() => open(Buffer.alloc(32, 8), a, 'config:1:A'));
  });
});

describe('deploy state machine', () => {
  it('matches the issue: forward path, FAILED/CANCELLED from the first three, LIVE → SUPERSEDED', () => {
    // QUEUED → RELEASING: a release made without a build (config change, rollback).
    assert.deepEqual(DEPLOY_TRANSITIONS.QUEUED, ['BUILDING', 'RELEASING', 'FAILED', 'CANCELLED']);
    assert.deepEqual(DEPLOY_TRANSITIONS.BUILDING, ['RELEASING', 'FAILED', 'CANCELLED']);
    assert.deepEqual(DEPLOY_TRANSITIONS.RELEASING, ['LIVE', 'FAILED', 'CANCELLED']);
    assert.deepEqual(DEPLOY_TRANSITIONS.LIVE, ['SUPERSEDED']);
    for (const end of ['SUPERSEDED', 'FAILED', 'CANCELLED'] as const) assert.deepEqual(DEPLOY_TRANSITIONS[end], []);
    assert.equal(DEPLOY_STATES.length, 7);
  });
  it('illegal transitions throw a typed error', () => {
    assert.throws(() => assertTransition(5, 'LIVE', 'BUILDING'), (err: unknown) => isShipoffError(err, 'SHIPOFF_ILLEGAL_TRANSITION') && /deploy 5 cannot go from LIVE to BUILDING/.test(err.message));
  });
});

describe('errors catalogue', () => {
  it('every code has an exit status and an HTTP status', () => {
    for (const [code, entry] of Object.entries(ERRORS)) {
      assert.match(code, /^SHIPOFF_[A-Z_]+$/);
      assert.ok(entry.exit > 0 && entry.exit < 128, code);
      assert.ok(entry.http >= 400 && entry.http < 600, code);
    }
    const err = new ShipoffError('SHIPOFF_APP_NOT_FOUND', { app: 'foo' });
    assert.equal(err.message, 'App foo does not exist');
    assert.equal(err.exitCode, 66);
    assert.equal(err.httpStatus, 404);
  });
});

describe('command registry', () => {
  const command = (name: string): Command => ({ name, group: 'g', summary: 's', usage: 'A', arity: [1, 1], needsStore: false, options: { json: { type: 'boolean' } }, run: async () => {} });

  it('refuses duplicate and malformed names', () => {
    const r = new CommandRegistry().register(command('apps:list'));
    assert.throws(() => r.register(command('apps:list')), /registered twice/);
    assert.throws(() => r.register(command('Apps:List')), /not namespace:verb/);
    assert.throws(() => r.get('apps:lisst'), (err: unknown) => isShipoffError(err, 'SHIPOFF_UNKNOWN_COMMAND'));
  });

  it('parses argv without a shell and checks arity', () => {
    const c = command('x:y');
    assert.deepEqual(parseCommandArgs(c, ['$(id);rm -rf /', '--json']), { positionals: ['$(id);rm -rf /'], values: { json: true } });
    assert.equal(parseCommandArgs(c, ['--help']), undefined);
    assert.throws(() => parseCommandArgs(c, []), /missing argument/);
    assert.throws(() => parseCommandArgs(c, ['a', 'b']), /unexpected argument "b"/);
    assert.throws(() => parseCommandArgs(c, ['a', '--nope']), (err: unknown) => isShipoffError(err, 'SHIPOFF_USAGE'));
  });
});
