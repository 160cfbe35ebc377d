// HTTPS certificates, Dokku style: one per app, served by the router's HTTPS
// listener (SHIPOFF_HTTPS_PORT) for each of the app's domains it covers,
// chosen by SNI. The private key is kept sealed under the master key.
//   certs:add    APP < chain-and-key.pem
//   certs:remove APP
//   certs:list   APP [--json]
import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { certificateCovers, type CertificateInfo, type NewCertificate, ShipoffError } from '../../core/index.js';
import { actorName, type Command, readStdin } from '../registry.js';
import { appForChange, appForRead } from './app-lookup.js';

const EXAMPLE = 'cat fullchain.pem privkey.pem | shipoff certs:add APP';
const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n[\s\S]*?\r?\n-----END \1-----/g;
const KEY_LABELS = new Set(['PRIVATE KEY', 'RSA PRIVATE KEY', 'EC PRIVATE KEY']);

const invalid = (reason: string): ShipoffError => new ShipoffError('SHIPOFF_CERT_INVALID', { reason });

/** The DNS names of a certificate's subjectAltName, lower case. */
function dnsNamesOf(cert: X509Certificate): string[] {
  const names = new Set<string>();
  for (const entry of (cert.subjectAltName ?? '').split(/,\s*/)) {
    const match = /^DNS:"?([^"]+)"?$/.exec(entry.trim());
    if (match) names.add(match[1]!.toLowerCase().replace(/\.$/, ''));
  }
  return [...names];
}

const subjectOf = (cert: X509Certificate, names: string[]): string => names[0] ?? (/CN=([^\n]+)/.exec(cert.subject)?.[1] ?? cert.subject.replace(/\n/g, ', '));

/**
 * Reads a PEM bundle (the certificate chain, leaf first, and one unencrypted
 * private key, in any order) and checks that it can serve HTTPS now: every
 * part parses, the key is the leaf's, each certificate is issued by the next,
 * it is valid today, and it names DNS hosts. Throws coded errors.
 */
export function parseCertificateBundle(text: string, now = new Date()): NewCertificate & { subject: string } {
  const certPems: string[] = [];
  const keyPems: string[] = [];
  for (const match of text.matchAll(PEM_BLOCK)) {
    const label = match[1]!;
    if (label === 'CERTIFICATE') certPems.push(match[0]);
    else if (KEY_LABELS.has(label)) keyPems.push(match[0]);
    else if (label === 'ENCRYPTED PRIVATE KEY') throw invalid('the private key is encrypted (decrypt it first: openssl pkey -in key.pem -out plain-key.pem)');
    else if (label !== 'EC PARAMETERS') throw invalid(`a "${label.slice(0, 40)}" block is neither a certificate nor a private key`);
  }
  if (certPems.length === 0) throw invalid('there is no "BEGIN CERTIFICATE" block');
  if (keyPems.length === 0) throw invalid('there is no "BEGIN PRIVATE KEY" block');
  if (keyPems.length > 1) throw invalid(`there are ${keyPems.length} private keys; give only the certificate's own`);

  const chain = certPems.map((pem, i) => {
    try {
      return new X509Certificate(pem);
    } catch (err) {
      throw invalid(`certificate ${i + 1} cannot be read (${(err as Error).message})`);
    }
  });
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPems[0]!);
  } catch (err) {
    throw invalid(`the private key cannot be read (${(err as Error).message})`);
  }
  const leaf = chain[0]!;
  const names = dnsNamesOf(leaf);
  const subject = subjectOf(leaf, names);
  let matches = false;
  try {
    matches = leaf.checkPrivateKey(key);
  } catch {
    matches = false; // a key of another type (RSA for an EC certificate) does not match either
  }
  if (!matches) throw new ShipoffError('SHIPOFF_CERT_KEY_MISMATCH', { subject });
  for (let i = 1; i < chain.length; i++) {
    if (!chain[i - 1]!.checkIssued(chain[i]!) || !chain[i - 1]!.verify(chain[i]!.publicKey)) {
      throw invalid(`certificate ${i + 1} did not issue certificate ${i}: give the leaf first, then each issuer in turn`);
    }
  }
  const notBefore = new Date(leaf.validFrom);
  const notAfter = new Date(leaf.validTo);
  if (Number.isNaN(notBefore.getTime()) || Number.isNaN(notAfter.getTime())) throw invalid('its validity dates cannot be read');
  if (notAfter.getTime() <= now.getTime()) throw new ShipoffError('SHIPOFF_CERT_EXPIRED', { subject, notAfter: notAfter.toISOString() });
  if (notBefore.getTime() > now.getTime()) throw new ShipoffError('SHIPOFF_CERT_NOT_YET_VALID', { subject, notBefore: notBefore.toISOString() });
  if (names.length === 0) throw invalid('it names no DNS host in its subjectAltName (browsers ignore the common name)');

  const certPem = certPems.join('\n') + '\n';
  const keyPem = keyPems[0]! + '\n';
  try {
    tls.createSecureContext({ cert: certPem, key: keyPem });
  } catch (err) {
    throw invalid(`TLS cannot use it (${(err as Error).message})`);
  }
  return { certPem, keyPem, names, fingerprint: leaf.fingerprint256, notBefore, notAfter, subject };
}

