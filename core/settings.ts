// The host's configuration: environment variables with defaults, validated
// once at start so a bad value stops the host with a clear message instead of
// failing somewhere later.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ShipoffError } from './errors.js';
import { isValidHostname } from './names.js';

export interface Settings {
  /** Where the host keeps everything: repositories, the embedded database, the master key. */
  dataDir: string;
  /** Base domain: apps answer at http://APP.<domain>:<httpPort>/. */
  domain: string;
  httpPort: number;
  /** HTTPS listener of the router, for custom domains with a certificate (SNI); 0 picks a free port. */
  httpsPort: number;
  sshPort: number;
  /** An external PostgreSQL server; undefined means the embedded one. */
  databaseUrl: string | undefined;
  /** Builds that may run at once across apps. */
  buildConcurrency: number;
  /** Limits of one build container. */
  buildMemoryBytes: number;
  /** CPUs one build may use; undefined = no limit. */
  buildCpus: number | undefined;
  /** Default build timeout; an app's builds:set timeout overrides it. */
  buildTimeoutSeconds: number;
  /** CA bundle build containers trust; undefined = the host's bundle, null = none. */
  buildCaBundle: string | null | undefined;
  /** Seconds an app may take to start answering a request (or between two chunks of its answer) before the router says 504. */
  upstreamTimeoutSeconds: number;
}

export interface SettingDoc {
  name: string;
  default: string;
  description: string;
}

export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  // As root the embedded database runs as a dedicated system user, which
  // cannot enter /root; a system-wide location works for both.
  if (process.getuid?.() === 0) return '/var/lib/shipoff';
  const base = env.XDG_DATA_HOME || path.join(os.homedir(), '.local', 'share');
  return path.join(base, 'shipoff');
}

export const SETTING_DOCS: readonly SettingDoc[] = [
  { name: 'SHIPOFF_DATA', default: '/var/lib/shipoff as root, else ~/.local/share/shipoff', description: 'data directory: git repositories, build caches, the embedded database, the master key' },
  { name: 'SHIPOFF_DOMAIN', default: 'localhost', description: 'base domain; an app answers at http://APP.<domain>:<port>/' },
  { name: 'SHIPOFF_HTTP_PORT', default: '8080', description: 'port of the router (apps, git over HTTP, /healthz); 0 picks a free one' },
  { name: 'SHIPOFF_HTTPS_PORT', default: '8443', description: 'HTTPS port of the router: custom domains (domains:add) with a certificate (certs:add), chosen by SNI; 0 picks a free one' },
  { name: 'SHIPOFF_SSH_PORT', default: '2222', description: 'port of the SSH server (git push, admin commands); 0 picks a free one' },
  { name: 'SHIPOFF_BUILD_CONCURRENCY', default: '2', description: 'builds that may run at once across apps (pushes beyond it wait their turn)' },
  { name: 'SHIPOFF_BUILD_MEMORY', default: '1g', description: 'memory limit of one build container (like 512m, 2g)' },
  { name: 'SHIPOFF_BUILD_CPUS', default: '(unset: no limit)', description: 'CPUs one build may use (like 1.5)' },
  { name: 'SHIPOFF_BUILD_TIMEOUT', default: '600', description: 'seconds a build may run; per app: shipoff builds:set APP timeout SECONDS' },
  { name: 'SHIPOFF_BUILD_CA_BUNDLE', default: '/etc/ssl/certs/ca-certificates.crt if present', description: 'CA certificates builds trust (for TLS-inspecting proxies); "none" for only the stack\'s own' },
  { name: 'SHIPOFF_UPSTREAM_TIMEOUT', default: '60', description: 'seconds an app may take to answer a request through the router before a 504' },
  { name: 'DATABASE_URL', default: '(unset: embedded PostgreSQL)', description: 'postgres://user:pass@host:port/db of an external PostgreSQL server' },
];

function bad(name: string, rule: string, value: string): ShipoffError {
  return new ShipoffError('SHIPOFF_BAD_ENV', { name, rule, value });
}

function parsePort(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d{1,5}$/.test(raw) || Number(raw) > 65535) {
    throw bad(name, 'must be a port number from 0 to 65535', raw);
  }
  return Number(raw);
}

function parseDatabaseUrl(raw: string | undefined): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw bad('DATABASE_URL', 'must be a URL like postgres://user:password@host:5432/shipoff', redact(raw));
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw bad('DATABASE_URL', 'must start with postgres:// or postgresql://', redact(raw));
  }
  return raw;
}

const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

