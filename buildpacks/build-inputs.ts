// The host side of a build's inputs and outputs: one private temp directory
//   input/env/KEY      the app's config vars, one file per key (ENV_DIR)
//   input/build-env    build-only variables, NUL-separated KEY=VALUE
//   out/               where the driver leaves its results (see driver/build)
// removed after the build, whatever its outcome.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ShipoffError } from '../core/errors.js';

export const HOST_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
/** Where the host's CA bundle appears inside build containers. */
export const CONTAINER_CA_PATH = '/etc/shipoff/host-ca.crt';
const PROXY_VARIABLES = ['HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'no_proxy'] as const;
const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface BuildInputs {
  readonly dir: string;
  readonly inputDir: string;
  readonly outDir: string;
  /** A file the driver wrote to out/, or null when it did not (or it is not a file). */
  readOut(name: string): Promise<string | null>;
  remove(): Promise<void>;
}

/** The CA bundle to mount: the option as given, else the host's bundle when it exists. */
export function resolveCaBundle(option: string | null | undefined): string | null {
  if (option === null) return null;
  if (option === undefined) return existsSync(HOST_CA_BUNDLE) ? HOST_CA_BUNDLE : null;
  if (!existsSync(option)) throw new Error(`caBundle ${option} does not exist`);
  return option;
}

export function defaultProxyEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of PROXY_VARIABLES) {
    const value = env[name];
    if (value) out[name] = value;
  }
  return out;
}

/** Variables the build steps need and the release image must not keep:
 * every TLS client in the stack pointed at the host's CA bundle, and proxies. */
export function buildOnlyEnv(caBundle: string | null, proxyEnv: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = { ...proxyEnv };
  if (caBundle) {
    for (const name of ['SSL_CERT_FILE', 'NODE_EXTRA_CA_CERTS', 'npm_config_cafile', 'PIP_CERT', 'CURL_CA_BUNDLE', 'GIT_SSL_CAINFO']) {
      env[name] = CONTAINER_CA_PATH;
    }
  }
  return env;
}

function checkKey(key: string): void {
  if (!ENV_KEY.test(key)) {
    throw new ShipoffError('SHIPOFF_INVALID_CONFIG_KEY', { key, rule: 'use letters, digits and _, not starting with a digit' });
  }
}

export async function createBuildInputs(config: Record<string, string>, buildEnv: Record<string, string>): Promise<BuildInputs> {
  for (const key of [...Object.keys(config), ...Object.keys(buildEnv)]) checkKey(key);
  const dir = await mkdtemp(join(tmpdir(), 'shipoff-build-'));
  const inputDir = join(dir, 'input');
  const outDir = join(dir, 'out');
  const remove = () => rm(dir, { recursive: true, force: true });
  try {
    await mkdir(join(inputDir, 'env'), { recursive: true, mode: 0o700 });
    await mkdir(outDir, { mode: 0o700 });
    // 0600: config vars are secrets; only root (the driver) reads them here.
    for (const [key, value] of Object.entries(config)) {
      await writeFile(join(inputDir, 'env', key), value, { mode: 0o600 });
    }
    const lines = Object.entries(buildEnv).map(([k, v]) => `${k}=${v.replace(/\0/g, '')}\0`);
    await writeFile(join(inputDir, 'build-env'), lines.join(''), { mode: 0o600 });
  } catch (err) {
    await remove();
    throw err;
  }
  return {
    dir,
    inputDir,
    outDir,
    async readOut(name) {
      try {
        return await readFile(join(outDir, name), 'utf8');
      } catch {
        return null;
      }
    },
    remove,
  };
}
