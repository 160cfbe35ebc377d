"""Checks the Python version the app's metadata requires against this Python.

    python3 python_requires.py BUILD_DIR

Reads pyproject.toml's [project] requires-python (PEP 440, as pip and uv read
it) and Pipfile.lock's _meta.requires (python_version / python_full_version).
For each requirement this Python does not satisfy, prints one line
"FILE<TAB>what it requires" and exits 1; prints nothing and exits 0 otherwise.
Unreadable files are left to the package manager step to report.
"""

import json
import os
import platform
import sys
import tomllib

try:
    from pip._vendor.packaging.specifiers import SpecifierSet, InvalidSpecifier
except ImportError:  # pragma: no cover - then nothing can be checked
    SpecifierSet = None


def regular(build_dir, name):
    path = os.path.join(build_dir, name)
    return path if os.path.isfile(path) and not os.path.islink(path) else None


def requirements(build_dir):
    """(file, PEP 440 specifier, as written) for every declared requirement."""
    found = []
    path = regular(build_dir, "pyproject.toml")
    if path:
        try:
            with open(path, "rb") as f:
                spec = tomllib.load(f).get("project", {}).get("requires-python")
        except (OSError, ValueError):
            spec = None
        if isinstance(spec, str) and spec.strip():
            found.append(("pyproject.toml", spec, f'requires-python = "{spec}"'))
    path = regular(build_dir, "Pipfile.lock")
    if path:
        try:
            with open(path, encoding="utf-8") as f:
                requires = json.load(f).get("_meta", {}).get("requires", {})
        except (OSError, ValueError, AttributeError):
            requires = {}
        if isinstance(requires, dict):
            if isinstance(requires.get("python_full_version"), str):
                v = requires["python_full_version"]
                found.append(("Pipfile.lock", f"=={v}.*" if v.count(".") < 2 else f"=={v}", f'python_full_version "{v}"'))
            elif isinstance(requires.get("python_version"), str):
                v = requires["python_version"]
                found.append(("Pipfile.lock", f"=={v}.*", f'python_version "{v}"'))
    return found


def main(argv):
    if SpecifierSet is None:
        return 0
    version = platform.python_version()
    unmet = []
    for name, spec, written in requirements(argv[1]):
        try:
            if not SpecifierSet(spec).contains(version, prereleases=True):
                unmet.append(f"{name}\t{written}")
        except InvalidSpecifier:
            continue  # pip reports a malformed specifier itself
    if unmet:
        print("\n".join(unmet))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
