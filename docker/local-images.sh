#!/usr/bin/env bash
# Makes the base images that the Dockerfile and docker-compose.yml name available on a machine
# that cannot pull from a registry, built from local material under the official tags:
#
#   debian:bookworm-slim      debootstrap (minbase, slimmed like the official image)
#   rust:<x.y>-slim-bookworm  that base + Debian's gcc/libc6-dev + this machine's Rust toolchain
#   postgres:15-bookworm      that base + Debian's postgresql-15 + docker/local/postgres-entrypoint.sh
#   maildev/maildev:2.2.1     that base + Debian's nodejs + maildev from the npm registry
#   prom/prometheus:v2.42.0, prom/alertmanager:v0.25.0, prom/blackbox-exporter:v0.23.0
#                             that base + Debian's prometheus, prometheus-alertmanager and
#                             prometheus-blackbox-exporter (the versions Debian ships)
#
# For each tag: present already -> kept; else `docker pull` is tried (works wherever a registry
# is reachable, and then the real image is used); else it is built here. The stand-ins carry the
# label local-stand-in=true (`docker images --filter label=local-stand-in=true` lists them).
# Usage: docker/local-images.sh [--with-profiles] [--with-monitoring]
#   --with-profiles    also the images of every profile (postgres, mail catcher, monitoring)
#   --with-monitoring  also the monitoring profile's images
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LOCAL="$ROOT/docker/local"
log() { printf '[local-images] %s\n' "$*" >&2; }
TMP_DIRS=()
trap 'rm -rf "${TMP_DIRS[@]}"' EXIT
# scratch VAR PREFIX: a new folder under /var/tmp (large, same filesystem as the toolchain for
# hard links), removed on exit whatever happens.
scratch() { local d; d=$(mktemp -d "/var/tmp/$2.XXXXXX"); TMP_DIRS+=("$d"); printf -v "$1" '%s' "$d"; }

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

# The tag a Dockerfile stage starts FROM (first match), e.g. from_tag 'rust:' -> rust:1.95-slim-bookworm.
from_tag() { sed -n "s/^FROM[[:space:]]\+\($1[^[:space:]]*\).*/\1/p" "$ROOT/Dockerfile" | head -1; }
compose_image() { sed -n "s|^[[:space:]]*image:[[:space:]]*\($1[^[:space:]]*\).*|\1|p" "$ROOT/docker-compose.yml" | head -1; }

# try_pull TAG: true when the tag is present afterwards.
try_pull() {
  have_image "$1" && return 0
  if timeout 300 docker pull -q "$1" >/dev/null 2>&1; then log "pulled $1"; return 0; fi
  return 1
}

