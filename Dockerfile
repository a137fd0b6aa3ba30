# Build: Debian 12 with the same packages `make build` installs.
FROM debian:bookworm AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config git ca-certificates \
      libboost1.81-dev libhiredis-dev libsimdjson-dev libyaml-cpp-dev prometheus-cpp-dev \
      catch2 libssl-dev libpcre2-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DSLUICE_BUILD_TESTS=OFF \
 && cmake --build build -j"$(nproc)" --target sluice \
 && strip build/sluice

# Run: only the shared libraries the binary needs.
FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libhiredis0.14 libsimdjson14 libyaml-cpp0.7 libprometheus-cpp-core1.0 libssl3 libpcre2-8-0 \
      ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin sluice
COPY --from=build /src/build/sluice /usr/local/bin/sluice
COPY config/sluice.yaml /etc/sluice/sluice.yaml
COPY schemas/ /etc/sluice/schemas/
ENV SLUICE_LISTEN=0.0.0.0:8080 \
    SLUICE_SCHEMAS_DIR=/etc/sluice/schemas
USER sluice
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=2s --start-period=5s CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/sluice", "--config", "/etc/sluice/sluice.yaml"]
