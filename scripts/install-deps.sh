#!/usr/bin/env bash
# Installs what vramq needs to build and test on Debian 12. Idempotent and non-interactive:
# a no-op (no apt-get at all) when every package is already installed.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev libsqlite3-dev sqlite3 libtomlplusplus-dev libcli11-dev libspdlog-dev libfmt-dev libre2-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  python3 python3-pytest python3-pytest-xdist python3-requests python3-jsonschema python3-fastapi python3-uvicorn
  python3-pip python3-setuptools  # `pip install ./python` (the client), tested in the e2e suite
  python3-numpy python3-pil       # examples/image-to-mesh (its worker), run in the e2e suite
  wrk
  prometheus  # for promtool (checks GET /metrics and contrib/'s rules); on a host with systemd
              # it also starts a Prometheus server (systemctl disable --now prometheus)
  clang-format clang-tidy curl procps
  chromium nodejs  # the dashboard's browser tests (playwright-core, from npm, needs Node.js >= 20)
  slurmctld slurmd slurm-client munge  # the Slurm executor's e2e suite starts a one-node cluster
)

# `--fuzz`: what `make fuzz` needs on top (clang-16 and libFuzzer); not needed by `make test`.
if [ "${1:-}" = "--fuzz" ]; then
  packages+=(clang-16 libfuzzer-16-dev libclang-rt-16-dev)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}; run as root (or: sudo $0)" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
