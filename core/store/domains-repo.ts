// Custom domains (domains:add) and the certificates that serve them over
// HTTPS (certs:add). The domains live in the table the store has had since
// version 1; certificates are one per app, the private key sealed under the
// master key like config vars. Routers read everything at once
// (routingSnapshot) and read it again when told (LISTEN shipoff_domains).
import { ShipoffError } from '../errors.js';
import { open, seal } from '../secrets.js';
import { type Db, pgErrorOf, UNIQUE_VIOLATION } from './db.js';

/** The NOTIFY channel the store's triggers signal on whenever a domain, a certificate or an app's name changes. */
export const DOMAINS_CHANNEL = 'shipoff_domains';

export const CUSTOM_DOMAIN_RULE =
  'a DNS name of at least two labels (a-z, 0-9 and -, 1 to 63 characters each, not starting or ending with -), ' +
  'at most 253 characters, the last label not all digits; "*.example.com" stands for any one label under example.com';

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Why DOMAIN (lower case) is not a custom domain's syntax, or undefined when it is. */
export function customDomainProblem(domain: string): string | undefined {
  if (domain.length === 0 || domain.length > 253) return CUSTOM_DOMAIN_RULE;
  const labels = (domain.startsWith('*.') ? domain.slice(2) : domain).split('.');
  if (labels.length < 2 || !labels.every((l) => LABEL.test(l))) return CUSTOM_DOMAIN_RULE;
  // An IPv4 address is not a name a certificate or a Host header routes by.
  if (/^\d+$/.test(labels[labels.length - 1]!)) return CUSTOM_DOMAIN_RULE;
  return undefined;
}

/**
 * The domain as stored (lower case, no trailing dot), or a coded error: not a
 * DNS name (SHIPOFF_INVALID_DOMAIN), or one of the host's own names, i.e.
 * HOST_DOMAIN itself or anything under it (SHIPOFF_DOMAIN_RESERVED).
 */
export function normalizeCustomDomain(domain: string, hostDomain: string): string {
  const lower = domain.toLowerCase().replace(/\.$/, '');
  if (customDomainProblem(lower)) throw new ShipoffError('SHIPOFF_INVALID_DOMAIN', { domain: domain.slice(0, 300) });
  const bare = lower.startsWith('*.') ? lower.slice(2) : lower;
  const host = hostDomain.toLowerCase();
  if (bare === host || bare.endsWith('.' + host)) throw new ShipoffError('SHIPOFF_DOMAIN_RESERVED', { domain: lower, hostDomain: host });
  return lower;
}

/**
 * Does a certificate for NAMES (its subjectAltName DNS entries) cover HOST?
 * A name "*.example.com" covers exactly one label under example.com
 * (a.example.com, not example.com nor a.b.example.com), as TLS clients match.
 * A wildcard custom domain is covered only by the same wildcard.
 */
export function certificateCovers(names: readonly string[], host: string): boolean {
  const h = host.toLowerCase();
  const dot = h.indexOf('.');
  const parent = dot > 0 && !h.startsWith('*.') ? h.slice(dot + 1) : undefined;
  return names.some((n) => n === h || (parent !== undefined && n.startsWith('*.') && n.slice(2) === parent && parent.includes('.')));
}

export interface CustomDomain {
  domain: string;
  appId: number;
  createdAt: Date;
}

/** What is known of an app's certificate without opening its key. */
export interface CertificateInfo {
  appId: number;
  /** The PEM chain, leaf first. */
  certPem: string;
  names: string[];
  fingerprint: string;
  notBefore: Date;
  notAfter: Date;
  createdAt: Date;
}

export interface NewCertificate {
  certPem: string;
  keyPem: string;
  names: string[];
  fingerprint: string;
  notBefore: Date;
  notAfter: Date;
}

/** Everything a router needs, keys opened: domain → app name, app name → certificate. */
export interface DomainsSnapshot {
  domains: Array<{ domain: string; app: string }>;
  certificates: Array<{ app: string; certPem: string; keyPem: string; names: string[]; fingerprint: string }>;
}

/** Binds a sealed key to its app, so it cannot be moved to another one. */
const contextOf = (appId: number): string => `certificate-key:${appId}`;

interface CertRow {
  app_id: number;
  cert_pem: string;
  names: string[];
  fingerprint: string;
  not_before: Date;
  not_after: Date;
  created_at: Date;
}

const toInfo = (r: CertRow): CertificateInfo => ({
  appId: r.app_id,
  certPem: r.cert_pem,
  names: r.names,
  fingerprint: r.fingerprint,
  notBefore: r.not_before,
  notAfter: r.not_after,
  createdAt: r.created_at,
});

export class DomainsRepo {
  constructor(
    private readonly db: Db,
    private readonly masterKey: Buffer,
  ) {}

