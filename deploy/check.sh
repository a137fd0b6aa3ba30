#!/usr/bin/env bash
# Checks everything in deploy/ that can be checked on one machine without a container
# engine or a cluster. Usage: deploy/check.sh [BUILD_DIR]  (default build/release; the
# sluice binary there must be built). Needs systemd (systemd-analyze), kubectl (its
# built-in kustomize) and node/npm (fetches the packages in deploy/check/package.json).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$(cd "${1:-$root/build/release}" && pwd)"
sluice="$build/sluice"
work="$(mktemp -d /tmp/sluice-deploy-check-XXXXXX)"
trap 'rm -rf "$work"' EXIT

echo "== systemd unit: installed with a scratch prefix, so the paths it names exist"
cmake -S "$root" -B "$work/build" -DSLUICE_BUILD_TESTS=OFF -DCMAKE_INSTALL_PREFIX="$work/prefix" >/dev/null
# The unit is generated at configure time; install it and the binary by hand from there.
install -D "$sluice" "$work/prefix/bin/sluice"
install -D -m 644 "$work/build/install/sluice.service" "$work/prefix/lib/systemd/system/sluice.service"
install -D -m 644 "$work/build/install/sluice.yaml" "$work/prefix/etc/sluice/sluice.yaml"
cp -r "$root/schemas" "$work/prefix/etc/sluice/schemas"
unit="$work/prefix/lib/systemd/system/sluice.service"
"$work/prefix/bin/sluice" --check-config --config "$work/prefix/etc/sluice/sluice.yaml"
systemd-analyze verify "$unit"
echo "systemd-analyze verify: clean"
systemd-analyze security --offline=yes "$unit" | tail -n 1

echo "== configs the deployments use"
"$sluice" --check-config --config "$root/deploy/kubernetes/base/sluice.yaml"
mkdir -p "$work/overlay" && cp "$root/deploy/kubernetes/overlays/sentinel/sluice.yaml" "$work/overlay/"
cp -r "$root/deploy/kubernetes/base/schemas" "$work/overlay/schemas"
"$sluice" --check-config --config "$work/overlay/sluice.yaml"
SLUICE_SCHEMAS_DIR="$root/schemas" "$sluice" --check-config --config "$root/config/sluice.yaml"
diff -r "$root/schemas" "$root/deploy/kubernetes/base/schemas" \
  && echo "deploy/kubernetes/base/schemas: the same as schemas/"

echo "== Kubernetes: kustomize render, API schemas, Sluice's rules; Compose spec schema"
kubectl kustomize "$root/deploy/kubernetes/base" > "$work/base.yaml"
kubectl kustomize "$root/deploy/kubernetes/overlays/sentinel" > "$work/sentinel.yaml"
(cd "$root/deploy/check" && npm ci --no-audit --no-fund --silent 2>/dev/null || npm install --no-audit --no-fund --silent)
node "$root/deploy/check/validate.mjs" "$work/base.yaml" "$work/sentinel.yaml" \
  --compose "$root/deploy/compose.yaml" --config "$root/config/sluice.yaml"
