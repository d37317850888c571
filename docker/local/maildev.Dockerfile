# Stand-in for the maildev/maildev:2.2.1 image, for machines that cannot pull it (built by
# docker/local-images.sh): Debian's nodejs on the same base, and MailDev 2.2.1 from the npm
# registry (installed on the host into maildev/, since the registry needs no credentials there).
# Same ports and defaults as the official image: SMTP 1025, web UI and REST API 1080.
ARG BASE=debian:bookworm-slim
FROM ${BASE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 1000 --home-dir /home/node --create-home node
COPY maildev/ /home/node/
ENV NODE_ENV=production MAILDEV_WEB_PORT=1080 MAILDEV_SMTP_PORT=1025
USER node
WORKDIR /home/node
EXPOSE 1080 1025
ENTRYPOINT ["node", "/home/node/node_modules/maildev/bin/maildev"]
LABEL local-stand-in=true
