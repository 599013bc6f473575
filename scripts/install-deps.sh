#!/usr/bin/env bash
# Installs what popek needs from Debian's packages, when it is missing.
set -euo pipefail

packages=(cmake make gcc pkg-config binutils gcc-multilib nasm
          libzydis-dev libcapstone-dev libxxhash-dev libcriterion-dev
          qemu-system-x86)  # the guest tests are cross-checked on QEMU TCG
[ "$#" -gt 0 ] && packages+=("$@")

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "popek: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q >&2
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
