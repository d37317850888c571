# Stand-in for the official rust:<version>-slim-bookworm image, for machines that cannot pull it
# (built by docker/local-images.sh): the same layout (RUSTUP_HOME, CARGO_HOME, PATH, gcc,
# libc6-dev, ca-certificates) with the host's toolchain copied in instead of installed by rustup.
ARG BASE=debian:bookworm-slim
FROM ${BASE}
ARG RUST_VERSION
# Not pinned (DL3008): the packages the official image has, from the base's Debian release as
# it is now; Debian's archive drops superseded versions, so an exact pin would stop building.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
COPY ca/ /usr/local/share/ca-certificates/
RUN update-ca-certificates >/dev/null
ENV RUSTUP_HOME=/usr/local/rustup \
    CARGO_HOME=/usr/local/cargo \
    PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    RUST_VERSION=${RUST_VERSION}
COPY toolchain/ /usr/local/rustup/toolchains/${RUST_VERSION}-x86_64-unknown-linux-gnu/
RUN mkdir -p /usr/local/cargo/bin \
 && for t in cargo rustc rustdoc; do \
      ln -s /usr/local/rustup/toolchains/${RUST_VERSION}-x86_64-unknown-linux-gnu/bin/$t /usr/local/cargo/bin/$t; \
    done \
 && chmod -R a+w /usr/local/cargo \
 && cargo --version && rustc --version
LABEL local-stand-in=true
