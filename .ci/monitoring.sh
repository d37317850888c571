#!/usr/bin/env bash
# The monitoring checks (README, "Operating it"): the Prometheus, Alertmanager and blackbox
# exporter configurations, the rules and their promtool unit tests, and monitoring/check.py
# (the dashboard's expressions, the runbook table, and every series the rules and the
# dashboard read in the start-up scrape of the three debug binaries).
#
# Installs what is missing: Debian's prometheus (promtool), prometheus-alertmanager (amtool)
# and prometheus-blackbox-exporter, and a virtual environment with monitoring/requirements.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
APT=(apt-get -o DPkg::Lock::Timeout=600)
started=$SECONDS
section() { printf -- '--- %s\n' "$*"; }

need=()
command -v promtool >/dev/null || need+=(prometheus)
command -v amtool >/dev/null || need+=(prometheus-alertmanager)
command -v prometheus-blackbox-exporter >/dev/null || need+=(prometheus-blackbox-exporter)
if [ ${#need[@]} -gt 0 ]; then
  section "installing ${need[*]}"
  $SUDO "${APT[@]}" update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO "${APT[@]}" install -y -q --no-install-recommends "${need[@]}" >/dev/null
fi

# One environment per version of the requirements, kept between runs.
venv="${XDG_CACHE_HOME:-$HOME/.cache}/monitoring-venv-$(sha256sum monitoring/requirements.txt | cut -c1-12)"
if ! "$venv/bin/python" -c 'import promql_parser, prometheus_client, yaml' 2>/dev/null; then
  section "installing monitoring/requirements.txt into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r monitoring/requirements.txt
fi

section "promtool check config monitoring/prometheus.yml (and the rule files it loads)"
promtool check config monitoring/prometheus.yml
section "promtool check rules monitoring/rules/*.yml"
promtool check rules monitoring/rules/*.yml
section "promtool test rules monitoring/tests/*.test.yml"
promtool test rules monitoring/tests/*.test.yml
section "amtool check-config monitoring/alertmanager.yml"
amtool check-config monitoring/alertmanager.yml
section "blackbox exporter --config.check monitoring/blackbox.yml"
prometheus-blackbox-exporter --config.check --config.file=monitoring/blackbox.yml 2>&1 | grep -i 'config' >&2

section "monitoring/check.py (builds the three debug binaries first)"
cargo build --locked -q -p contacts -p calendar -p notifications
"$venv/bin/python" monitoring/check.py --bin-dir "${CARGO_TARGET_DIR:-target}/debug"

echo "monitoring checks passed in $((SECONDS - started))s"
