// Custom domains and HTTPS on a running host: domains:* and certs:* through
// the real CLI (and, for roles, the same commands run as users with a role),
// then a pushed app requested by its custom domain over HTTP (Host header)
// and HTTPS (SNI, a self-signed certificate made here with openssl). Real
// Docker, real PostgreSQL, real TLS; nothing is mocked.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { adminCommands, type CommandContext, parseCommandArgs } from '../admin/index.js';
import { isShipoffError, loadSettings, openStore, type Store, type User } from '../core/index.js';
import { startPushingHost, type PushingHost } from './helpers/pushing-host.js';

const run = `d${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
const APP = `dom-${run}`;
const OTHER = `other-${run}`;
const DOMAIN = `www.${run}.example.test`;
const WILD = `*.wild-${run}.example.test`;

// No dependencies; tells what the router sent it.
const SERVER_JS = `const http = require('http');
http.createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({
    app: 'dom',
    host: req.headers.host,
    proto: req.headers['x-forwarded-proto'],
    port: req.headers['x-forwarded-port'],
    fhost: req.headers['x-forwarded-host'],
  }));
}).listen(process.env.PORT);
`;
const FILES = {
  'package.json': JSON.stringify({ name: 'dom', version: '1.0.0', private: true, scripts: { start: 'node server.js' } }) + '\n',
  'server.js': SERVER_JS,
};

interface Pem {
  cert: string;
  key: string;
}

/** A self-signed P-256 certificate for NAMES (subjectAltName), valid 30 days, made by openssl. */
function selfSigned(dir: string, tag: string, names: string[]): Pem {
  const cert = path.join(dir, `${tag}.crt`);
  const key = path.join(dir, `${tag}.key`);
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-subj', `/CN=${names[0]}`, '-addext', `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}`,
    '-days', '30', '-keyout', key, '-out', cert,
  ], { stdio: 'pipe' });
  return { cert: fs.readFileSync(cert, 'utf8'), key: fs.readFileSync(key, 'utf8') };
}

/**
 * A certificate that expired in 2020. This OpenSSL (3.0) has no -not_before /
 * -not_after (3.4+) and refuses a negative -days, so `openssl ca -selfsign`
 * with -startdate/-enddate signs it, from a throwaway CA database.
 */
function expired(dir: string, name: string): Pem {
  const ca = fs.mkdtempSync(path.join(dir, 'ca-'));
  const key = path.join(ca, 'key.pem');
  const csr = path.join(ca, 'req.csr');
  const cert = path.join(ca, 'cert.pem');
  fs.writeFileSync(path.join(ca, 'index.txt'), '');
  fs.writeFileSync(path.join(ca, 'serial'), '01\n');
  fs.writeFileSync(
    path.join(ca, 'ca.cnf'),
    `[ ca ]\ndefault_ca = d\n[ d ]\ndatabase = ${ca}/index.txt\nnew_certs_dir = ${ca}\nserial = ${ca}/serial\ndefault_md = sha256\npolicy = p\ncopy_extensions = copy\n[ p ]\ncommonName = supplied\n`,
  );
  execFileSync('openssl', [
    'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-subj', `/CN=${name}`, '-addext', `subjectAltName=DNS:${name}`, '-keyout', key, '-out', csr,
  ], { stdio: 'pipe' });
  execFileSync('openssl', [
    'ca', '-batch', '-notext', '-config', path.join(ca, 'ca.cnf'), '-selfsign', '-keyfile', key, '-in', csr, '-out', cert,
    '-startdate', '20200101000000Z', '-enddate', '20200201000000Z',
  ], { stdio: 'pipe' });
  return { cert: fs.readFileSync(cert, 'utf8'), key: fs.readFileSync(key, 'utf8') };
}

interface Answer {
  status: number;
  body: string;
  json?: Record<string, string>;
  peerFingerprint?: string;
}

function collect(res: http.IncomingMessage, resolve: (a: Answer) => void, peerFingerprint?: string): void {
  let body = '';
  res.setEncoding('utf8');
  res.on('data', (c: string) => (body += c));
  res.on('end', () => {
    let json: Record<string, string> | undefined;
    try {
      json = JSON.parse(body) as Record<string, string>;
    } catch {
      json = undefined;
    }
    resolve({ status: res.statusCode ?? 0, body, ...(json ? { json } : {}), ...(peerFingerprint ? { peerFingerprint } : {}) });
  });
}

function httpGet(port: number, hostHeader: string, urlPath = '/'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, headers: { host: hostHeader }, agent: false }, (res) => collect(res, resolve));
    req.on('error', reject);
    req.setTimeout(30_000, () => req.destroy(new Error('timeout')));
  });
}

/** GET over TLS with SNI SERVERNAME, trusting only CA; resolves with the answer and the certificate the server showed. */
function httpsGet(port: number, servername: string, ca: string, hostHeader = servername): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port, path: '/', servername, ca, headers: { host: hostHeader }, agent: false }, (res) => {
      const peer = (res.socket as import('node:tls').TLSSocket).getPeerCertificate();
      collect(res, resolve, peer.fingerprint256);
    });
    req.on('error', reject);
    req.setTimeout(30_000, () => req.destroy(new Error('timeout')));
  });
}

async function eventually<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const code = (stderr: string): string | undefined => / \[(SHIPOFF_[A-Z_]+)\]/.exec(stderr)?.[1];

describe('custom domains and HTTPS', { timeout: 400_000 }, () => {
  let host: PushingHost;
  let httpsPort: number;
  let store: Store;
  let certDir: string;
  let good: Pem;

  /** Runs a command in this process as USER, the way SSH runs it: the registry, a real store. */
  async function runAs(user: User, argv: string[], stdin = ''): Promise<{ stdout: string }> {
    const registry = adminCommands();
    const command = registry.get(argv[0]!);
    const args = parseCommandArgs(command, argv.slice(1))!;
    const out = new PassThrough();
    let stdout = '';
    out.on('data', (b: Buffer) => (stdout += b.toString()));
    const ctx: CommandContext = {
      settings: loadSettings(host.env),
      actor: { kind: 'user', user },
      stdin: Readable.from([Buffer.from(stdin)]),
      stdout: out,
      stderr: new PassThrough(),
      store,
      host: undefined as never, // domains and certs need only the store
      signal: new AbortController().signal,
    };
    await command.run(ctx, args);
    return { stdout };
  }

  async function auditCount(app: string): Promise<number> {
    return (await store.audit.list({ app, limit: 1000 })).length;
  }

  before(async () => {
    host = await startPushingHost('domains');
    const port = /HTTPS:\s+port (\d+)/.exec(host.output())?.[1];
    assert.ok(port, `the banner names the HTTPS port:\n${host.output()}`);
    httpsPort = Number(port);
    assert.notEqual(httpsPort, host.httpPort);
    store = await openStore({ dataDir: host.dataDir, databaseUrl: undefined }, { poolSize: 2 });
    certDir = path.join(host.scratch, 'certs');
    fs.mkdirSync(certDir);
    good = selfSigned(certDir, 'good', [DOMAIN]);
    const pushed = await host.pushApp(APP, FILES);
    assert.equal(pushed.code, 0, pushed.output);
    await store.apps.create(OTHER);
  });

  after(async () => {
    await store?.close();
    await host?.close();
  });

  it('every command has --help', async () => {
    for (const name of ['domains:add', 'domains:remove', 'domains:list', 'certs:add', 'certs:remove', 'certs:list']) {
      const r = await host.shipoff([name, '--help']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^Usage: shipoff ${name} APP`));
    }
    const help = await host.shipoff(['domains:add', '--help']);
    assert.match(help.stdout, /at least two labels/);
  });

  it('an unknown host name answers the 404 page', async () => {
    const r = await httpGet(host.httpPort, `nowhere-${run}.example.test`);
    assert.equal(r.status, 404);
    assert.match(r.body, /No app answers at nowhere-/);
  });

  it('domains:add gives the app a domain (lower-cased), once; domains:list shows it; the change is audited', async () => {
    const audits = await auditCount(APP);
    const r = await host.shipoff(['domains:add', APP, DOMAIN.toUpperCase()]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `-----> Added ${DOMAIN} to ${APP}\n`);
    const again = await host.shipoff(['domains:add', APP, DOMAIN]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /already answers at .*nothing changed/);
    const list = await host.shipoff(['domains:list', APP, '--json']);
    assert.equal(list.code, 0, list.stderr);
    const parsed = JSON.parse(list.stdout) as { app: string; default: string; domains: Array<{ domain: string; https: boolean }> };
    assert.equal(parsed.app, APP);
    assert.equal(parsed.default, `${APP}.localhost`);
    assert.deepEqual(parsed.domains.map((d) => [d.domain, d.https]), [[DOMAIN, false]]);
    const text = await host.shipoff(['domains:list', APP]);
    assert.match(text.stdout, new RegExp(`${DOMAIN.replace(/\./g, '\\.')}\\s+http\\n`));
    assert.equal(await auditCount(APP), audits + 1, 'one record: the repeated add changed nothing');
    const [last] = await store.audit.list({ app: APP, limit: 1 });
    assert.equal(last!.action, 'domains:add');
    assert.deepEqual(last!.details, { domain: DOMAIN });
  });

  it('the app answers at its custom domain over HTTP, with the forwarded headers of HTTP', async () => {
    const r = await eventually('the router to know the domain', async () => {
      const a = await httpGet(host.httpPort, `${DOMAIN}:${host.httpPort}`);
      return a.status === 200 ? a : undefined;
    });
    assert.equal(r.json?.app, 'dom');
    assert.equal(r.json?.proto, 'http');
    assert.equal(r.json?.port, String(host.httpPort));
    assert.equal(r.json?.fhost, `${DOMAIN}:${host.httpPort}`);
    // Its own name still works.
    assert.equal((await host.get(APP)).status, 200);
  });

  it('a wildcard domain answers for one label under it, not for two', async () => {
    const added = await host.shipoff(['domains:add', APP, WILD]);
    assert.equal(added.code, 0, added.stderr);
    const base = WILD.slice(2);
    const r = await eventually('the wildcard', async () => {
      const a = await httpGet(host.httpPort, `shop.${base}`);
      return a.status === 200 ? a : undefined;
    });
    assert.equal(r.json?.app, 'dom');
    assert.equal((await httpGet(host.httpPort, `a.b.${base}`)).status, 404);
    assert.equal((await httpGet(host.httpPort, base)).status, 404);
    const removed = await host.shipoff(['domains:remove', APP, WILD]);
    assert.equal(removed.code, 0, removed.stderr);
  });

  it('refuses bad domains, the host\'s own names, a taken domain and unknown apps, changing nothing', async () => {
    const taken = `taken.${run}.example.test`;
    await store.domains.add((await store.apps.get(OTHER)).id, taken);
    const before = await host.shipoff(['domains:list', APP, '--json']);
    const audits = await auditCount(APP);
    const cases: Array<[string[], number, string, RegExp?]> = [
      [['domains:add', APP, 'not a domain'], 65, 'SHIPOFF_INVALID_DOMAIN', /"not a domain" is not a valid domain name/],
      [['domains:add', APP, 'single'], 65, 'SHIPOFF_INVALID_DOMAIN'],
      [['domains:add', APP, '--', '-bad.example.com'], 65, 'SHIPOFF_INVALID_DOMAIN'],
      [['domains:add', APP, 'bad-.example.com'], 65, 'SHIPOFF_INVALID_DOMAIN'],
      [['domains:add', APP, 'a..b.example.com'], 65, 'SHIPOFF_INVALID_DOMAIN'],
      [['domains:add', APP, 'under_score.example.com'], 65, 'SHIPOFF_INVALID_DOMAIN'],
      [['domains:add', APP, `${'x'.repeat(64)}.example.com`], 65, 'SHIPOFF_INVALID_DOMAIN'],
      [['domains:add', APP, `${'abcdefghi.'.repeat(25)}example.com`], 65, 'SHIPOFF_INVALID_DOMAIN'],
      [['domains:add', APP, '10.0.0.1'], 65, 'SHIPOFF_INVALID_DOMAIN'],
      [['domains:add', APP, '*.com'], 65, 'SHIPOFF_INVALID_DOMAIN'],
      [['domains:add', APP, 'a.*.example.com'], 65, 'SHIPOFF_INVALID_DOMAIN'],
      [['domains:add', APP, `x.${APP}.localhost`], 65, 'SHIPOFF_DOMAIN_RESERVED', /one of this host's own names \(under localhost\)/],
      [['domains:add', APP, 'api.localhost'], 65, 'SHIPOFF_DOMAIN_RESERVED'],
      [['domains:add', APP, '*.localhost'], 65, 'SHIPOFF_INVALID_DOMAIN'], // a wildcard needs two labels under it
      [['domains:add', APP, `*.${APP}.localhost`], 65, 'SHIPOFF_DOMAIN_RESERVED'],
      [['domains:add', APP, taken.toUpperCase()], 65, 'SHIPOFF_DOMAIN_TAKEN', new RegExp(`domain ${taken.replace(/\./g, '\\.')} is already used by app ${OTHER}`)],
      [['domains:add', `nope-${run}`, `x.${run}.example.test`], 66, 'SHIPOFF_APP_NOT_FOUND', /App nope-.* does not exist/],
      [['domains:add', 'Bad_App', `x.${run}.example.test`], 65, 'SHIPOFF_INVALID_APP_NAME'],
      [['domains:remove', APP, `absent.${run}.example.test`], 66, 'SHIPOFF_DOMAIN_NOT_FOUND'],
      [['domains:remove', APP, taken], 66, 'SHIPOFF_DOMAIN_NOT_FOUND'],
      [['domains:list', `nope-${run}`], 66, 'SHIPOFF_APP_NOT_FOUND'],
      [['domains:add', APP], 64, 'SHIPOFF_USAGE'],
    ];
    for (const [argv, status, errorCode, message] of cases) {
      const r = await host.shipoff(argv);
      assert.equal(r.code, status, `${argv.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.equal(code(r.stderr), errorCode, `${argv.join(' ')}: ${r.stderr}`);
      if (message) assert.match(r.stderr, message);
      assert.equal(r.stdout, '');
    }
    assert.equal((await host.shipoff(['domains:list', APP, '--json'])).stdout, before.stdout);
    assert.equal(await store.domains.ownerOf(taken), OTHER, 'the taken domain stays with its app');
    assert.equal(await auditCount(APP), audits);
  });

  it('needs the admin role on the app to change domains and certificates; any role may list', async () => {
    const app = await store.apps.get(APP);
    const keyOf = (name: string): string => {
      const file = path.join(host.scratch, `id_${name}`);
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `${name}@test`, '-f', file]);
      return fs.readFileSync(file + '.pub', 'utf8');
    };
    const viewer = (await store.users.addKey(`viewer-${run}`, keyOf('viewer'))).user;
    const stranger = (await store.users.addKey(`stranger-${run}`, keyOf('stranger'))).user;
    const admin = (await store.users.addKey(`appadmin-${run}`, keyOf('appadmin'))).user;
    assert.equal(viewer.isAdmin, false);
    await store.apps.grant(app.id, viewer.id, 'viewer');
    await store.apps.grant(app.id, admin.id, 'admin');
    const extra = `viewer.${run}.example.test`;
    const audits = await auditCount(APP);

    for (const argv of [['domains:add', APP, extra], ['domains:remove', APP, DOMAIN], ['certs:add', APP], ['certs:remove', APP]]) {
      await assert.rejects(runAs(viewer, argv, good.cert + good.key), (err: unknown) => {
        assert.ok(isShipoffError(err, 'SHIPOFF_ROLE_REQUIRED'), String(err));
        assert.equal(err.exitCode, 77);
        assert.match(err.message, /needs the admin role/);
        return true;
      }, argv.join(' '));
      await assert.rejects(runAs(stranger, argv, good.cert + good.key), (err: unknown) => isShipoffError(err, 'SHIPOFF_APP_NOT_FOUND'), argv.join(' '));
    }
    const listed = await runAs(viewer, ['domains:list', APP, '--json']);
    assert.deepEqual((JSON.parse(listed.stdout) as { domains: Array<{ domain: string }> }).domains.map((d) => d.domain), [DOMAIN]);
    await assert.rejects(runAs(stranger, ['domains:list', APP]), (err: unknown) => isShipoffError(err, 'SHIPOFF_APP_NOT_FOUND'));
    assert.equal(await auditCount(APP), audits, 'refused commands leave no record');

    // The app's admin may.
    await runAs(admin, ['domains:add', APP, extra]);
    await runAs(admin, ['domains:remove', APP, extra]);
    const records = await store.audit.list({ app: APP, limit: 2 });
    assert.deepEqual(records.map((r) => [r.action, r.actor]), [['domains:remove', admin.name], ['domains:add', admin.name]]);
  });

  it('over HTTPS, a name without a certificate fails the handshake and the host stays up', async () => {
    await assert.rejects(httpsGet(httpsPort, DOMAIN, good.cert), (err: Error) => {
      assert.match(String((err as NodeJS.ErrnoException).code ?? err.message), /ECONNRESET|ERR_SSL|EPROTO/);
      return true;
    });
    await assert.rejects(httpsGet(httpsPort, `nowhere-${run}.example.test`, good.cert));
    await assert.rejects(httpsGet(httpsPort, `${APP}.localhost`, good.cert), 'the host\'s own names are HTTP only');
    assert.equal((await httpGet(host.httpPort, 'localhost', '/healthz')).status, 200);
  });

  it('certs:add refuses what cannot serve: garbage, a mismatched key, an expired certificate, a certificate for other names', async () => {
    const other = selfSigned(certDir, 'other', [DOMAIN]);
    const elsewhere = selfSigned(certDir, 'elsewhere', [`elsewhere.${run}.example.test`]);
    const old = expired(certDir, DOMAIN);
    assert.ok(new Date(new X509Certificate(old.cert).validTo) < new Date(), 'the expired certificate is expired');
    const audits = await auditCount(APP);
    const cases: Array<[string, string, number, string, RegExp]> = [
      ['garbage', 'hello\n', 65, 'SHIPOFF_CERT_INVALID', /there is no "BEGIN CERTIFICATE" block/],
      ['no key', good.cert, 65, 'SHIPOFF_CERT_INVALID', /no "BEGIN PRIVATE KEY" block/],
      ['a broken certificate', good.cert.replace(/^(-----BEGIN CERTIFICATE-----\n.{10})./m, '$1!') + good.key, 65, 'SHIPOFF_CERT_INVALID', /certificate 1 cannot be read/],
      ['a mismatched key', good.cert + other.key, 65, 'SHIPOFF_CERT_KEY_MISMATCH', /does not belong to the certificate/],
      ['an expired certificate', old.cert + old.key, 65, 'SHIPOFF_CERT_EXPIRED', /expired on 2020-02-01/],
      ['a certificate for other names', elsewhere.cert + elsewhere.key, 65, 'SHIPOFF_CERT_NO_DOMAIN', new RegExp(`covers none of ${APP}'s domains \\(${DOMAIN.replace(/\./g, '\\.')}\\)`)],
    ];
    for (const [what, stdin, status, errorCode, message] of cases) {
      const r = await host.shipoff(['certs:add', APP], stdin);
      assert.equal(r.code, status, `${what}: ${r.stdout}${r.stderr}`);
      assert.equal(code(r.stderr), errorCode, `${what}: ${r.stderr}`);
      assert.match(r.stderr, message, what);
    }
    const unknown = await host.shipoff(['certs:add', `nope-${run}`], good.cert + good.key);
    assert.equal(unknown.code, 66);
    assert.equal(code(unknown.stderr), 'SHIPOFF_APP_NOT_FOUND');
    assert.equal(await store.domains.certificate((await store.apps.get(APP)).id), undefined, 'nothing stored');
    assert.equal(await auditCount(APP), audits);
  });

  it('certs:add serves the domain over HTTPS (SNI) with the HTTPS forwarded headers; the key is encrypted at rest', async () => {
    const audits = await auditCount(APP);
    // Key first, then the certificate: any order will do.
    const r = await host.shipoff(['certs:add', APP], good.key + good.cert);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`Certificate for ${DOMAIN.replace(/\./g, '\\.')} \\(valid until \\d{4}-\\d\\d-\\d\\d\\) added to ${APP}`));
    assert.match(r.stdout, new RegExp(`HTTPS: ${DOMAIN.replace(/\./g, '\\.')}`));
    assert.equal(await auditCount(APP), audits + 1);

    const a = await eventually('HTTPS for the domain', async () => httpsGet(httpsPort, DOMAIN, good.cert));
    assert.equal(a.status, 200, a.body);
    assert.equal(a.json?.app, 'dom');
    assert.equal(a.json?.proto, 'https');
    assert.equal(a.json?.port, String(httpsPort));
    assert.equal(a.peerFingerprint, new X509Certificate(good.cert).fingerprint256);
    // HTTP stays.
    assert.equal((await httpGet(host.httpPort, DOMAIN)).json?.proto, 'http');
    // No SNI (servername '' sends none): no certificate to choose, the handshake fails.
    await assert.rejects(httpsGet(httpsPort, '', good.cert, DOMAIN));

    const list = JSON.parse((await host.shipoff(['certs:list', APP, '--json'])).stdout) as { certificate: { names: string[]; covers: string[]; fingerprint: string; expired: boolean } };
    assert.deepEqual(list.certificate.names, [DOMAIN]);
    assert.deepEqual(list.certificate.covers, [DOMAIN]);
    assert.equal(list.certificate.expired, false);
    assert.equal(list.certificate.fingerprint, new X509Certificate(good.cert).fingerprint256);
    const domains = JSON.parse((await host.shipoff(['domains:list', APP, '--json'])).stdout) as { domains: Array<{ domain: string; https: boolean }> };
    assert.deepEqual(domains.domains.map((d) => [d.domain, d.https]), [[DOMAIN, true]]);

    const row = await store.db.query<{ key_sealed: Buffer }>('SELECT c.key_sealed FROM certificates c JOIN apps a ON a.id = c.app_id WHERE a.name = $1', [APP]);
    const sealed = row.rows[0]!.key_sealed;
    const keyBody = good.key.split('\n').filter((l) => l && !l.startsWith('-----')).join('');
    assert.ok(!sealed.toString('latin1').includes('PRIVATE KEY'));
    assert.ok(!sealed.toString('latin1').includes(keyBody.slice(0, 24)));
    assert.ok(!sealed.toString('base64').includes(keyBody.slice(0, 24)));
  });

  it('a new certificate replaces the old one in the router without a restart; certs:remove ends HTTPS', async () => {
    const renewed = selfSigned(certDir, 'renewed', [DOMAIN, `api.${run}.example.test`]);
    const r = await host.shipoff(['certs:add', APP], renewed.cert + renewed.key);
    assert.equal(r.code, 0, r.stderr);
    const fingerprint = new X509Certificate(renewed.cert).fingerprint256;
    const a = await eventually('the renewed certificate', async () => {
      const got = await httpsGet(httpsPort, DOMAIN, renewed.cert);
      return got.peerFingerprint === fingerprint ? got : undefined;
    });
    assert.equal(a.status, 200);

    const removed = await host.shipoff(['certs:remove', APP]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(removed.stdout, `-----> Removed the certificate of ${APP}\n`);
    await eventually('HTTPS to stop', async () => {
      try {
        await httpsGet(httpsPort, DOMAIN, renewed.cert);
        return undefined;
      } catch {
        return true;
      }
    });
    const again = await host.shipoff(['certs:remove', APP]);
    assert.equal(again.code, 66);
    assert.equal(code(again.stderr), 'SHIPOFF_CERT_NOT_FOUND');
    assert.match((await host.shipoff(['certs:list', APP])).stdout, /has no certificate/);
    assert.equal((await httpGet(host.httpPort, DOMAIN)).status, 200, 'HTTP is unaffected');
    const actions = (await store.audit.list({ app: APP, limit: 2 })).map((e) => e.action);
    assert.deepEqual(actions, ['certs:remove', 'certs:add']);
  });

  it('after domains:remove the domain answers 404', async () => {
    const r = await host.shipoff(['domains:remove', APP, DOMAIN.toUpperCase()]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `-----> Removed ${DOMAIN} from ${APP}\n`);
    const gone = await eventually('the domain to be gone', async () => {
      const a = await httpGet(host.httpPort, DOMAIN);
      return a.status === 404 ? a : undefined;
    });
    assert.match(gone.body, new RegExp(`No app answers at ${DOMAIN.replace(/\./g, '\\.')}`));
    assert.equal((await host.get(APP)).status, 200, 'the app still answers at its own name');
    const [last] = await store.audit.list({ app: APP, limit: 1 });
    assert.deepEqual([last!.action, last!.details], ['domains:remove', { domain: DOMAIN }]);
  });
});
