// Shipoff's static file server: the web process of static sites (the static
// buildpack copies it into the app as .shipoff/static-server.js and runs
// `node .shipoff/static-server.js`), and of Node.js apps that build a static
// site and have a static.json (a Vite SPA built into dist/).
//
// The router serves static releases itself, in process, with this same file:
// the host loads its own copy (never the app's) as a CommonJS module and calls
// createStaticSite(dir). The container process remains for `shipoff run` and
// for Procfiles that name it.
//
// It reads an optional static.json in the working directory, in the style of
// heroku-buildpack-static:
//   root        directory to serve, inside the app (default: the app itself)
//   clean_urls  /about serves about.html; /about.html redirects to /about
//   routes      {"/**": "index.html"}: files served when nothing else matches
//   headers     {"/assets/**": {"X-Header": "value"}}: extra response headers
//   error_page  file served with status 404
// Globs: * matches within one path segment, ** across segments.
//
// No request ever reads outside the root: "..", dot segments, encoded
// slashes, backslashes and NUL are refused, and every file is checked by its
// real path (symlinks resolved). Dotfiles (.git, .env, .shipoff) are never
// served; only .well-known/ at the top is.
//
// Dependency-free, for Node 18 and newer. Node's modules are loaded with
// require() when there is one, else import(), and nothing is exported with
// ES syntax, so this same file runs as CommonJS or as an ES module (an app
// whose package.json has "type": "module"). As CommonJS it also exports
// createStaticSite; main() runs only when it is the process's main script.
'use strict';

let fs, path, http, zlib, pipeline; // node:* modules, set by loadModules()

const MIME_TYPES = {
  html: 'text/html; charset=utf-8',
  htm: 'text/html; charset=utf-8',
  css: 'text/css; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  mjs: 'text/javascript; charset=utf-8',
  cjs: 'text/javascript; charset=utf-8',
  json: 'application/json; charset=utf-8',
  map: 'application/json; charset=utf-8',
  webmanifest: 'application/manifest+json; charset=utf-8',
  txt: 'text/plain; charset=utf-8',
  md: 'text/markdown; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
  xml: 'application/xml; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  avif: 'image/avif',
  ico: 'image/x-icon',
  woff: 'font/woff',
  woff2: 'font/woff2',
  ttf: 'font/ttf',
  otf: 'font/otf',
  wasm: 'application/wasm',
  pdf: 'application/pdf',
  mp4: 'video/mp4',
  webm: 'video/webm',
  mp3: 'audio/mpeg',
  ogg: 'audio/ogg',
  wav: 'audio/wav',
  zip: 'application/zip',
};
const COMPRESSIBLE = /^text\/|javascript|json|xml|wasm|x-icon|font\/(ttf|otf)/;
const MIN_COMPRESS_BYTES = 1024;
const MAX_COMPRESS_BYTES = 8 * 1024 * 1024;
const COMPRESSED_CACHE_BYTES = 64 * 1024 * 1024;
const IMMUTABLE = 'public, max-age=31536000, immutable';
const CONFIG_KEYS = ['root', 'clean_urls', 'routes', 'headers', 'error_page'];

async function loadModules() {
  if (fs) return;
  const load = typeof require === 'function' ? async (name) => require(name) : (name) => import(name);
  [fs, path, http, zlib, { pipeline }] = await Promise.all(
    ['node:fs', 'node:path', 'node:http', 'node:zlib', 'node:stream'].map(load),
  );
}

// ---------------------------------------------------------------- static.json

/** static.json as data, or {} when there is none. */
async function readStaticJson(appDir) {
  const file = path.join(appDir, 'static.json');
  let stat;
  try {
    stat = await fs.promises.lstat(file);
  } catch (err) {
    if (err.code === 'ENOENT') return {};
    throw err;
  }
  if (!stat.isFile()) throw new Error('static.json must be a regular file (not a symbolic link or a directory)');
  let config;
  try {
    config = JSON.parse(await fs.promises.readFile(file, 'utf8'));
  } catch (err) {
    throw new Error(`static.json is not valid JSON: ${err.message}`);
  }
  if (!config || typeof config !== 'object' || Array.isArray(config)) throw new Error('static.json must hold a JSON object');
  return config;
}

