// Python sample apps for buildpack and push tests, as { path: content } maps
// (makeRepo() in apps.ts commits them), and the packages they depend on, for
// the test index of python-index.ts (PyPI is unreachable).
//
// Every app answers GET / with "<greeting> from <label> in <color>\n", made by
// the shipoff-greeting package and its own dependency shipoff-colors, so a
// right body proves both were installed. The lockfile apps also lock
// shipoff-devtool (a dev dependency) and shipoff-winonly (Windows only): the
// index does not have them, so a build that installed either would fail.
import { buildWheels, normalizeName, type BuiltWheel, type WheelSpec } from './python-index.js';

export const GREETING_VERSION = '1.0.0';
export const COLORS_VERSION = '2.0.0';

/** The packages on the test index. */
export const TEST_PACKAGES: readonly WheelSpec[] = Object.freeze<WheelSpec[]>([
  {
    name: 'shipoff-greeting',
    version: GREETING_VERSION,
    requires: [`shipoff-colors>=${COLORS_VERSION}`],
    files: {
      'shipoff_greeting/__init__.py':
        'from shipoff_colors import favorite\n\n\ndef greet(label):\n    return f"hello from {label} in {favorite()}"\n',
    },
  },
  {
    name: 'shipoff-colors',
    version: COLORS_VERSION,
    files: { 'shipoff_colors/__init__.py': 'def favorite():\n    return "teal"\n' },
  },
  {
    // A STAND-IN for Django (an empty package of that name): the buildpack
    // only looks for it in the virtualenv to decide to run collectstatic.
    name: 'Django',
    version: '5.0.0',
    files: { 'django/__init__.py': 'VERSION = (5, 0, 0, "final", 0)\n' },
  },
  {
    // A STAND-IN, not the real gunicorn (which cannot be downloaded here): a
    // package of that name whose `gunicorn` console script serves the WSGI app
    // given as MODULE:CALLABLE on --bind HOST:PORT with wsgiref. What the tests
    // check with it is the buildpack's side: gunicorn found among the
    // dependencies, the WSGI app detected, the default `web` command, and
    // pip installing console scripts into the virtualenv's bin/.
    name: 'gunicorn',
    version: '23.0.0',
    consoleScripts: { gunicorn: 'gunicorn.standin:main' },
    files: {
      'gunicorn/__init__.py': '__version__ = "23.0.0"\n',
      'gunicorn/standin.py': `"""Test stand-in for gunicorn: gunicorn MODULE:CALLABLE --bind HOST:PORT"""
import argparse
import importlib
import os
import sys
from wsgiref.simple_server import make_server


def main():
    parser = argparse.ArgumentParser(prog="gunicorn")
    parser.add_argument("app")
    parser.add_argument("--bind", "-b", default="127.0.0.1:8000")
    args, _ = parser.parse_known_args()
    module, _, name = args.app.partition(":")
    sys.path.insert(0, os.getcwd())
    app = getattr(importlib.import_module(module), name or "application")
    host, _, port = args.bind.rpartition(":")
    print(f"gunicorn stand-in serving {args.app} on {host}:{port}", flush=True)
    make_server(host, int(port), app).serve_forever()
`,
    },
  },
]);

/** Builds TEST_PACKAGES into `dir`. */
export function buildTestWheels(dir: string): BuiltWheel[] {
  return buildWheels(dir, TEST_PACKAGES);
}

/** A web server with only the standard library: `web: python app.py`. */
export function httpServerApp(label: string): string {
  return `import os
from http.server import BaseHTTPRequestHandler, HTTPServer

from shipoff_greeting import greet


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = (greet(${JSON.stringify(label)}) + "\\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


HTTPServer(("0.0.0.0", int(os.environ["PORT"])), Handler).serve_forever()
`;
}

const PROCFILE = 'web: python app.py\n';

/** The body every sample answers with. */
export function expectedBody(label: string): string {
  return `hello from ${label} in teal\n`;
}

/** requirements.txt (pip resolves shipoff-colors from shipoff-greeting's metadata). */
export function requirementsApp(label = 'requirements'): Record<string, string> {
  return {
    'requirements.txt': `# served by the test index\nshipoff-greeting==${GREETING_VERSION}\n`,
    'app.py': httpServerApp(label),
    Procfile: PROCFILE,
  };
}

function wheelOf(wheels: readonly BuiltWheel[], name: string): BuiltWheel {
  const wheel = wheels.find((w) => normalizeName(w.name) === normalizeName(name));
  if (!wheel) throw new Error(`no wheel for ${name} among ${wheels.map((w) => w.name).join(', ')}`);
  return wheel;
}

/** Hashes for packages the index does not have (never downloaded: they must not be installed). */
const FAKE_HASH = `sha256:${'0'.repeat(64)}`;

/** A Poetry 1.8 project: poetry.lock (lock-version 2.0, which does not record
 * groups), so main dependencies are found by walking the graph from pyproject. */
