#!/usr/bin/env bash
# Installs what Sluice needs to build, test and run on Debian 12, and nothing else;
# with --fuzz, also what `make fuzz` needs (clang 14, its sanitizer and libFuzzer
# runtimes, llvm-symbolizer), which `make test` does not.
# Idempotent: packages already present are not touched, and apt is not called at all
# when everything is there. Needs root (or sudo) only when something is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config git
  libboost1.81-dev libhiredis-dev libsimdjson-dev libyaml-cpp-dev
  prometheus-cpp-dev catch2 libssl-dev libpcre2-dev
  redis-server redis-tools openssl curl clang-format
)
# Node runs the real WebSocket clients of some tests (tests/node); any Node 18 or
# later will do, so one installed otherwise is left alone.
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)
if [ "${1:-}" = "--fuzz" ]; then
  packages=(clang-14 libclang-rt-14-dev llvm-14)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The Debian package enables a system-wide redis-server on 6379; Sluice's tests and
# `make run` start their own, so leave the system one as the operator had it.