/** {glob: value} as [[RegExp, value]], after checking each value. */
function globMap(config, key, checkValue) {
  const map = config[key] ?? {};
  if (typeof map !== 'object' || Array.isArray(map)) throw new Error(`static.json: "${key}" must be an object`);
  return Object.entries(map).map(([glob, value]) => {
    if (!glob.startsWith('/')) throw new Error(`static.json: "${key}": "${glob}" must start with /`);
    if (!checkValue(value)) throw new Error(`static.json: "${key}": the value for "${glob}" is not valid`);
    return [globToRegExp(glob), value];
  });
}

/** "/assets/**" as a RegExp: ** matches anything, * anything but "/". */
function globToRegExp(glob) {
  const source = glob
    .split('**')
    .map((part) => part.split('*').map(escapeRegExp).join('[^/]*'))
    .join('.*');
  return new RegExp(`^${source}$`);
}

function escapeRegExp(text) {
  return text.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}

const isString = (value) => typeof value === 'string' && value !== '';
const isHeaderMap = (value) =>
  value && typeof value === 'object' && !Array.isArray(value) && Object.values(value).every((v) => typeof v === 'string');

/** The server's settings from static.json; throws with a message for the deploy log. */
async function loadConfig(appDir) {
  const config = await readStaticJson(appDir);
  for (const key of Object.keys(config)) {
    if (!CONFIG_KEYS.includes(key)) console.warn(`static-server: static.json: "${key}" is not supported here and is ignored`);
  }
  if (config.root !== undefined && !isString(config.root)) throw new Error('static.json: "root" must be a directory name');
  if (config.clean_urls !== undefined && typeof config.clean_urls !== 'boolean') throw new Error('static.json: "clean_urls" must be true or false');
  if (config.error_page !== undefined && !isString(config.error_page)) throw new Error('static.json: "error_page" must be a file name');
  const appReal = await fs.promises.realpath(appDir);
  const root = await rootDirectory(appReal, config.root ?? '.');
  return {
    root,
    cleanUrls: config.clean_urls === true,
    routes: globMap(config, 'routes', isString),
    headers: globMap(config, 'headers', isHeaderMap),
    errorPage: config.error_page,
  };
}

/** The real path of the directory to serve, which must be inside the app. */
async function rootDirectory(appReal, root) {
  let real;
  try {
    real = await fs.promises.realpath(path.resolve(appReal, root));
  } catch {
    throw new Error(`static.json: "root": ${root} does not exist (was the site built?)`);
  }
  if (!isInside(appReal, real)) throw new Error(`static.json: "root": ${root} is outside the app`);
  if (!(await fs.promises.stat(real)).isDirectory()) throw new Error(`static.json: "root": ${root} is not a directory`);
  return real;
}

// ---------------------------------------------------------------- paths

function isInside(dir, file) {
  const relative = path.relative(dir, file);
  return relative === '' || (relative !== '..' && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative));
}

/** Dotfiles and dot directories, except a top-level .well-known/. */
function isHidden(segments) {
  return segments.some((segment, i) => segment.startsWith('.') && !(i === 0 && segment === '.well-known'));
}

/**
 * The request's path as decoded segments, or null when it is not a plain
 * path: not starting with "/", encoded "/" "\" or NUL, bad percent-encoding,
 * "." or ".." segments, backslashes or NUL after decoding.
 */
function requestPath(url) {
  if (!url.startsWith('/')) return null;
  const [raw, query] = splitOnce(url, '?');
  if (/%(2f|5c|00)/i.test(raw) || raw.includes('\\')) return null;
  let decoded;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    return null;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return null;
  const segments = decoded.split('/').filter((segment) => segment !== '');
  if (segments.some((segment) => segment === '.' || segment === '..')) return null;
  return { pathname: decoded, segments, directory: decoded.endsWith('/'), query };
}

function splitOnce(text, separator) {
  const at = text.indexOf(separator);
  return at === -1 ? [text, ''] : [text.slice(0, at), text.slice(at + 1)];
}