export function poetryApp(wheels: readonly BuiltWheel[], label = 'poetry'): Record<string, string> {
  const greeting = wheelOf(wheels, 'shipoff-greeting');
  const colors = wheelOf(wheels, 'shipoff-colors');
  return {
    'pyproject.toml': `[tool.poetry]
name = "poetry-sample"
version = "0.1.0"
description = ""
authors = []
package-mode = false

[tool.poetry.dependencies]
python = "^3.11"
shipoff-greeting = "^1.0"

[tool.poetry.group.dev.dependencies]
shipoff-devtool = "^0.1"

[build-system]
requires = ["poetry-core"]
build-backend = "poetry.core.masonry.api"
`,
    'poetry.lock': `# This file is automatically @generated by Poetry 1.8.3 and should not be changed by hand.

[[package]]
name = "shipoff-colors"
version = "${colors.version}"
description = ""
optional = false
python-versions = "*"
files = [
    {file = "${colors.filename}", hash = "${colors.hash}"},
]

[[package]]
name = "shipoff-devtool"
version = "0.1.0"
description = "a dev dependency: not on the index, so never installed"
optional = false
python-versions = "*"
files = [
    {file = "shipoff_devtool-0.1.0-py3-none-any.whl", hash = "${FAKE_HASH}"},
]

[[package]]
name = "shipoff-greeting"
version = "${greeting.version}"
description = ""
optional = false
python-versions = "*"
files = [
    {file = "${greeting.filename}", hash = "${greeting.hash}"},
]

[package.dependencies]
shipoff-colors = ">=2.0.0"
shipoff-winonly = {version = "*", markers = "sys_platform == \\"win32\\""}

[[package]]
name = "shipoff-winonly"
version = "0.1.0"
description = "Windows only: not on the index, so never installed on Linux"
optional = false
python-versions = "*"
files = [
    {file = "shipoff_winonly-0.1.0-py3-none-any.whl", hash = "${FAKE_HASH}"},
]

[metadata]
lock-version = "2.0"
python-versions = "^3.11"
content-hash = "${'ab'.repeat(32)}"
`,
    'app.py': httpServerApp(label),
    Procfile: PROCFILE,
  };
}

/** A uv project: pyproject.toml (PEP 621) and uv.lock. */
export function uvApp(wheels: readonly BuiltWheel[], registry: string, label = 'uv'): Record<string, string> {
  const greeting = wheelOf(wheels, 'shipoff-greeting');
  const colors = wheelOf(wheels, 'shipoff-colors');
  const files = registry.replace(/\/simple\/?$/, '/files');
  const wheel = (w: BuiltWheel): string => `wheels = [\n    { url = "${files}/${w.filename}", hash = "${w.hash}", size = ${w.size} },\n]`;
  return {
    'pyproject.toml': `[project]
name = "uv-sample"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = ["shipoff-greeting>=1.0"]

[dependency-groups]
dev = ["shipoff-devtool>=0.1"]
`,
    'uv.lock': `version = 1
revision = 2
requires-python = ">=3.11"

[[package]]
name = "shipoff-colors"
version = "${colors.version}"
source = { registry = "${registry}" }
${wheel(colors)}

[[package]]
name = "shipoff-devtool"
version = "0.1.0"
source = { registry = "${registry}" }
wheels = [
    { url = "${files}/shipoff_devtool-0.1.0-py3-none-any.whl", hash = "${FAKE_HASH}", size = 1000 },
]

[[package]]
name = "shipoff-greeting"
version = "${greeting.version}"
source = { registry = "${registry}" }
dependencies = [
    { name = "shipoff-colors" },
    { name = "shipoff-winonly", marker = "sys_platform == 'win32'" },
]
${wheel(greeting)}

[[package]]
name = "shipoff-winonly"
version = "0.1.0"
source = { registry = "${registry}" }
wheels = [
    { url = "${files}/shipoff_winonly-0.1.0-py3-none-any.whl", hash = "${FAKE_HASH}", size = 1000 },
]

[[package]]
name = "uv-sample"
version = "0.1.0"
source = { virtual = "." }
dependencies = [
    { name = "shipoff-greeting" },
]

[package.dev-dependencies]
dev = [
    { name = "shipoff-devtool" },
]

[package.metadata]
requires-dist = [{ name = "shipoff-greeting", specifier = ">=1.0" }]

[package.metadata.requires-dev]
dev = [{ name = "shipoff-devtool", specifier = ">=0.1" }]
`,
    'app.py': httpServerApp(label),
    Procfile: PROCFILE,
  };
}