function parseSize(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  const m = /^(\d{1,7})([kmg]?)b?$/i.exec(raw.trim());
  const bytes = m ? Number(m[1]) * SIZE_UNITS[m[2]!.toLowerCase()]! : NaN;
  if (!(bytes >= 128 * 1024 ** 2 && bytes <= 256 * 1024 ** 3)) throw bad(name, 'must be a size from 128m to 256g, like 512m or 2g', raw);
  return bytes;
}

function parseCpus(raw: string | undefined): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d{1,3}(\.\d{1,2})?$/.test(raw) || Number(raw) < 0.1 || Number(raw) > 256) {
    throw bad('SHIPOFF_BUILD_CPUS', 'must be a number of CPUs from 0.1 to 256, like 1.5', raw);
  }
  return Number(raw);
}

function parseWhole(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d{1,7}$/.test(raw) || Number(raw) < min || Number(raw) > max) throw bad(name, `must be a whole number from ${min} to ${max}`, raw);
  return Number(raw);
}

function parseCaBundle(raw: string | undefined): string | null | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (raw === 'none') return null;
  if (!path.isAbsolute(raw) || raw.includes('\0')) throw bad('SHIPOFF_BUILD_CA_BUNDLE', 'must be an absolute path to a PEM file, or none', raw);
  if (!fs.existsSync(raw)) throw bad('SHIPOFF_BUILD_CA_BUNDLE', 'must name a file that exists (or be none)', raw);
  return raw;
}

/** Never echo a password back into a terminal or a log. */
function redact(raw: string): string {
  return raw.replace(/(\/\/[^:/@]*:)[^@]*@/, '$1***@');
}

export function loadSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const rawData = env.SHIPOFF_DATA;
  if (rawData !== undefined && rawData.trim() === '') throw bad('SHIPOFF_DATA', 'must be a directory path', rawData);
  if (rawData !== undefined && rawData.includes('\0')) throw bad('SHIPOFF_DATA', 'must not contain NUL bytes', rawData);
  const dataDir = path.resolve(rawData ?? defaultDataDir(env));

  const domain = (env.SHIPOFF_DOMAIN ?? 'localhost').toLowerCase();
  if (!isValidHostname(domain)) {
    throw bad('SHIPOFF_DOMAIN', 'must be a host name such as localhost or apps.example.com', env.SHIPOFF_DOMAIN ?? '');
  }

  const httpPort = parsePort('SHIPOFF_HTTP_PORT', env.SHIPOFF_HTTP_PORT, 8080);
  const sshPort = parsePort('SHIPOFF_SSH_PORT', env.SHIPOFF_SSH_PORT, 2222);
  const httpsPort = parsePort('SHIPOFF_HTTPS_PORT', env.SHIPOFF_HTTPS_PORT, 8443);
  if (httpPort !== 0 && httpPort === sshPort) {
    throw bad('SHIPOFF_SSH_PORT', 'must differ from SHIPOFF_HTTP_PORT', String(sshPort));
  }
  if (httpsPort !== 0 && (httpsPort === httpPort || httpsPort === sshPort)) {
    throw bad('SHIPOFF_HTTPS_PORT', 'must differ from SHIPOFF_HTTP_PORT and SHIPOFF_SSH_PORT', String(httpsPort));
  }
  const rawConcurrency = env.SHIPOFF_BUILD_CONCURRENCY;
  let buildConcurrency = 2;
  if (rawConcurrency !== undefined && rawConcurrency !== '') {
    if (!/^\d{1,2}$/.test(rawConcurrency) || Number(rawConcurrency) < 1 || Number(rawConcurrency) > 64) {
      throw bad('SHIPOFF_BUILD_CONCURRENCY', 'must be a whole number from 1 to 64', rawConcurrency);
    }
    buildConcurrency = Number(rawConcurrency);
  }
  return {
    dataDir,
    domain,
    httpPort,
    httpsPort,
    sshPort,
    databaseUrl: parseDatabaseUrl(env.DATABASE_URL),
    buildConcurrency,
    buildMemoryBytes: parseSize('SHIPOFF_BUILD_MEMORY', env.SHIPOFF_BUILD_MEMORY, 1024 ** 3),
    buildCpus: parseCpus(env.SHIPOFF_BUILD_CPUS),
    buildTimeoutSeconds: parseWhole('SHIPOFF_BUILD_TIMEOUT', env.SHIPOFF_BUILD_TIMEOUT, 600, 10, 7200),
    buildCaBundle: parseCaBundle(env.SHIPOFF_BUILD_CA_BUNDLE),
    upstreamTimeoutSeconds: parseWhole('SHIPOFF_UPSTREAM_TIMEOUT', env.SHIPOFF_UPSTREAM_TIMEOUT, 60, 1, 3600),
  };
}