build_debian() {
  local tag=$1 suite=${1#debian:}; suite=${suite%-slim}
  try_pull "$tag" && return 0
  command -v debootstrap >/dev/null || { log "installing debootstrap"; apt_install debootstrap; }
  local work; scratch work debian-rootfs
  log "debootstrap $suite into $work (about 30 s)"
  if ! debootstrap --variant=minbase "$suite" "$work/rootfs" http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1; then
    tail -20 "$work/debootstrap.log" >&2; return 1
  fi
  local r="$work/rootfs"
  # What the official slim image does: no docs/man/locales now or in later installs, no
  # leftover package files, services never started by postinst, the usual APT sources.
  cat >"$r/etc/dpkg/dpkg.cfg.d/docker" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
CFG
  cat >"$r/etc/apt/apt.conf.d/docker-clean" <<'CFG'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
CFG
  echo 'Acquire::Languages "none";' >"$r/etc/apt/apt.conf.d/docker-no-languages"
  printf '#!/bin/sh\nexit 101\n' >"$r/usr/sbin/policy-rc.d"; chmod 755 "$r/usr/sbin/policy-rc.d"
  rm -f "$r/etc/apt/sources.list"
  cat >"$r/etc/apt/sources.list.d/debian.sources" <<CFG
Types: deb
URIs: http://deb.debian.org/debian
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
CFG
  find "$r/usr/share/doc" -mindepth 2 ! -name copyright -type f -delete 2>/dev/null || true
  find "$r/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
  rm -rf "$r"/usr/share/{man,groff,info,lintian,linda}/* "$r"/var/cache/apt/archives/*.deb \
    "$r"/var/lib/apt/lists/* "$r"/var/log/*.log "$r"/var/log/apt/* "$r"/tmp/* "$r/etc/hostname"
  find "$r/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} + 2>/dev/null || true
  : >"$r/etc/machine-id"; printf 'nameserver 127.0.0.1\n' >"$r/etc/resolv.conf"
  log "importing as $tag"
  tar --numeric-owner -C "$r" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' --change 'LABEL local-stand-in=true' - "$tag" >/dev/null
  rm -rf "$work"
}

build_rust() {
  local tag=$1 want=${1#rust:}; want=${want%%-*}
  try_pull "$tag" && return 0
  command -v rustc >/dev/null || { log "no Rust toolchain on this machine to make $tag from"; return 1; }
  local sysroot version
  sysroot=$(rustc --print sysroot); version=$(rustc --version | awk '{print $2}')
  case "$version" in
    "$want" | "$want".*) ;;
    *) log "$tag needs Rust $want, this machine has $version"; return 1 ;;
  esac
  local ctx; scratch ctx rust-image
  # Hard links: the 600 MB toolchain is not copied on disk (same filesystem), only sent to dockerd.
  mkdir -p "$ctx/toolchain/bin" "$ctx/toolchain/lib" "$ctx/ca"
  cp -al "$sysroot"/bin/{cargo,rustc,rustdoc} "$ctx/toolchain/bin/"
  cp -al "$sysroot"/lib/*.so* "$ctx/toolchain/lib/"
  cp -al "$sysroot/lib/rustlib" "$ctx/toolchain/lib/"
  rm -rf "$ctx/toolchain/lib/rustlib/"{components,etc,manifest-*,multirust-*,rust-installer-version}
  [ -d "$sysroot/libexec" ] && cp -al "$sysroot/libexec" "$ctx/toolchain/"
  # Certificate authorities this machine adds to the system store (an HTTPS-inspecting egress
  # proxy, for instance), so cargo inside the build can reach crates.io as the host does.
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$ctx/ca/"
  fi
  cp "$LOCAL/rust.Dockerfile" "$ctx/Dockerfile"
  log "building $tag from this machine's Rust $version (about a minute)"
  docker build -q --build-arg "RUST_VERSION=$version" --build-arg "BASE=$(from_tag 'debian:')" \
    -t "$tag" "$ctx" >/dev/null
  rm -rf "$ctx"
}

build_from_dockerfile() { # tag dockerfile [context dir]
  local tag=$1 file=$2
  try_pull "$tag" && return 0
  log "building $tag from $file"
  docker build -q --build-arg "BASE=$(from_tag 'debian:')" -t "$tag" -f "$LOCAL/$file" "$LOCAL" >/dev/null
}

build_maildev() {
  local tag=$1 version=${1##*:}
  try_pull "$tag" && return 0
  command -v npm >/dev/null || { log "npm is needed to make $tag"; return 1; }
  local ctx; scratch ctx maildev-image
  log "installing maildev@$version from the npm registry for $tag"
  mkdir -p "$ctx/maildev"
  (cd "$ctx/maildev" && echo '{"private":true}' >package.json \
    && npm install --silent --omit=dev --no-audit --no-fund "maildev@$version" >/dev/null)
  cp "$LOCAL/maildev.Dockerfile" "$ctx/Dockerfile"
  log "building $tag"
  docker build -q --build-arg "BASE=$(from_tag 'debian:')" -t "$tag" "$ctx" >/dev/null
  rm -rf "$ctx"
}

apt_install() {
  local sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -q \
    --no-install-recommends "$@" >/dev/null
}

main() {
  local debian rust
  debian=$(from_tag 'debian:'); rust=$(from_tag 'rust:')
  [ -n "$debian" ] && [ -n "$rust" ] || { log "cannot read the base image tags from the Dockerfile"; exit 1; }
  build_debian "$debian"
  build_rust "$rust"
  local profiles=0 monitoring=0 arg
  for arg in "$@"; do
    case "$arg" in
      --with-profiles) profiles=1; monitoring=1 ;;
      --with-monitoring) monitoring=1 ;;
      *) log "unknown argument $arg"; exit 2 ;;
    esac
  done
  if [ "$profiles" = 1 ]; then
    build_from_dockerfile "$(compose_image 'postgres:')" postgres.Dockerfile
    build_maildev "$(compose_image 'maildev/maildev:')"
  fi
  if [ "$monitoring" = 1 ]; then
    build_from_dockerfile "$(compose_image 'prom/prometheus:')" prometheus.Dockerfile
    build_from_dockerfile "$(compose_image 'prom/alertmanager:')" alertmanager.Dockerfile
    build_from_dockerfile "$(compose_image 'prom/blackbox-exporter:')" blackbox-exporter.Dockerfile
  fi
}

main "$@"
