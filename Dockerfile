# Sluice container image.
#   docker build -t sluice .            (or: podman build / buildah bud)
#   docker run -p 8080:8080 -e SLUICE_REDIS_URL=redis://redis:6379 sluice
# Config: /etc/sluice/sluice.yaml, schemas: /etc/sluice/schemas (the config's
# `schemas.dir: schemas`); mount your own over either, read-only. See
# deploy/compose.yaml and docs/operations.md.

# Build: Debian 12 with the same packages `make build` installs.
FROM debian:bookworm AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config ca-certificates \
      libboost1.81-dev libhiredis-dev libsimdjson-dev libyaml-cpp-dev prometheus-cpp-dev \
      libssl-dev libpcre2-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# .git is not in the build context (.dockerignore): pass the commit for /v1/version.
ARG SLUICE_GIT_COMMIT=unknown
# `cmake --install` with prefix /usr lays out the runtime stage: /usr/bin/sluice,
# /etc/sluice/sluice.yaml, /etc/sluice/schemas (the install rules the systemd
# deployment uses too).
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DSLUICE_BUILD_TESTS=OFF \
      -DCMAKE_INSTALL_PREFIX=/usr -DSLUICE_GIT_COMMIT="${SLUICE_GIT_COMMIT}" \
 && cmake --build build -j"$(nproc)" --target sluice \
 && DESTDIR=/stage cmake --install build --strip --component runtime \
 && DESTDIR=/stage cmake --install build --component config \
 && /stage/usr/bin/sluice --check-config --config /stage/etc/sluice/sluice.yaml

# Run: the shared libraries the binary links (`ldd sluice`) and nothing else: no
# compiler, no package caches, no curl (the health check uses bash's /dev/tcp).
FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libhiredis0.14 libsimdjson14 libyaml-cpp0.7 libprometheus-cpp-core1.0 libssl3 \
      libpcre2-8-0 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin sluice
COPY --from=build /stage/usr/bin/sluice /usr/bin/sluice
COPY --from=build /stage/etc/sluice/ /etc/sluice/
COPY --from=build /stage/usr/share/doc/sluice/ /usr/share/doc/sluice/
# The example config listens on 127.0.0.1; in a container it must be reachable.
ENV SLUICE_LISTEN=0.0.0.0:8080
# Numeric, so Kubernetes' runAsNonRoot can check it without reading /etc/passwd.
USER 10001:10001
EXPOSE 8080
# Liveness of the process (Redis being away is /readyz's business, not a reason to
# restart). Port 8080 as in SLUICE_LISTEN; change both together.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /healthz HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]
# SIGTERM drains: /readyz 503 for shutdown.drain_delay, then in-flight work gets
# shutdown.grace_period. Give `docker stop -t` (compose: stop_grace_period) more
# than their sum; the default 10 s is less than the default 5 s + 10 s.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/sluice"]
CMD ["--config", "/etc/sluice/sluice.yaml"]