/** A pipenv project: Pipfile and Pipfile.lock. */
export function pipenvApp(wheels: readonly BuiltWheel[], label = 'pipenv'): Record<string, string> {
  const greeting = wheelOf(wheels, 'shipoff-greeting');
  const colors = wheelOf(wheels, 'shipoff-colors');
  const lock = {
    _meta: {
      hash: { sha256: 'cd'.repeat(32) },
      'pipfile-spec': 6,
      requires: { python_version: '3.11' },
      sources: [{ name: 'pypi', url: 'https://pypi.org/simple', verify_ssl: true }],
    },
    default: {
      'shipoff-colors': { hashes: [colors.hash], version: `==${colors.version}` },
      'shipoff-greeting': { hashes: [greeting.hash], index: 'pypi', version: `==${greeting.version}` },
      'shipoff-winonly': { hashes: [FAKE_HASH], markers: "sys_platform == 'win32'", version: '==0.1.0' },
    },
    develop: {
      'shipoff-devtool': { hashes: [FAKE_HASH], version: '==0.1.0' },
    },
  };
  return {
    Pipfile: `[[source]]
url = "https://pypi.org/simple"
verify_ssl = true
name = "pypi"

[packages]
shipoff-greeting = "*"

[dev-packages]
shipoff-devtool = "*"

[requires]
python_version = "3.11"
`,
    'Pipfile.lock': JSON.stringify(lock, null, 4) + '\n',
    'app.py': httpServerApp(label),
    Procfile: PROCFILE,
  };
}

/** No Procfile: gunicorn (the test index's stand-in) is a dependency and
 * app.py defines a WSGI `app`, so the buildpack's default web process is
 * `gunicorn app:app --bind 0.0.0.0:$PORT`. */
export function gunicornApp(label = 'wsgi'): Record<string, string> {
  return {
    'requirements.txt': `gunicorn==23.0.0\nshipoff-greeting==${GREETING_VERSION}\n`,
    'app.py': `from shipoff_greeting import greet


def app(environ, start_response):
    body = (greet(${JSON.stringify(label)}) + "\\n").encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
`,
  };
}

/** pyproject.toml alone: pip installs the project itself, which declares its
 * dependencies in [project]. Its build backend is in the tree (PEP 517
 * backend-path), since setuptools or hatchling would have to come from an
 * index; the wheel it builds holds a module the app imports, so an answer
 * proves the project was installed, not just its dependencies. */
export function projectApp(label = 'project'): Record<string, string> {
  return {
    'pyproject.toml': `[build-system]
requires = []
build-backend = "backend"
backend-path = ["_build"]

[project]
name = "project-sample"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = ["shipoff-greeting>=1.0"]
`,
    '_build/backend.py': `"""A minimal in-tree PEP 517 backend: builds a wheel with only the standard library."""
import base64
import hashlib
import os
import tomllib
import zipfile


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    with open("pyproject.toml", "rb") as f:
        project = tomllib.load(f)["project"]
    dist, version = project["name"].replace("-", "_"), project["version"]
    info = f"{dist}-{version}.dist-info"
    requires = "".join(f"Requires-Dist: {d}\\n" for d in project.get("dependencies", []))
    files = {
        f"{dist}.py": ${JSON.stringify(`LABEL = ${JSON.stringify(label)}\n`)},
        f"{info}/METADATA": f"Metadata-Version: 2.1\\nName: {project['name']}\\nVersion: {version}\\n{requires}",
        f"{info}/WHEEL": "Wheel-Version: 1.0\\nGenerator: in-tree\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
    }
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(text.encode())}")
    files[f"{info}/RECORD"] = "\\n".join(record + [f"{info}/RECORD,,"]) + "\\n"
    filename = f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w") as wheel:
        for name, text in files.items():
            wheel.writestr(name, text)
    return filename
`,
    'app.py': httpServerApp('placeholder').replace('greet("placeholder")', 'greet(LABEL)').replace('from shipoff_greeting import greet\n', 'from project_sample import LABEL\nfrom shipoff_greeting import greet\n'),
    Procfile: PROCFILE,
  };
}

/** A Django-shaped project without a Procfile: manage.py names the settings
 * package whose wsgi.py defines `application`, so the default web process is
 * `gunicorn mysite.wsgi:application ...`. Django and gunicorn are the test
 * index's stand-ins; manage.py is the app's own, and its collectstatic
 * (which the buildpack runs, as Heroku's does) writes staticfiles/ or, with
 * `failCollectstatic`, fails. */
export function djangoApp(label = 'django', options: { failCollectstatic?: boolean } = {}): Record<string, string> {
  const collect = options.failCollectstatic
    ? '    sys.exit("collectstatic: STATIC_ROOT is not set")\n'
    : [
        '    os.makedirs("staticfiles", exist_ok=True)',
        '    with open("staticfiles/site.css", "w") as f:',
        '        f.write("body {}\\n")',
        '    print("1 static file copied to staticfiles")',
      ].join('\n') + '\n';
  return {
    'requirements.txt': `Django==5.0.0\ngunicorn==23.0.0\nshipoff-greeting==${GREETING_VERSION}\n`,
    'manage.py': `#!/usr/bin/env python
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
if sys.argv[1:2] == ["collectstatic"]:
${collect}`,
    'mysite/__init__.py': '',
    'mysite/settings.py': 'STATIC_ROOT = "staticfiles"\n',
    'mysite/wsgi.py': `import os

from shipoff_greeting import greet

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")


def application(environ, start_response):
    body = (greet(${JSON.stringify(label)}) + "\\n").encode()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]
`,
  };
}