/** The file at `file` if its real path is inside the root and not hidden: {path, stat}, else null. */
async function lookup(root, file) {
  let real;
  try {
    real = await fs.promises.realpath(file);
  } catch {
    return null;
  }
  if (!isInside(root, real) || isHidden(path.relative(root, real).split(path.sep))) return null;
  const stat = await fs.promises.stat(real).catch(() => null);
  return stat ? { path: real, stat } : null;
}

async function lookupFile(root, file) {
  const found = await lookup(root, file);
  return found && found.stat.isFile() ? found : null;
}

/** What answers a request: {file}, {redirect}, or null (404). */
async function resolveRequest(config, request) {
  const { root } = config;
  const target = path.join(root, ...request.segments);
  const found = await lookup(root, target);
  if (found && found.stat.isDirectory()) {
    if (!request.directory) return { redirect: `${urlOf(request.segments)}/` };
    const index = await lookupFile(root, path.join(target, 'index.html'));
    if (index) return { file: index };
  } else if (found && found.stat.isFile()) {
    if (config.cleanUrls && target.endsWith('.html')) return { redirect: urlOf(request.segments).replace(/\.html$/, '') };
    return { file: found };
  }
  if (config.cleanUrls && !request.directory && request.segments.length > 0) {
    const page = await lookupFile(root, `${target}.html`);
    if (page) return { file: page };
  }
  const route = config.routes.find(([pattern]) => pattern.test(request.pathname));
  const routed = route && (await lookupFile(root, path.join(root, route[1])));
  return routed ? { file: routed } : null;
}

/** A path built from checked segments: never "//host" (an open redirect). */
function urlOf(segments) {
  return `/${segments.map(encodeURIComponent).join('/')}`;
}

// ---------------------------------------------------------------- headers

function contentType(file) {
  const extension = path.extname(file).slice(1).toLowerCase();
  return MIME_TYPES[extension] ?? 'application/octet-stream';
}

/**
 * Names that carry a hash of their content: app.3f2a1b9c.js or
 * main.3f2a1b9c.chunk.js (webpack: 8+ hex digits, at least one a digit), and
 * Vite's assets/index-BMeW2T3d.js (8 base64url characters mixing at least
 * two of upper case, lower case and digits, so assets/app-language.js is not).
 */
function isHashedAsset(file) {
  const name = path.basename(file);
  const hex = /[.-]([0-9a-f]{8,})\./i.exec(name);
  if (hex && /\d/.test(hex[1])) return true;
  const vite = /-([A-Za-z0-9_-]{8})\.[A-Za-z0-9]+$/.exec(name);
  if (!vite || path.basename(path.dirname(file)) !== 'assets') return false;
  const kinds = [/[A-Z]/, /[a-z]/, /\d/].filter((kind) => kind.test(vite[1]));
  return kinds.length >= 2;
}

/** Hashed names never change content: cached for a year. Everything else is revalidated (ETag) on every use. */
function cacheControl(file) {
  return isHashedAsset(file) ? IMMUTABLE : 'no-cache';
}

function configHeaders(config, pathname) {
  const headers = {};
  for (const [pattern, values] of config.headers) if (pattern.test(pathname)) Object.assign(headers, values);
  return headers;
}

function etagOf(stat) {
  return `"${stat.size.toString(16)}-${Math.floor(stat.mtimeMs).toString(16)}"`;
}

/** An ETag without W/ and without the encoding suffix, for If-None-Match. */
function baseEtag(tag) {
  return tag.trim().replace(/^W\//, '').replace(/-(br|gzip)"$/, '"');
}

/** If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2). */
function isNotModified(req, etag, mtime) {
  const ifNoneMatch = req.headers['if-none-match'];
  if (ifNoneMatch) return ifNoneMatch.trim() === '*' || ifNoneMatch.split(',').some((tag) => baseEtag(tag) === etag);
  const since = Date.parse(req.headers['if-modified-since'] ?? '');
  return !Number.isNaN(since) && Math.floor(mtime.getTime() / 1000) * 1000 <= since;
}

/** "br" or "gzip" when Accept-Encoding allows it (q > 0), else null. */
function negotiateEncoding(header = '') {
  const accepted = new Map();
  for (const part of header.split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => /^\s*q=([\d.]+)\s*$/.exec(p)).find(Boolean);
    accepted.set(name, q ? Number(q[1]) : 1);
  }
  const allows = (name) => (accepted.get(name) ?? (accepted.has('*') ? accepted.get('*') : 0)) > 0;
  if (allows('br')) return 'br';
  if (allows('gzip')) return 'gzip';
  return null;
}

