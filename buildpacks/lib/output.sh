# shellcheck shell=bash
# Heroku-style build output, shared by the driver and the buildpacks:
# "-----> Step" headings and details indented by seven spaces, so a push
# shows the same shape of output whichever buildpack ran.

heading() { printf -- '-----> %s\n' "$*"; }
info() { printf '       %s\n' "$*"; }
warn() { printf ' !     %s\n' "$*"; }

# Indents a command's output line by line as it arrives (-u: no buffering, so
# a slow npm install shows progress while it runs, not at the end).
indent() { sed -u 's/^/       /'; }