const day = (d: Date): string => d.toISOString().slice(0, 10);

export const certsAdd: Command = {
  name: 'certs:add',
  group: 'certs',
  summary: "Give an app a certificate: its domains that it covers answer over HTTPS",
  usage: 'APP < chain-and-key.pem',
  description: `Reads the PEM certificate chain (leaf first) and its unencrypted private key,
concatenated, from stdin. Refused unless everything parses, the key is the
certificate's, each certificate is issued by the next, it is valid now, and
it covers at least one of the app's domains (subjectAltName DNS names;
*.example.com covers one label under example.com). Replaces the app's
certificate; routers use the new one within a moment, without a restart.
Example: ${EXAMPLE}
Needs the admin or owner role on the app.`,
  arity: [1, 1],
  needsStore: true,
  async run(ctx, args) {
    const [appName] = args.positionals as [string];
    const text = await readStdin(ctx, 'the certificate chain and private key (PEM)', EXAMPLE);
    const { covered, uncovered, cert } = await ctx.store.transaction(async (tx) => {
      const app = await appForChange(ctx, tx, appName);
      const cert = parseCertificateBundle(text);
      const domains = (await tx.domains.list(app.id)).map((d) => d.domain);
      const covered = domains.filter((d) => certificateCovers(cert.names, d));
      if (covered.length === 0) {
        throw new ShipoffError('SHIPOFF_CERT_NO_DOMAIN', { app: app.name, names: cert.names.join(', '), domains: domains.join(', ') || 'it has none' });
      }
      await tx.domains.setCertificate(app.id, cert);
      await tx.audit.record({
        actor: actorName(ctx.actor),
        app: app.name,
        action: 'certs:add',
        details: { names: cert.names, fingerprint: cert.fingerprint, notAfter: cert.notAfter.toISOString(), covers: covered },
      });
      return { covered, uncovered: domains.filter((d) => !covered.includes(d)), cert };
    });
    ctx.stdout.write(`-----> Certificate for ${cert.names.join(', ')} (valid until ${day(cert.notAfter)}) added to ${appName}\n`);
    ctx.stdout.write(`       HTTPS: ${covered.join(', ')}\n`);
    if (uncovered.length > 0) ctx.stdout.write(`       not covered, HTTP only: ${uncovered.join(', ')}\n`);
  },
};

export const certsRemove: Command = {
  name: 'certs:remove',
  group: 'certs',
  summary: "Remove an app's certificate: its domains answer over HTTP only",
  usage: 'APP',
  description: 'Needs the admin or owner role on the app.',
  arity: [1, 1],
  needsStore: true,
  async run(ctx, args) {
    const [appName] = args.positionals as [string];
    await ctx.store.transaction(async (tx) => {
      const app = await appForChange(ctx, tx, appName);
      const had = await tx.domains.certificate(app.id);
      if (!had || !(await tx.domains.removeCertificate(app.id))) throw new ShipoffError('SHIPOFF_CERT_NOT_FOUND', { app: app.name });
      await tx.audit.record({ actor: actorName(ctx.actor), app: app.name, action: 'certs:remove', details: { names: had.names, fingerprint: had.fingerprint } });
    });
    ctx.stdout.write(`-----> Removed the certificate of ${appName}\n`);
  },
};

function describeCert(cert: CertificateInfo, domains: string[]) {
  return {
    names: cert.names,
    fingerprint: cert.fingerprint,
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
    expired: cert.notAfter.getTime() <= Date.now(),
    covers: domains.filter((d) => certificateCovers(cert.names, d)),
    addedAt: cert.createdAt.toISOString(),
  };
}

export const certsList: Command = {
  name: 'certs:list',
  group: 'certs',
  summary: "Show an app's certificate: its names, validity and the domains it serves",
  usage: 'APP [--json]',
  description: 'Any role on the app will do.',
  options: { json: { type: 'boolean' } },
  arity: [1, 1],
  needsStore: true,
  async run(ctx, args) {
    const [appName] = args.positionals as [string];
    const { app, cert, domains } = await ctx.store.transaction(async (tx) => {
      const app = await appForRead(ctx, tx, appName);
      return { app, cert: await tx.domains.certificate(app.id), domains: (await tx.domains.list(app.id)).map((d) => d.domain) };
    });
    const info = cert && describeCert(cert, domains);
    if (args.values.json) {
      ctx.stdout.write(JSON.stringify({ app: app.name, certificate: info ?? null }, null, 2) + '\n');
      return;
    }
    if (!info) {
      ctx.stdout.write(`${app.name} has no certificate; add one with: ${EXAMPLE.replace('APP', app.name)}\n`);
      return;
    }
    ctx.stdout.write(
      [
        `=====> ${app.name} certificate`,
        `names:        ${info.names.join(', ')}`,
        `valid:        ${info.notBefore} to ${info.notAfter}${info.expired ? ' (EXPIRED)' : ''}`,
        `fingerprint:  ${info.fingerprint}`,
        `HTTPS for:    ${info.covers.join(', ') || '(none of its domains)'}`,
        '',
      ].join('\n'),
    );
  },
};

export const certCommands: Command[] = [certsAdd, certsRemove, certsList];
