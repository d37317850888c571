# Stand-in for the official prom/alertmanager image, for machines that cannot pull it (built
# by docker/local-images.sh, tagged with the version of Debian's package): Debian's
# prometheus-alertmanager on the same base, with the official image's layout (/bin/alertmanager
# and /bin/amtool, the configuration in /etc/alertmanager, data in the /alertmanager volume,
# user nobody, port 9093) and wget for health checks, as the official image's busybox has.
ARG BASE=debian:bookworm-slim
FROM ${BASE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends prometheus-alertmanager wget \
 && rm -rf /var/lib/apt/lists/* \
 && ln -s prometheus-alertmanager /usr/bin/alertmanager \
 && test -x /bin/alertmanager && test -x /bin/amtool \
 && mkdir -p /etc/alertmanager /alertmanager \
 && chown -R nobody:nogroup /etc/alertmanager /alertmanager
USER nobody
EXPOSE 9093
VOLUME ["/alertmanager"]
WORKDIR /alertmanager
ENTRYPOINT ["/bin/alertmanager"]
CMD ["--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager"]
LABEL local-stand-in=true
