// Sample PHP apps as {path: content} maps, for the PHP buildpack tests and
// end-to-end pushes. Packagist is not reachable from the test machines, so the
// app with a dependency gets it from a composer "path" repository inside the
// app itself; composerLock() makes its composer.lock with the stack's Composer.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** index.php at the root, no composer.json: the smallest PHP app. */
export const PHP_HELLO: Record<string, string> = {
  'index.php': '<?php\necho "Hello from PHP ", PHP_MAJOR_VERSION, ".", PHP_MINOR_VERSION, "\\n";\n',
  'style.css': 'body { color: #333; }\n',
  '.env': 'SECRET=do-not-serve\n',
};

/**
 * A front controller in public/ (the docroot), like Laravel or Slim: every
 * path that is not a file in public/ reaches public/index.php. Its own classes
 * are autoloaded from src/ (composer.json has no packages to install, only an
 * autoload section), and src/ is outside the docroot.
 */
export const PHP_FRONT_CONTROLLER: Record<string, string> = {
  'composer.json': `${JSON.stringify(
    { name: 'shipoff/sample-front-controller', require: { php: '>=8.1', 'ext-mbstring': '*' }, autoload: { 'psr-4': { 'App\\': 'src/' } } },
    null,
    4,
  )}\n`,
  'public/index.php': `<?php
require __DIR__ . '/../vendor/autoload.php';
$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
header('Content-Type: text/plain');
echo App\\Router::dispatch($path), "\\n";
echo 'script: ', $_SERVER['SCRIPT_NAME'], "\\n";
`,
  'public/assets/site.css': 'body { margin: 0; }\n',
  'src/Router.php': `<?php
namespace App;

final class Router
{
    public static function dispatch(string $path): string
    {
        return $path === '/' ? 'home page' : 'route: ' . $path;
    }
}
`,
  'src/secret.php': '<?php echo "outside the docroot";\n',
};

/**
 * An app that requires the package shipoff/greeting from a path repository
 * (packages/greeting), copied into vendor/ by `composer install`. Its
 * post-install-cmd script writes the config var BUILD_MARK into build-mark.txt.
 * Needs a composer.lock: see composerLock().
 */
export const PHP_WITH_DEPENDENCY: Record<string, string> = {
  'composer.json': `${JSON.stringify(
    {
      name: 'shipoff/sample-with-dependency',
      require: { php: '^8.1', 'ext-mbstring': '*', 'shipoff/greeting': '^1.0' },
      repositories: [{ type: 'path', url: 'packages/greeting', options: { symlink: false } }],
      scripts: { 'post-install-cmd': ['php -r "file_put_contents(\'build-mark.txt\', (string) getenv(\'BUILD_MARK\'));"'] },
    },
    null,
    4,
  )}\n`,
  'index.php': `<?php
require __DIR__ . '/vendor/autoload.php';
echo Shipoff\\Greeting\\Greeting::hello('deploy'), "\\n";
echo 'mark: ', @file_get_contents(__DIR__ . '/build-mark.txt'), "\\n";
`,
  'packages/greeting/composer.json': `${JSON.stringify(
    { name: 'shipoff/greeting', version: '1.0.0', autoload: { 'psr-4': { 'Shipoff\\Greeting\\': 'src/' } } },
    null,
    4,
  )}\n`,
  'packages/greeting/src/Greeting.php': `<?php
namespace Shipoff\\Greeting;

final class Greeting
{
    public static function hello(string $name): string
    {
        return "Hello, $name, from a composer package";
    }
}
`,
};

/** composer.json that is not JSON (a trailing comma). */
export const PHP_BAD_JSON: Record<string, string> = {
  'composer.json': '{\n    "require": {\n        "php": "^8.1",\n    }\n}\n',
  'index.php': '<?php echo "never built";\n',
};

/** Requires a PHP the stack does not have. */
export const PHP_UNMET_VERSION: Record<string, string> = {
  'composer.json': `${JSON.stringify({ require: { php: '>=8.3' } }, null, 4)}\n`,
  'index.php': '<?php echo "never built";\n',
};

/** Requires an extension the stack's PHP does not have. */
export const PHP_MISSING_EXTENSION: Record<string, string> = {
  'composer.json': `${JSON.stringify({ require: { php: '^8.1', 'ext-shipoff-imaginary': '*' } }, null, 4)}\n`,
  'index.php': '<?php echo "never built";\n',
};

/**
 * composer.lock for `files` (an app like PHP_WITH_DEPENDENCY), written by the
 * stack's own Composer (`composer update --no-install`) in a throwaway
 * container. Path repositories only: Packagist is not reachable.
 */
export function composerLock(files: Record<string, string>, stackImage: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shipoff-composer-lock-'));
  try {
    for (const [name, content] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
      fs.writeFileSync(path.join(dir, name), content);
    }
    execFileSync(
      'docker',
      [
        'run', '--rm', '--label', 'com.shipoff.managed=true',
        // As the caller, so the lock file is theirs; HOME for Composer's own files.
        '--user', `${process.getuid?.() ?? 0}:${process.getgid?.() ?? 0}`, '-e', 'HOME=/tmp',
        '-v', `${dir}:/app`, '-w', '/app', stackImage,
        'composer', 'update', '--no-install', '--no-interaction', '--no-audit', '--no-scripts',
      ],
      { stdio: 'pipe' },
    );
    return fs.readFileSync(path.join(dir, 'composer.lock'), 'utf8');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
