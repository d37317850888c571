# Stand-in for the official prom/alertmanager image, for machines that cannot pull it (built
# by docker/local-images.sh, tagged with the version of Debian's package): Debian's
# prometheus-alertmanager on the same base, with the official image's layout (/bin/alertmanager
# and /bin/amtool, the configuration in /etc/alertmanager, data in the /alertmanager volume,
# user nobody, port 9093) and wget for health checks, as the official image's busybox has.
ARG BASE=debian:bookworm-slim
FROM ${BASE}
# Not pinned (DL3008): the stand-in takes the package of the base's Debian release as it is now;
# Debian's archive drops superseded versions, so an exact pin would stop building.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends prometheus-alertmanager wget \
 && rm -rf /var/lib/apt/lists/* \
 && ln -s prometheus-alertmanager /usr/bin/alertmanager \
 && test -x /bin/alertmanager && test -x /bin/amtool \
 && mkdir -p /etc/alertmanager /alertmanager \
 && chown -R nobody:nogroup /etc/alertmanager /alertmanager
# nobody:nogroup by number (65534), as the official image runs.
USER 65534:65534
EXPOSE 9093
VOLUME ["/alertmanager"]
WORKDIR /alertmanager
ENTRYPOINT ["/bin/alertmanager"]
CMD ["--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager"]
LABEL local-stand-in=true