  /**
   * Gives DOMAIN (already normalized) to the app. Returns false when the app
   * had it already; SHIPOFF_DOMAIN_TAKEN when another app has it.
   */
  async add(appId: number, domain: string): Promise<boolean> {
    try {
      const r = await this.db.query(
        `INSERT INTO domains (app_id, hostname) VALUES ($1, $2) ON CONFLICT (hostname) DO NOTHING`,
        [appId, domain],
      );
      if ((r.rowCount ?? 0) > 0) return true;
    } catch (err) {
      if (pgErrorOf(err)?.code !== UNIQUE_VIOLATION) throw err;
    }
    const owner = await this.db.query<{ app_id: number; name: string }>(
      'SELECT d.app_id, a.name FROM domains d JOIN apps a ON a.id = d.app_id WHERE d.hostname = $1',
      [domain],
    );
    const row = owner.rows[0];
    if (row && row.app_id === appId) return false;
    throw new ShipoffError('SHIPOFF_DOMAIN_TAKEN', { domain, app: row?.name ?? 'another app' });
  }

  /** Takes DOMAIN from the app; false when the app did not have it. */
  async remove(appId: number, domain: string): Promise<boolean> {
    const r = await this.db.query('DELETE FROM domains WHERE app_id = $1 AND hostname = $2', [appId, domain.toLowerCase()]);
    return (r.rowCount ?? 0) > 0;
  }

  async list(appId: number): Promise<CustomDomain[]> {
    const r = await this.db.query<{ hostname: string; app_id: number; created_at: Date }>(
      'SELECT hostname, app_id, created_at FROM domains WHERE app_id = $1 ORDER BY hostname',
      [appId],
    );
    return r.rows.map((row) => ({ domain: row.hostname, appId: row.app_id, createdAt: row.created_at }));
  }

  /** The name of the app DOMAIN belongs to (exactly as stored: no wildcard matching). */
  async ownerOf(domain: string): Promise<string | undefined> {
    const r = await this.db.query<{ name: string }>('SELECT a.name FROM domains d JOIN apps a ON a.id = d.app_id WHERE d.hostname = $1', [domain.toLowerCase()]);
    return r.rows[0]?.name;
  }

  // --- certificates -----------------------------------------------------------

  /** Sets the app's certificate (replacing the one it had). The caller has validated it. */
  async setCertificate(appId: number, cert: NewCertificate): Promise<void> {
    await this.db.query(
      `INSERT INTO certificates (app_id, cert_pem, key_sealed, names, fingerprint, not_before, not_after)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (app_id) DO UPDATE SET cert_pem = EXCLUDED.cert_pem, key_sealed = EXCLUDED.key_sealed, names = EXCLUDED.names,
         fingerprint = EXCLUDED.fingerprint, not_before = EXCLUDED.not_before, not_after = EXCLUDED.not_after, created_at = now()`,
      [appId, cert.certPem, seal(this.masterKey, cert.keyPem, contextOf(appId)), cert.names, cert.fingerprint, cert.notBefore, cert.notAfter],
    );
  }

  async certificate(appId: number): Promise<CertificateInfo | undefined> {
    const r = await this.db.query<CertRow>(
      'SELECT app_id, cert_pem, names, fingerprint, not_before, not_after, created_at FROM certificates WHERE app_id = $1',
      [appId],
    );
    return r.rows[0] && toInfo(r.rows[0]);
  }

  /** Removes the app's certificate; false when it had none. */
  async removeCertificate(appId: number): Promise<boolean> {
    const r = await this.db.query('DELETE FROM certificates WHERE app_id = $1', [appId]);
    return (r.rowCount ?? 0) > 0;
  }

  /**
   * Every custom domain and every certificate, keys opened, read in one
   * snapshot. A key that cannot be opened (another master key) is left out
   * and reported through onUnreadable, so one bad row does not stop the rest.
   */
  async routingSnapshot(onUnreadable?: (app: string, err: ShipoffError) => void): Promise<DomainsSnapshot> {
    return this.db.tx(async (tx) => {
      await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const domains = await tx.query<{ hostname: string; name: string }>(
        'SELECT d.hostname, a.name FROM domains d JOIN apps a ON a.id = d.app_id ORDER BY d.hostname',
      );
      const certs = await tx.query<{ app_id: number; name: string; cert_pem: string; key_sealed: Buffer; names: string[]; fingerprint: string }>(
        'SELECT c.app_id, a.name, c.cert_pem, c.key_sealed, c.names, c.fingerprint FROM certificates c JOIN apps a ON a.id = c.app_id ORDER BY a.name',
      );
      const certificates: DomainsSnapshot['certificates'] = [];
      for (const row of certs.rows) {
        try {
          const keyPem = open(this.masterKey, row.key_sealed, contextOf(row.app_id));
          certificates.push({ app: row.name, certPem: row.cert_pem, keyPem, names: row.names, fingerprint: row.fingerprint });
        } catch (err) {
          onUnreadable?.(row.name, new ShipoffError('SHIPOFF_SECRET_UNREADABLE', { what: `the private key of ${row.name}'s certificate` }, { cause: err }));
        }
      }
      return { domains: domains.rows.map((r) => ({ domain: r.hostname, app: r.name })), certificates };
    });
  }
}
