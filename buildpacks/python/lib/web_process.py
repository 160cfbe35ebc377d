"""Prints the default `web` command for a Python app, or nothing.

    python3 web_process.py BUILD_DIR

A default exists when gunicorn is installed in the app's virtualenv and a WSGI
application can be found in the code: wsgi.py or app.py defining `application`
or `app` at module level, or, for Django (manage.py), the project's wsgi.py.
The files are parsed with `ast`, never imported: app code does not run here.
With no default, prints why on stderr (for compile's warning) and exits 1.
"""

import ast
import glob
import os
import re
import sys

VENV_GUNICORN = ".heroku/python/bin/gunicorn"


def module_names(path):
    """Names bound at the top level of a Python file ({} if it does not parse)."""
    try:
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), filename=path)
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return set()
    names = set()
    for node in tree.body:
        if isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def callable_in(build_dir, relpath, preferred):
    path = os.path.join(build_dir, relpath)
    if not os.path.isfile(path) or os.path.islink(path):
        return None
    names = module_names(path)
    for name in preferred:
        if name in names:
            return name
    return None


def django_wsgi_module(build_dir):
    """`project.wsgi` for a Django app: from DJANGO_SETTINGS_MODULE in
    manage.py when it names a package with a wsgi.py, else the only */wsgi.py."""
    manage = os.path.join(build_dir, "manage.py")
    if not os.path.isfile(manage) or os.path.islink(manage):
        return None
    try:
        with open(manage, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError):
        text = ""
    m = re.search(r"""DJANGO_SETTINGS_MODULE['"]\s*,\s*['"]([A-Za-z_][\w]*)\.""", text)
    if m and callable_in(build_dir, f"{m.group(1)}/wsgi.py", ["application"]):
        return f"{m.group(1)}.wsgi"
    found = [p for p in glob.glob(os.path.join(build_dir, "*", "wsgi.py")) if callable_in(build_dir, os.path.relpath(p, build_dir), ["application"])]
    if len(found) == 1:
        return os.path.basename(os.path.dirname(found[0])) + ".wsgi"
    return None


def wsgi_target(build_dir):
    for module, preferred in (("wsgi", ["application", "app"]), ("app", ["app", "application"])):
        name = callable_in(build_dir, f"{module}.py", preferred)
        if name:
            return f"{module}:{name}"
    django = django_wsgi_module(build_dir)
    return f"{django}:application" if django else None


def main(argv):
    build_dir = argv[1] if len(argv) > 1 else "."
    if not os.path.exists(os.path.join(build_dir, VENV_GUNICORN)):
        print("gunicorn is not among the dependencies", file=sys.stderr)
        return 1
    target = wsgi_target(build_dir)
    if not target:
        print("gunicorn is installed but no WSGI application was found (wsgi.py or app.py defining `application` or `app`, or a Django project's wsgi.py)", file=sys.stderr)
        return 1
    print(f"gunicorn {target} --bind 0.0.0.0:$PORT")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