// ---------------------------------------------------------------- ranges

/**
 * One byte range {start, end} (inclusive), 'unsatisfiable', or null to send
 * the whole file: no Range, a malformed or multi-part one, or an If-Range
 * that no longer matches.
 */
function parseRange(req, stat, etag) {
  const header = req.headers.range;
  if (!header) return null;
  const ifRange = req.headers['if-range'];
  if (ifRange && ifRange !== etag && Date.parse(ifRange) !== Math.floor(stat.mtimeMs / 1000) * 1000) return null;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return null;
  const size = stat.size;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    return suffix === 0 || size === 0 ? 'unsatisfiable' : { start: Math.max(size - suffix, 0), end: size - 1 };
  }
  const start = Number(match[1]);
  const end = match[2] === '' ? Infinity : Number(match[2]);
  if (end < start) return null; // not a valid range: ignored
  return start >= size ? 'unsatisfiable' : { start, end: Math.min(end, size - 1) };
}

// ---------------------------------------------------------------- compression

const compressedCache = new Map(); // "<encoding> <path> <etag>" -> Buffer, oldest first
let compressedCacheBytes = 0;

/** The file compressed with `encoding`, kept in memory (up to a total size) for the next request. */
async function compressedBody(file, encoding, etag) {
  const key = `${encoding} ${file.path} ${etag}`;
  const cached = compressedCache.get(key);
  if (cached) return cached;
  const data = await fs.promises.readFile(file.path);
  const body = await new Promise((resolve, reject) => {
    const done = (err, result) => (err ? reject(err) : resolve(result));
    if (encoding === 'br') {
      const params = { [zlib.constants.BROTLI_PARAM_QUALITY]: 9, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: data.length };
      zlib.brotliCompress(data, { params }, done);
    } else {
      zlib.gzip(data, { level: 9 }, done);
    }
  });
  remember(key, body);
  return body;
}

function remember(key, body) {
  compressedCache.set(key, body);
  compressedCacheBytes += body.length;
  for (const [oldKey, oldBody] of compressedCache) {
    if (compressedCacheBytes <= COMPRESSED_CACHE_BYTES) break;
    compressedCache.delete(oldKey);
    compressedCacheBytes -= oldBody.length;
  }
}

// ---------------------------------------------------------------- responses

