"""Turns a lockfile into a pip requirements file, for `pip install --no-deps -r`.

    python3 locked_requirements.py poetry|uv|pipenv BUILD_DIR

Poetry, uv and pipenv themselves cannot be installed during the build (their
own index may be unreachable), but their lockfiles already pin every package:
pip can install exactly those versions. Only what the app needs at run time is
kept: Poetry's "main" group, uv's project dependencies (no dev groups, no
extras the project did not ask for), Pipfile.lock's "default" section.
Environment markers are evaluated here, for this Python, as the tools do.

Prints the requirements on stdout, one line each ("name==1.2.3 --hash=..."),
with hashes only when every package has them (pip's hash-checking mode is all
or nothing). Exits 2 with a one-line reason on stderr when the lockfile cannot
be used. The files are parsed as data (tomllib, json); nothing is executed.
"""

import json
import os
import re
import sys
import tomllib

try:  # pip's own copy of `packaging`, present wherever pip is
    from pip._vendor.packaging.markers import Marker, InvalidMarker
    from pip._vendor.packaging.requirements import Requirement, InvalidRequirement
except ImportError:  # pragma: no cover - then every marker counts as true
    Marker = Requirement = None
    InvalidMarker = InvalidRequirement = ValueError


class LockError(Exception):
    pass


def normalize(name):
    """PEP 503 name normalization: Django, django and DJANGO are one package."""
    return re.sub(r"[-_.]+", "-", str(name)).lower()


def marker_applies(marker):
    """Whether an environment marker holds for this Python on this stack."""
    if not marker or Marker is None:
        return True
    try:
        return Marker(marker).evaluate({"extra": ""})
    except InvalidMarker:
        return True  # let pip report it, with the package's name


def read_toml(path, what):
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise LockError(f"{what} is missing")
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise LockError(f"{what} is not valid TOML: {e}")


def extras_name(name):
    """`requests[socks] (>=2)` -> ("requests", ["socks"])."""
    m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?", name)
    if not m:
        return None, []
    extras = [e.strip() for e in (m.group(2) or "").split(",") if e.strip()]
    return m.group(1), extras


class Pin:
    """One requirement line."""

    def __init__(self, name, spec, hashes=()):
        self.name, self.spec, self.hashes = name, spec, list(hashes)

    def line(self, with_hashes):
        text = self.spec
        if with_hashes:
            text += "".join(f" --hash={h}" for h in self.hashes)
        return text


# --- Poetry ------------------------------------------------------------------

def poetry_roots(pyproject):
    """The main dependencies declared in pyproject.toml, as (name, extras)."""
    roots = []
    tool = pyproject.get("tool", {}).get("poetry", {})
    for name, spec in tool.get("dependencies", {}).items():
        if normalize(name) == "python":
            continue
        extras = []
        if isinstance(spec, dict):
            if spec.get("optional"):
                continue
            if not marker_applies(spec.get("markers")):
                continue
            extras = spec.get("extras", [])
        elif isinstance(spec, list):  # several constraints (per platform): any may apply
            extras = [e for s in spec if isinstance(s, dict) for e in s.get("extras", [])]
        roots.append((name, extras))
    for text in pyproject.get("project", {}).get("dependencies", []):  # Poetry 2: PEP 621
        roots.extend(pep508_root(text))
    return roots


def pep508_root(text):
    if Requirement is None:
        name, extras = extras_name(text)
        return [(name, extras)] if name else []
    try:
        req = Requirement(text)
    except InvalidRequirement:
        return []
    if req.marker and not req.marker.evaluate({"extra": ""}):
        return []
    return [(req.name, sorted(req.extras))]


def poetry_pin(pkg):
    name, version = pkg["name"], pkg["version"]
    source = pkg.get("source", {}) or {}
    kind = source.get("type")
    hashes = [f["hash"] for f in pkg.get("files", []) if isinstance(f, dict) and f.get("hash")]
    if kind == "git":
        ref = source.get("resolved_reference") or source.get("reference") or ""
        sub = f"#subdirectory={source['subdirectory']}" if source.get("subdirectory") else ""
        return Pin(name, f"{name} @ git+{source['url']}@{ref}{sub}")
    if kind in ("directory", "file"):
        return Pin(name, f"{name} @ file://{os.path.abspath(source['url'])}")
    if kind == "url":
        return Pin(name, f"{name} @ {source['url']}", hashes)
    return Pin(name, f"{name}=={version}", hashes)


