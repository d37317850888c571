# Stand-in for the official postgres:15-bookworm image, for machines that cannot pull it (built
# by docker/local-images.sh): Debian's postgresql-15 on the same base, and an entrypoint with the
# part of the official contract docker-compose.yml relies on (POSTGRES_USER / POSTGRES_PASSWORD
# / POSTGRES_DB, /docker-entrypoint-initdb.d/*.sql|*.sh on first start, data in PGDATA).
ARG BASE=debian:bookworm-slim
FROM ${BASE}
# The postgres user first, with the official image's ids (999:999), so USER can name it by
# number; Debian's package then uses it. Not pinned (DL3008): the stand-in takes the
# postgresql-15 of the base's Debian release as it is now; Debian's archive drops superseded
# versions, so an exact pin would stop building.
# hadolint ignore=DL3008
RUN groupadd --system --gid 999 postgres \
 && useradd --system --uid 999 --gid postgres --home-dir /var/lib/postgresql --shell /bin/bash postgres \
 && mkdir -p /etc/postgresql-common/createcluster.d \
 && echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.d/no-main-cluster.conf \
 && apt-get update \
 && apt-get install -y --no-install-recommends postgresql-15 \
 && rm -rf /var/lib/apt/lists/*
ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PGDATA=/var/lib/postgresql/data
RUN mkdir -p "$PGDATA" /docker-entrypoint-initdb.d /var/run/postgresql \
 && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql \
 && chmod 700 "$PGDATA"
COPY postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
VOLUME /var/lib/postgresql/data
# postgres, by number.
USER 999:999
EXPOSE 5432
STOPSIGNAL SIGINT
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]
LABEL local-stand-in=true
