#!/usr/bin/env bash
# Installs what is needed, builds popek and runs the bundled demo guest.
set -euo pipefail
top="$(cd "$(dirname "$0")/.." && pwd)"
"$top/scripts/install-deps.sh"
"$top/scripts/build.sh" "$top/build"
exec "$top/build/cli/popek" run "$top/build/tests/guests/demo.elf" "$@"
