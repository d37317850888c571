# One Dockerfile for the three services; pick one with --target:
#   docker build --target contacts -t contacts .      (also: calendar, notifications)
# docker-compose.yml builds all three; the build stage below runs once for them.
#
# BuildKit (the default builder since Docker 23) is required for the cache mounts: cargo's
# registry and target folder survive between builds, so a code change recompiles only the
# workspace crates, not the ~300 dependencies.

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,id=cargo-registry,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,id=cargo-git,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,id=microservices-target,target=/src/target,sharing=locked \
    cargo build --release --locked -p contacts -p calendar -p notifications -p healthcheck \
 && mkdir /out \
 && for bin in contacts calendar notifications healthcheck; do cp "target/release/$bin" /out/; done

# What the three images share: a non-root user owning /data, where the SQLite databases live.
FROM debian:bookworm-slim AS runtime
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --home-dir /data --no-create-home --shell /usr/sbin/nologin app \
 && mkdir /data \
 && chown app:app /data
COPY --from=build /out/healthcheck /usr/local/bin/healthcheck
# Lets docker/test.sh remove this project's superseded images (and nobody else's).
LABEL microservices-demo.image=service
WORKDIR /data
VOLUME /data
USER 10001:10001
ENV HOST=0.0.0.0
# The service traps SIGTERM: it stops accepting, finishes in-flight requests and the current
# background job, then exits 0.
STOPSIGNAL SIGTERM
# `healthcheck` asks http://127.0.0.1:$PORT/health/ready (curl is not in the image).
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 CMD ["healthcheck"]

FROM runtime AS contacts
COPY --from=build /out/contacts /usr/local/bin/contacts
ENV PORT=3000 DATABASE_URL=sqlite:///data/contacts.db?mode=rwc
EXPOSE 3000
CMD ["contacts"]

FROM runtime AS calendar
COPY --from=build /out/calendar /usr/local/bin/calendar
ENV PORT=3002 DATABASE_URL=sqlite:///data/calendar.db?mode=rwc
EXPOSE 3002
CMD ["calendar"]

FROM runtime AS notifications
COPY --from=build /out/notifications /usr/local/bin/notifications
ENV PORT=3003 DATABASE_URL=sqlite:///data/notifications.db?mode=rwc
EXPOSE 3003
CMD ["notifications"]
