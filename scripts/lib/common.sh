# shellcheck shell=bash
# Helpers shared by scripts/setup and buildpacks/stack/build-stack-image.
# Source it; it defines functions only and changes no shell options.

# One line per step: "-----> Docker engine: running (20.10.24)".
step() { printf -- '-----> %s\n' "$*"; }

# Indented detail under a step.
info() { printf -- '       %s\n' "$*"; }

# Failure: " !     what failed" (+ optional lines saying what to do), exit 1.
die() {
  local line
  for line in "$@"; do printf -- ' !     %s\n' "$line" >&2; done
  exit 1
}

# Seconds since the epoch with milliseconds, for "took 1.2s" lines.
now_ms() { date +%s%3N; }
elapsed_since() { # $1 = start from now_ms
  local ms=$(( $(now_ms) - $1 ))
  printf '%d.%ds' "$(( ms / 1000 ))" "$(( (ms % 1000) / 100 ))"
}

is_debian() { [[ -r /etc/debian_version ]] && command -v apt-get >/dev/null 2>&1; }
is_root() { [[ "$(id -u)" == 0 ]]; }

# True when apt has package lists to install from.
apt_has_lists() {
  compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null
}

# apt_install PKG... : install Debian packages quietly, without starting any
# service (a temporary policy-rc.d answers 101 to every invoke-rc.d), and run
# `apt-get update` first only when there are no lists, or once more when the
# install fails (stale lists give 404s).
apt_install() {
  local policy=/usr/sbin/policy-rc.d own_policy=0 rc=0
  if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\n# written by shipoff scripts: start no services during install\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    own_policy=1
  fi
  if ! apt_has_lists; then
    apt-get update -qq >/dev/null 2>&1 || rc=$?
  fi
  if (( rc == 0 )); then
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1; then
      apt-get update -qq >/dev/null 2>&1 || true
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null || rc=$?
    fi
  fi
  if (( own_policy )); then rm -f "$policy"; fi
  return "$rc"
}
