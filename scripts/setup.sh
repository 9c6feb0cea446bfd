#!/usr/bin/env bash
# Installs every Debian package duroxide-pg needs to build, test and benchmark.
# Idempotent: packages already present are skipped, so a second run is quick.
set -euo pipefail

packages=(
  build-essential g++ clang libclang-rt-14-dev llvm
  meson ninja-build pkg-config
  libpq-dev libuv1-dev libssl-dev libcurl4-openssl-dev libsimdjson-dev doctest-dev
  postgresql-15 postgresql-client-15 postgresql-contrib
  python3 procps util-linux iproute2
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
