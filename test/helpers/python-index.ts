// A private Python package index for tests, since PyPI is unreachable here:
// buildWheels() writes small pure-Python wheels without any network or build
// tool (a wheel is a zip of the package's files plus NAME-VER.dist-info/
// {METADATA,WHEEL,RECORD}), and servePythonIndex() serves them as a PEP 503
// "simple" index over HTTP that build containers can reach.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface WheelSpec {
  /** Distribution name as users write it, e.g. `shipoff-greeting`. */
  name: string;
  version: string;
  /** Files inside the wheel, e.g. { 'shipoff_greeting/__init__.py': '...' }. */
  files: Record<string, string>;
  /** Requires-Dist entries (PEP 508), e.g. ['shipoff-colors>=2']. */
  requires?: string[];
  /** Console scripts: { command: 'module:function' }; pip writes them into bin/. */
  consoleScripts?: Record<string, string>;
}

export interface BuiltWheel {
  name: string;
  version: string;
  filename: string;
  path: string;
  /** `sha256:<hex>`, as lockfiles write it. */
  hash: string;
  size: number;
}

/** PEP 503 normalized project name: `Shipoff_Greeting` -> `shipoff-greeting`. */
export function normalizeName(name: string): string {
  return name.replace(/[-_.]+/g, '-').toLowerCase();
}

/** The name as it appears in wheel filenames and the .dist-info directory. */
function wheelName(name: string): string {
  return normalizeName(name).replace(/-/g, '_');
}

/** Writes one `.whl` per spec into `dir` (created if missing). */
export function buildWheels(dir: string, specs: readonly WheelSpec[]): BuiltWheel[] {
  fs.mkdirSync(dir, { recursive: true });
  return specs.map((spec) => buildWheel(dir, spec));
}

export function buildWheel(dir: string, spec: WheelSpec): BuiltWheel {
  const base = `${wheelName(spec.name)}-${spec.version}`;
  const distInfo = `${base}.dist-info`;
  const entries: Array<[string, Buffer]> = Object.entries(spec.files).map(([name, text]) => [name, Buffer.from(text)]);
  const metadata = ['Metadata-Version: 2.1', `Name: ${spec.name}`, `Version: ${spec.version}`, ...(spec.requires ?? []).map((r) => `Requires-Dist: ${r}`)];
  entries.push([`${distInfo}/METADATA`, Buffer.from(metadata.join('\n') + '\n')]);
  entries.push([`${distInfo}/WHEEL`, Buffer.from('Wheel-Version: 1.0\nGenerator: shipoff-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n')]);
  if (spec.consoleScripts && Object.keys(spec.consoleScripts).length > 0) {
    const lines = Object.entries(spec.consoleScripts).map(([cmd, target]) => `${cmd} = ${target}`);
    entries.push([`${distInfo}/entry_points.txt`, Buffer.from(`[console_scripts]\n${lines.join('\n')}\n`)]);
  }
  // RECORD lists every file with its urlsafe-base64 sha256, and itself without one.
  const record = entries.map(([name, data]) => `${name},sha256=${createHash('sha256').update(data).digest('base64url')},${data.length}`);
  record.push(`${distInfo}/RECORD,,`);
  entries.push([`${distInfo}/RECORD`, Buffer.from(record.join('\n') + '\n')]);

  const filename = `${base}-py3-none-any.whl`;
  const file = path.join(dir, filename);
  const zip = zipStored(entries);
  fs.writeFileSync(file, zip);
  return { name: spec.name, version: spec.version, filename, path: file, hash: `sha256:${createHash('sha256').update(zip).digest('hex')}`, size: zip.length };
}

