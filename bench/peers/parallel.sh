#!/usr/bin/env bash
# Installs GNU parallel from Debian's packages, a reference peer of
# bench/throughput_bench.py. Idempotent.
set -euo pipefail
command -v parallel >/dev/null && exit 0
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq parallel >/dev/null
command -v parallel