def poetry(build_dir):
    pyproject = read_toml(os.path.join(build_dir, "pyproject.toml"), "pyproject.toml")
    lock = read_toml(os.path.join(build_dir, "poetry.lock"), "poetry.lock")
    packages = lock.get("package", [])
    if not isinstance(packages, list):
        raise LockError("poetry.lock has no [[package]] entries")
    pins = {}
    if any("groups" in p for p in packages):
        # Poetry 2 lockfiles say which group needs each package, and when.
        for pkg in packages:
            if "main" not in pkg.get("groups", []):
                continue
            marker = pkg.get("markers")
            if isinstance(marker, dict):
                marker = marker.get("main")
            if marker_applies(marker):
                pins[normalize(pkg["name"])] = poetry_pin(pkg)
        return list(pins.values())
    # Older lockfiles (Poetry 1.x): walk the graph from pyproject's main
    # dependencies, the way `poetry install --only main` does.
    by_name = {normalize(p["name"]): p for p in packages}
    todo = list(poetry_roots(pyproject))
    seen = {}
    while todo:
        name, extras = todo.pop()
        key = normalize(name)
        pkg = by_name.get(key)
        if pkg is None:
            continue  # e.g. a dependency only for another platform, never locked
        wanted = set(extras) - seen.get(key, set())
        if key in seen and not wanted:
            continue
        first = key not in seen
        seen.setdefault(key, set()).update(extras)
        optional_wanted = set()
        for extra in wanted:
            for text in pkg.get("extras", {}).get(extra, []):
                dep, dep_extras = extras_name(text)
                if dep:
                    optional_wanted.add(normalize(dep))
        for dep, spec in pkg.get("dependencies", {}).items():
            specs = spec if isinstance(spec, list) else [spec]
            for s in specs:
                table = s if isinstance(s, dict) else {}
                optional = table.get("optional", False)
                if optional and normalize(dep) not in optional_wanted:
                    continue
                if not optional and not first:
                    continue  # already followed when the package was first seen
                if marker_applies(table.get("markers")):
                    todo.append((dep, table.get("extras", [])))
                    break
        pins[key] = poetry_pin(pkg)
    return list(pins.values())


# --- uv ----------------------------------------------------------------------

def uv_pin(pkg, build_dir):
    name, version = pkg["name"], pkg.get("version", "")
    source = pkg.get("source", {}) or {}
    hashes = []
    if isinstance(pkg.get("sdist"), dict) and pkg["sdist"].get("hash"):
        hashes.append(pkg["sdist"]["hash"])
    hashes += [w["hash"] for w in pkg.get("wheels", []) if isinstance(w, dict) and w.get("hash")]
    if "git" in source:
        url, _, commit = source["git"].partition("#")
        base = url.split("?", 1)[0]
        return Pin(name, f"{name} @ git+{base}@{commit}")
    if "url" in source:
        return Pin(name, f"{name} @ {source['url']}", hashes)
    for kind in ("path", "directory", "editable", "virtual"):
        if kind in source:
            path = os.path.normpath(os.path.join(build_dir, source[kind]))
            return Pin(name, f"{name} @ file://{path}")
    return Pin(name, f"{name}=={version}", hashes)