/** Sends a file: 200 (or `status`), 206, 304 or 416, compressed when that helps. */
async function sendFile(req, res, config, request, file, status = 200) {
  const { stat } = file;
  const type = contentType(file.path);
  const etag = etagOf(stat);
  const range = status === 200 ? parseRange(req, stat, etag) : null;
  const compressible = COMPRESSIBLE.test(type);
  const fits = stat.size >= MIN_COMPRESS_BYTES && stat.size <= MAX_COMPRESS_BYTES;
  const encoding = !range && compressible && fits ? negotiateEncoding(req.headers['accept-encoding']) : null;
  const headers = {
    'Content-Type': type,
    'Last-Modified': stat.mtime.toUTCString(),
    ETag: encoding ? etag.replace(/"$/, `-${encoding}"`) : etag,
    'Cache-Control': status === 200 ? cacheControl(file.path) : 'no-cache',
    'Accept-Ranges': 'bytes',
    'X-Content-Type-Options': 'nosniff',
    ...(compressible ? { Vary: 'Accept-Encoding' } : {}),
    ...configHeaders(config, request.pathname),
  };
  if (status === 200 && isNotModified(req, etag, stat.mtime)) {
    delete headers['Content-Type'];
    return send(req, res, 304, headers);
  }
  if (range === 'unsatisfiable') return send(req, res, 416, { ...headers, 'Content-Range': `bytes */${stat.size}` });
  if (range) {
    const length = range.end - range.start + 1;
    headers['Content-Range'] = `bytes ${range.start}-${range.end}/${stat.size}`;
    return sendStream(req, res, 206, { ...headers, 'Content-Length': length }, file.path, range);
  }
  if (encoding) {
    const body = await compressedBody(file, encoding, etag);
    return send(req, res, status, { ...headers, 'Content-Encoding': encoding, 'Content-Length': body.length }, body);
  }
  return sendStream(req, res, status, { ...headers, 'Content-Length': stat.size }, file.path, { start: 0, end: stat.size - 1 });
}

function send(req, res, status, headers, body) {
  res.writeHead(status, headers);
  res.end(req.method === 'HEAD' ? undefined : body);
}

function sendStream(req, res, status, headers, file, { start, end }) {
  res.writeHead(status, headers);
  if (req.method === 'HEAD' || end < start) return res.end();
  pipeline(fs.createReadStream(file, { start, end }), res, () => {}); // errors close the response
}

function sendPage(req, res, status, title, extraHeaders = {}) {
  const body = `<!doctype html>\n<meta charset="utf-8">\n<title>${title}</title>\n<h1>${title}</h1>\n`;
  const headers = { 'Content-Type': MIME_TYPES.html, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-cache', ...extraHeaders };
  send(req, res, status, headers, body);
}

async function sendNotFound(req, res, config, request) {
  const page = config.errorPage && (await lookupFile(config.root, path.join(config.root, config.errorPage)));
  if (page) return sendFile(req, res, config, request, page, 404);
  return sendPage(req, res, 404, '404 Not Found');
}

function sendRedirect(req, res, location, query) {
  sendPage(req, res, 301, '301 Moved Permanently', { Location: query ? `${location}?${query}` : location });
}

async function handle(req, res, config) {
  if (req.method !== 'GET' && req.method !== 'HEAD') return sendPage(req, res, 405, '405 Method Not Allowed', { Allow: 'GET, HEAD' });
  const request = requestPath(req.url);
  if (!request) return sendPage(req, res, 400, '400 Bad Request');
  if (isHidden(request.segments)) return sendNotFound(req, res, config, request);
  const found = await resolveRequest(config, request);
  if (!found) return sendNotFound(req, res, config, request);
  if (found.redirect) return sendRedirect(req, res, found.redirect, request.query);
  return sendFile(req, res, config, request, found.file);
}

// ---------------------------------------------------------------- module

/** Answers an error after `handle` failed: a 500 page, or a cut response once headers went. */
function failed(req, res, err) {
  console.error(`static-server: ${req.method} ${req.url}: ${err.stack ?? err}`);
  if (!res.headersSent) sendPage(req, res, 500, '500 Internal Server Error');
  else res.destroy();
}

/**
 * The static site in appDir (its static.json read and checked once), as
 * { root, handle(req, res) }: handle answers one request and resolves once
 * the response is under way; it never rejects.
 */
async function createStaticSite(appDir) {
  await loadModules();
  const config = await loadConfig(appDir);
  return {
    root: config.root,
    handle: (req, res) => handle(req, res, config).catch((err) => failed(req, res, err)),
  };
}

// ---------------------------------------------------------------- main

async function main() {
  await loadModules();
  const config = await loadConfig(process.cwd());
  const shown = path.relative(process.cwd(), config.root) || '.';
  if (process.argv.includes('--check')) {
    console.log(`static.json is valid; serving ${shown}/`);
    return;
  }
  const server = http.createServer((req, res) => {
    handle(req, res, config).catch((err) => failed(req, res, err));
  });
  const port = Number(process.env.PORT || 5000);
  server.listen(port, () => console.log(`static-server: serving ${shown}/ on port ${port}`));
  // As PID 1 in a container, a signal without a handler is ignored.
  for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));
}

// CommonJS (module and require exist): export, and serve only as the main
// script. An ES module is only ever run as the main script.
const isCommonJS = typeof module === 'object' && module !== null && typeof require === 'function';
if (isCommonJS) module.exports = { createStaticSite };
if (!isCommonJS || require.main === module) {
  main().catch((err) => {
    console.error(`static-server: ${err.message}`);
    process.exit(1);
  });
}
