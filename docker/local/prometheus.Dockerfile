# Stand-in for the official prom/prometheus image, for machines that cannot pull it (built by
# docker/local-images.sh, tagged with the version of Debian's package): Debian's prometheus on
# the same base, with the official image's layout (/bin/prometheus and /bin/promtool, there
# through Debian's merged /usr; the configuration in /etc/prometheus, data in the /prometheus
# volume, user nobody, port 9090) and wget for health checks, as the official image's busybox
# has.
ARG BASE=debian:bookworm-slim
FROM ${BASE}
# Not pinned (DL3008): the stand-in takes the package of the base's Debian release as it is now;
# Debian's archive drops superseded versions, so an exact pin would stop building.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends prometheus wget \
 && rm -rf /var/lib/apt/lists/* \
 && test -x /bin/prometheus && test -x /bin/promtool \
 && mkdir -p /etc/prometheus /prometheus \
 && chown -R nobody:nogroup /etc/prometheus /prometheus
# nobody:nogroup by number (65534), as the official image runs.
USER 65534:65534
EXPOSE 9090
VOLUME ["/prometheus"]
WORKDIR /prometheus
ENTRYPOINT ["/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
LABEL local-stand-in=true
