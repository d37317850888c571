# Sourced by CI and scripts: starts Debian's PostgreSQL 15 cluster and creates a test role and
# database. Sets PG_URL.
start_postgres() {
  local sudo_pg=(runuser -u postgres --)
  [ "$(id -u)" -eq 0 ] || sudo_pg=(sudo -u postgres)
  if ! pg_lsclusters -h 2>/dev/null | grep -q .; then
    ${SUDO:-} pg_createcluster 15 main >/dev/null
  fi
  ${SUDO:-} pg_ctlcluster 15 main start 2>/dev/null || true
  for _ in $(seq 1 50); do
    "${sudo_pg[@]}" psql -qtAc 'SELECT 1' >/dev/null 2>&1 && break
    sleep 0.2
  done
  # Tests run many small pools side by side; the default of 100 connections is too few.
  if [ "$("${sudo_pg[@]}" psql -qtAc 'SHOW max_connections')" -lt 400 ]; then
    "${sudo_pg[@]}" psql -qc "ALTER SYSTEM SET max_connections = 400" >/dev/null
    ${SUDO:-} pg_ctlcluster 15 main restart
    for _ in $(seq 1 50); do
      "${sudo_pg[@]}" psql -qtAc 'SELECT 1' >/dev/null 2>&1 && break
      sleep 0.2
    done
  fi
  "${sudo_pg[@]}" psql -qtAc "SELECT 1 FROM pg_roles WHERE rolname='services'" | grep -q 1 \
    || "${sudo_pg[@]}" psql -qc "CREATE ROLE services LOGIN SUPERUSER PASSWORD 'services'"
  "${sudo_pg[@]}" psql -qtAc "SELECT 1 FROM pg_database WHERE datname='services_test'" | grep -q 1 \
    || "${sudo_pg[@]}" psql -qc "CREATE DATABASE services_test OWNER services"
  PG_URL="postgres://services:services@127.0.0.1:5432/services_test"
  export PG_URL
}