def uv(build_dir):
    pyproject = read_toml(os.path.join(build_dir, "pyproject.toml"), "pyproject.toml")
    lock = read_toml(os.path.join(build_dir, "uv.lock"), "uv.lock")
    packages = lock.get("package", [])
    by_name = {}
    for pkg in packages:
        by_name.setdefault(normalize(pkg.get("name", "")), []).append(pkg)
    project = normalize(pyproject.get("project", {}).get("name", ""))
    roots = by_name.get(project) if project else None
    if not roots:
        raise LockError(
            f"uv.lock has no entry for the project in pyproject.toml ({project or 'no [project] name'}): "
            "run `uv lock` and commit uv.lock"
        )
    root = roots[0]

    def resolve(dep):
        candidates = by_name.get(normalize(dep.get("name", "")), [])
        if "version" in dep:
            candidates = [c for c in candidates if c.get("version") == dep["version"]] or candidates
        if len(candidates) > 1:  # a forked resolution: one version per environment
            fitting = [c for c in candidates if any(marker_applies(m) for m in c.get("resolution-markers", [""]))]
            candidates = fitting or candidates
        return candidates[0] if candidates else None

    pins = {}
    done = set()
    todo = [(root, ())]
    while todo:
        pkg, extras = todo.pop()
        key = (normalize(pkg["name"]), pkg.get("version"))
        edges = [] if key in done else list(pkg.get("dependencies", []))
        done.add(key)
        for extra in extras:
            if (key, extra) in done:
                continue
            done.add((key, extra))
            edges += pkg.get("optional-dependencies", {}).get(extra, [])
        for dep in edges:
            if not marker_applies(dep.get("marker")):
                continue
            target = resolve(dep)
            if target is None:
                raise LockError(f"uv.lock lists {dep.get('name')} as a dependency but has no entry for it: run `uv lock` again")
            todo.append((target, tuple(dep.get("extra", []))))
        if pkg is not root:
            pins[key] = uv_pin(pkg, build_dir)
    return list(pins.values())


# --- pipenv ------------------------------------------------------------------

def pipenv(build_dir):
    path = os.path.join(build_dir, "Pipfile.lock")
    try:
        with open(path, encoding="utf-8") as f:
            lock = json.load(f)
    except (ValueError, UnicodeDecodeError) as e:
        raise LockError(f"Pipfile.lock is not valid JSON: {e}")
    default = lock.get("default") if isinstance(lock, dict) else None
    if not isinstance(default, dict):
        raise LockError('Pipfile.lock has no "default" section: run `pipenv lock` and commit Pipfile.lock')
    pins = []
    for name, entry in default.items():
        if not isinstance(entry, dict):
            continue
        if not marker_applies(entry.get("markers")):
            continue
        extras = entry.get("extras") or []
        full = f"{name}[{','.join(extras)}]" if extras else name
        if "git" in entry:
            ref = entry.get("ref", "")
            pins.append(Pin(name, f"{full} @ git+{entry['git']}@{ref}" if ref else f"{full} @ git+{entry['git']}"))
        elif "path" in entry or "file" in entry:
            target = entry.get("path") or entry.get("file")
            if os.path.normpath(target) == ".":
                continue  # the app itself: it runs from /app
            if "://" not in target:
                target = "file://" + os.path.normpath(os.path.join(build_dir, target))
            pins.append(Pin(name, f"{full} @ {target}"))
        elif isinstance(entry.get("version"), str):
            pins.append(Pin(name, f"{full}{entry['version']}", entry.get("hashes") or []))
        else:
            raise LockError(f'Pipfile.lock: {name} has no "version": run `pipenv lock` and commit Pipfile.lock')
    return pins


def main(argv):
    if len(argv) != 3 or argv[1] not in ("poetry", "uv", "pipenv"):
        print("usage: locked_requirements.py poetry|uv|pipenv BUILD_DIR", file=sys.stderr)
        return 64
    build_dir = os.path.abspath(argv[2])
    try:
        pins = {"poetry": poetry, "uv": uv, "pipenv": pipenv}[argv[1]](build_dir)
    except LockError as e:
        print(str(e), file=sys.stderr)
        return 2
    except (KeyError, TypeError, AttributeError) as e:
        print(f"the lockfile does not have the expected shape ({type(e).__name__}: {e})", file=sys.stderr)
        return 2
    with_hashes = bool(pins) and all(p.hashes for p in pins)
    for pin in sorted(pins, key=lambda p: normalize(p.name)):
        print(pin.line(with_hashes))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