// --- a minimal zip writer (stored entries, no compression) ---------------------

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(data: Buffer): number {
  let c = 0xffffffff;
  for (const byte of data) c = CRC_TABLE[(c ^ byte) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function zipStored(entries: ReadonlyArray<[string, Buffer]>): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  // 1980-01-01 00:00: a fixed timestamp makes the same spec give the same bytes (and hash).
  const dosTime = 0;
  const dosDate = (0 << 9) | (1 << 5) | 1;
  for (const [name, data] of entries) {
    const nameBuf = Buffer.from(name);
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(0, 8); // stored
    local.writeUInt16LE(dosTime, 10);
    local.writeUInt16LE(dosDate, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBuf.length, 26);
    local.writeUInt16LE(0, 28);
    parts.push(local, nameBuf, data);

    const dir = Buffer.alloc(46);
    dir.writeUInt32LE(0x02014b50, 0);
    dir.writeUInt16LE(0x031e, 4); // made by: Unix, spec 3.0
    dir.writeUInt16LE(20, 6);
    dir.writeUInt16LE(0x0800, 8);
    dir.writeUInt16LE(0, 10);
    dir.writeUInt16LE(dosTime, 12);
    dir.writeUInt16LE(dosDate, 14);
    dir.writeUInt32LE(crc, 16);
    dir.writeUInt32LE(data.length, 20);
    dir.writeUInt32LE(data.length, 24);
    dir.writeUInt16LE(nameBuf.length, 28);
    dir.writeUInt32LE((0o100644 << 16) >>> 0, 38); // external attributes: a regular file, rw-r--r--
    dir.writeUInt32LE(offset, 42);
    central.push(dir, nameBuf);
    offset += local.length + nameBuf.length + data.length;
  }
  const centralSize = central.reduce((n, b) => n + b.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(centralSize, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, ...central, end]);
}

// --- the index ---------------------------------------------------------------

export interface PythonIndex {
  /** The simple index as build containers reach it, e.g. http://172.17.0.1:41234/simple/ */
  url: string;
  /** The same index from the host itself (http://127.0.0.1:PORT/simple/). */
  hostUrl: string;
  /** host:port, for PIP_TRUSTED_HOST: pip ignores plain-HTTP indexes on other hosts than localhost. */
  trustedHost: string;
  /** Config vars that point a build's pip at this index. */
  env: { PIP_INDEX_URL: string; PIP_TRUSTED_HOST: string };
  /** Every request path served so far, in order (e.g. to see what a cached build downloaded). */
  requests: string[];
  close(): Promise<void>;
}

/** The address of the host on Docker's default bridge network, as seen from
 * containers on it (normally 172.17.0.1, the docker0 interface). */
export async function dockerBridgeGateway(): Promise<string> {
  const { stdout } = await run('docker', ['network', 'inspect', 'bridge', '--format', '{{json .}}']);
  const network = JSON.parse(stdout) as { IPAM?: { Config?: Array<{ Gateway?: string; Subnet?: string }> }; Options?: Record<string, string> };
  const config = network.IPAM?.Config ?? [];
  const gateway = config.find((c) => c.Gateway && /^\d+\.\d+\.\d+\.\d+$/.test(c.Gateway))?.Gateway;
  if (gateway) return gateway;
  // Newer engines may leave Gateway out: read the bridge interface's own address.
  const bridge = network.Options?.['com.docker.network.bridge.name'] ?? 'docker0';
  const address = os.networkInterfaces()[bridge]?.find((a) => a.family === 'IPv4')?.address;
  if (address) return address;
  const subnet = config.find((c) => c.Subnet && /^\d+\.\d+\.\d+\.\d+\//.test(c.Subnet))?.Subnet;
  if (subnet) return subnet.replace(/\.\d+\/\d+$/, '.1');
  throw new Error('cannot find the address of the host on the Docker bridge network');
}

/** Serves `wheels` as a PEP 503 simple index on 0.0.0.0 (a random port):
 * /simple/ lists projects, /simple/<name>/ links each file with its sha256,
 * /files/<filename> serves the file. Unknown projects get 404, as on PyPI. */
export async function servePythonIndex(wheels: readonly BuiltWheel[]): Promise<PythonIndex> {
  const byProject = new Map<string, BuiltWheel[]>();
  for (const wheel of wheels) {
    const key = normalizeName(wheel.name);
    byProject.set(key, [...(byProject.get(key) ?? []), wheel]);
  }
  const byFile = new Map(wheels.map((w) => [w.filename, w]));
  const requests: string[] = [];
  const html = (title: string, links: string[]): string =>
    `<!DOCTYPE html>\n<html><head><meta name="pypi:repository-version" content="1.0"><title>${title}</title></head><body>\n${links.join('<br>\n')}\n</body></html>\n`;

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://index');
    requests.push(url.pathname);
    const send = (status: number, type: string, body: string | Buffer): void => {
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    const parts = url.pathname.split('/').filter(Boolean);
    if (parts[0] === 'simple' && parts.length === 1) {
      const links = [...byProject.keys()].sort().map((p) => `<a href="/simple/${p}/">${p}</a>`);
      return send(200, 'text/html', html('Simple index', links));
    }
    if (parts[0] === 'simple' && parts.length === 2) {
      const files = byProject.get(normalizeName(decodeURIComponent(parts[1]!)));
      if (!files) return send(404, 'text/plain', 'not found\n');
      const links = files.map((w) => `<a href="/files/${w.filename}#sha256=${w.hash.slice('sha256:'.length)}">${w.filename}</a>`);
      return send(200, 'text/html', html(`Links for ${parts[1]}`, links));
    }
    if (parts[0] === 'files' && parts.length === 2) {
      const wheel = byFile.get(decodeURIComponent(parts[1]!));
      if (wheel) return send(200, 'application/octet-stream', fs.readFileSync(wheel.path));
    }
    send(404, 'text/plain', 'not found\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '0.0.0.0', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const gateway = await dockerBridgeGateway().catch(async (err: unknown) => {
    await new Promise((resolve) => server.close(resolve));
    throw err;
  });
  const url = `http://${gateway}:${port}/simple/`;
  const trustedHost = `${gateway}:${port}`;
  return {
    url,
    hostUrl: `http://127.0.0.1:${port}/simple/`,
    trustedHost,
    env: { PIP_INDEX_URL: url, PIP_TRUSTED_HOST: trustedHost },
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
