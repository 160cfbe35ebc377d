// JSON and semver work for the Node.js buildpack, run with the stack's own
// node (never the app's), so it behaves the same whatever engines.node says.
// It only reads files as data; its output is "key=value" lines (values never
// contain a newline) that bin/compile reads with `read`, never with eval.
//
//   pkg.js facts PACKAGE_JSON               what the build needs from package.json
//   pkg.js resolve PACKUMENT RANGE [NODE]   newest version in RANGE (with NODE: whose
//                                           engines.node accepts NODE): "version tarball integrity"
//   pkg.js verify FILE INTEGRITY            exit 0 when FILE matches the registry's sha512
//   pkg.js bins PACKAGE_DIR                 its executables: "name relative/path" lines
'use strict';
const fs = require('fs');
const crypto = require('crypto');

const oneLine = (value) => String(value).replace(/[\r\n]+/g, ' ').trim();

function fail(message, status = 2) {
  process.stderr.write(oneLine(message) + '\n');
  process.exit(status);
}

// "line L, column C" for the position a JSON.parse error names; node 18 says
// "... at position N", newer nodes may add the line themselves.
function whereInText(text, message) {
  const found = /position (\d+)/.exec(message);
  const offset = found ? Number(found[1]) : /end of JSON/i.test(message) ? text.length : null;
  if (offset === null) return '';
  const before = text.slice(0, offset).split('\n');
  return ` (line ${before.length}, column ${before[before.length - 1].length + 1})`;
}

function facts(file) {
  let text;
  try {
    text = fs.readFileSync(file, 'utf8').replace(/^\uFEFF/, '');
  } catch (err) {
    fail(`cannot read ${file}: ${err.code || err.message}`);
  }
  let pkg;
  try {
    pkg = JSON.parse(text);
  } catch (err) {
    fail(`${file} is not valid JSON: ${err.message.replace(/ in JSON at position \d+.*$/, '')}${whereInText(text, err.message)}`);
  }
  if (pkg === null || typeof pkg !== 'object' || Array.isArray(pkg)) fail(`${file} is not valid: it must hold a JSON object ({ ... })`);
  const out = [];
  const put = (key, value) => out.push(`${key}=${oneLine(value)}`);
  const engines = pkg.engines && typeof pkg.engines === 'object' ? pkg.engines : {};
  for (const name of ['node', 'npm', 'yarn', 'pnpm']) {
    if (typeof engines[name] === 'string' && engines[name].trim()) put(`engines_${name}`, engines[name]);
  }
  // "pnpm@9.1.0+sha512.abc": the name and the exact version; the hash is corepack's business.
  if (typeof pkg.packageManager === 'string' && pkg.packageManager.trim()) {
    const pm = /^(@?[^@\s]+)@([^+\s]+)/.exec(pkg.packageManager.trim());
    if (!pm) fail(`package.json "packageManager" is "${pkg.packageManager}"; it must look like "pnpm@9.1.0"`);
    put('pm_name', pm[1]);
    put('pm_version', pm[2]);
  }
  const scripts = pkg.scripts && typeof pkg.scripts === 'object' ? pkg.scripts : {};
  for (const name of ['heroku-prebuild', 'build', 'heroku-postbuild', 'heroku-cleanup']) {
    if (typeof scripts[name] === 'string') put('script', name);
  }
  // cacheDirectories (cache_directories is Heroku's older spelling): paths
  // inside the app only, so a saved cache can never write outside BUILD_DIR.
  const dirs = pkg.cacheDirectories ?? pkg.cache_directories;
  if (dirs !== undefined) {
    if (!Array.isArray(dirs)) fail('package.json "cacheDirectories" must be an array of paths, like ["node_modules"]');
    put('cache_dirs_set', 'true');
    for (const dir of dirs) {
      const clean = typeof dir === 'string' ? dir.replace(/\/+$/, '').replace(/^\.\//, '') : '';
      if (!clean || clean.startsWith('/') || clean.split('/').some((part) => part === '..' || part === '.' || part === '') || /[\r\n]/.test(clean)) {
        fail(`package.json "cacheDirectories" holds ${JSON.stringify(dir)}; each entry must be a relative path inside the app, like "node_modules"`);
      }
      put('cache_dir', clean);
    }
  }
  process.stdout.write(out.join('\n') + (out.length ? '\n' : ''));
}

function resolve(packumentFile, range, nodeVersion) {
  const semver = require('semver');
  if (!semver.validRange(range)) fail(`"${range}" is not a valid semver range`, 3);
  const packument = JSON.parse(fs.readFileSync(packumentFile, 'utf8'));
  const versions = Object.keys(packument.versions || {}).filter((v) => semver.valid(v));
  const fits = versions.filter((v) => semver.satisfies(v, range));
  // For a default choice: the newest release that supports the node we run on.
  const usable = nodeVersion
    ? fits.filter((v) => {
        const wants = packument.versions[v].engines && packument.versions[v].engines.node;
        return typeof wants !== 'string' || !semver.validRange(wants) || semver.satisfies(nodeVersion, wants);
      })
    : fits;
  const best = semver.maxSatisfying(usable, '*');
  if (!best) fail(`newest available: ${semver.maxSatisfying(versions, '*') || 'none'}`, 4);
  const dist = packument.versions[best].dist || {};
  if (!dist.tarball) fail(`the registry lists no tarball for ${packument.name}@${best}`, 5);
  process.stdout.write(`${best} ${dist.tarball} ${dist.integrity || 'sha1-' + Buffer.from(dist.shasum || '', 'hex').toString('base64')}\n`);
}

function verify(file, integrity) {
  // "sha512-<base64>" (several may be listed, space-separated): any match will do.
  const ok = integrity.split(/\s+/).some((entry) => {
    const m = /^(sha512|sha384|sha256|sha1)-(.+)$/.exec(entry);
    return m && crypto.createHash(m[1]).update(fs.readFileSync(file)).digest('base64') === m[2];
  });
  process.exit(ok ? 0 : 1);
}

function bins(dir) {
  const pkg = JSON.parse(fs.readFileSync(`${dir}/package.json`, 'utf8'));
  const bin = typeof pkg.bin === 'string' ? { [pkg.name.replace(/^@.*\//, '')]: pkg.bin } : pkg.bin || {};
  for (const [name, file] of Object.entries(bin)) {
    const rel = String(file).replace(/^\.\//, '');
    if (/^[\w.-]+$/.test(name) && !rel.split('/').includes('..') && !rel.startsWith('/') && !/\s/.test(rel)) console.log(`${name} ${rel}`);
  }
}

const [command, ...args] = process.argv.slice(2);
if (command === 'facts') facts(args[0]);
else if (command === 'resolve') resolve(args[0], args[1], args[2]);
else if (command === 'verify') verify(args[0], args[1]);
else if (command === 'bins') bins(args[0]);
else fail(`usage: pkg.js facts|resolve|verify ...`, 64);
