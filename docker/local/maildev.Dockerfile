# Stand-in for the maildev/maildev:2.2.1 image, for machines that cannot pull it (built by
# docker/local-images.sh): Debian's nodejs on the same base, and MailDev 2.2.1 from the npm
# registry (installed on the host into maildev/, since the registry needs no credentials there).
# Same ports and defaults as the official image: SMTP 1025, web UI and REST API 1080.
ARG BASE=debian:bookworm-slim
FROM ${BASE}
# Not pinned (DL3008): the stand-in takes the nodejs of the base's Debian release as it is now;
# Debian's archive drops superseded versions, so an exact pin would stop building.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 1000 node \
 && useradd --system --uid 1000 --gid node --home-dir /home/node --create-home node
COPY maildev/ /home/node/
ENV NODE_ENV=production MAILDEV_WEB_PORT=1080 MAILDEV_SMTP_PORT=1025
# node, by number (as in the official image: 1000:1000).
USER 1000:1000
WORKDIR /home/node
EXPOSE 1080 1025
ENTRYPOINT ["node", "/home/node/node_modules/maildev/bin/maildev"]
LABEL local-stand-in=true
