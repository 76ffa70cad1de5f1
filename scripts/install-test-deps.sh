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
# kubectl drives the real API server suites (apply -k k8s/, the Argo flow, ingestor HA); Debian's
# kubernetes-client is 1.20, the version of ../shared/envtest's kube-apiserver.
command -v kubectl >/dev/null 2>&1 || missing="$missing kubernetes-client"
# Chromium for the diagnostics page's browser test (driven by playwright-core).
[ -x /usr/bin/chromium ] || missing="$missing chromium"
# Emissary's own compiler (../shared/emissary-reference, the team kit beside the project) runs the
# differential tests; its setup.sh installs the Python modules it imports. Without the kit, or if
# that install fails, the differential tests skip and say why.
# It is looked for where the tests look: beside the project, or one level further up (worktrees).
root="$(cd "$(dirname "$0")/.." && pwd)"
reference=""
for candidate in "$root/../shared/emissary-reference/setup.sh" "$root/../../shared/emissary-reference/setup.sh"; do
  if [ -z "$reference" ] && [ -f "$candidate" ]; then reference="$candidate"; fi
done
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
if [ -n "$reference" ]; then
  $SUDO bash "$reference" || echo "warning: $reference failed; the differential tests will skip" >&2
fi
if [ -z "$missing" ]; then
  echo "test prerequisites present: $(nats-server --version), $(redis-server --version | cut -d' ' -f1-3), $(etcd --version | head -1), kubectl $(kubectl version --client 2>/dev/null | head -1), $(/usr/bin/chromium --version 2>/dev/null)"
  exit 0
fi
echo "installing:$missing"
$SUDO apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
