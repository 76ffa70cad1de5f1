#!/bin/sh
# Installs what the test suite needs beyond npm packages: nats-server, redis-server and etcd
# (etcd-server: the real kube-apiserver of ../shared/envtest stores in it; the Kubernetes suites
# skip without envtest) and chromium (the diagnostics page's browser test) from Debian's packages,
# only when they are missing. Runs apt-get as root, or through sudo.
set -eu
missing=""
command -v nats-server >/dev/null 2>&1 || missing="$missing nats-server"
command -v redis-server >/dev/null 2>&1 || missing="$missing redis-server"
command -v etcd >/dev/null 2>&1 || missing="$missing etcd-server"
# Chromium for the diagnostics page's browser test (driven by playwright-core).
[ -x /usr/bin/chromium ] || missing="$missing chromium"
if [ -z "$missing" ]; then
  echo "test prerequisites present: $(nats-server --version), $(redis-server --version | cut -d' ' -f1-3), $(etcd --version | head -1), $(/usr/bin/chromium --version 2>/dev/null)"
  exit 0
fi
echo "installing:$missing"
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
