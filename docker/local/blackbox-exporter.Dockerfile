# Stand-in for the official prom/blackbox-exporter image, for machines that cannot pull it
# (built by docker/local-images.sh, tagged with the version of Debian's package): Debian's
# prometheus-blackbox-exporter on the same base, with the official image's layout
# (/bin/blackbox_exporter, the configuration in /etc/blackbox_exporter/config.yml, port 9115)
# and wget for health checks, as the official image's busybox has. It probes over HTTP only,
# so it runs as nobody.
ARG BASE=debian:bookworm-slim
FROM ${BASE}
# Not pinned (DL3008): the stand-in takes the package of the base's Debian release as it is now;
# Debian's archive drops superseded versions, so an exact pin would stop building.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends prometheus-blackbox-exporter wget \
 && rm -rf /var/lib/apt/lists/* \
 && ln -s prometheus-blackbox-exporter /usr/bin/blackbox_exporter \
 && test -x /bin/blackbox_exporter \
 && mkdir -p /etc/blackbox_exporter
# nobody:nogroup by number (65534), as the official image runs.
USER 65534:65534
EXPOSE 9115
ENTRYPOINT ["/bin/blackbox_exporter"]
CMD ["--config.file=/etc/blackbox_exporter/config.yml"]
LABEL local-stand-in=true
