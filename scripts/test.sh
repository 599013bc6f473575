#!/usr/bin/env bash
# Installs what is needed, builds popek twice (release, ASan+UBSan) and
# runs every test in both: unit tests, guest tests on every engine,
# differential tests.
set -euo pipefail
top="$(cd "$(dirname "$0")/.." && pwd)"
"$top/scripts/install-deps.sh"
jobs="$(nproc)"

"$top/scripts/build.sh" "$top/build"
(cd "$top/build" && ctest --output-on-failure -j"$jobs")

"$top/scripts/build.sh" "$top/build-asan" -DPOPEK_SANITIZE=ON
(cd "$top/build-asan" && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j"$jobs")
