# syntax=docker/dockerfile:1
# Container image for gereport: builds the release binary in a Rust builder
# stage and ships it alone on Debian slim, running as an unprivileged user.
# Database migrations are embedded in the binary; it speaks to PostgreSQL in
# pure Rust, so no libpq is needed at runtime.

############################ builder ############################
FROM rust:1.95-bookworm AS builder
WORKDIR /app

# Dependency layer: build the dependency graph against placeholder sources so
# it is cached until Cargo.toml or Cargo.lock change. Every Rust file named by
# a `path = "...rs"` line in Cargo.toml (e.g. the [[test]] api target, any
# [[bench]]) gets a placeholder too, so cargo can load the manifest.
COPY Cargo.toml Cargo.lock ./
RUN set -eu; \
    : > /tmp/placeholders; \
    for f in src/main.rs $(sed -n 's/^[[:space:]]*path[[:space:]]*=[[:space:]]*"\([^"]*\.rs\)".*/\1/p' Cargo.toml); do \
        if [ ! -e "$f" ]; then \
            mkdir -p "$(dirname "$f")"; \
            echo 'fn main() {}' > "$f"; \
            echo "$f" >> /tmp/placeholders; \
        fi; \
    done; \
    cargo build --release --locked --bin gereport; \
    xargs rm -f < /tmp/placeholders; \
    rm -rf target/release/gereport target/release/gereport.d \
        target/release/deps/gereport-* target/release/deps/libgereport-* \
        target/release/.fingerprint/gereport-*

# Real sources (filtered by .dockerignore), then the real build.
COPY . .
RUN cargo build --release --locked --bin gereport

############################ runtime ############################
FROM debian:bookworm-slim AS runtime

RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 gereport \
    && useradd --system --uid 10001 --gid gereport --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin gereport

COPY --from=builder /app/target/release/gereport /usr/local/bin/gereport

# Inside a container the server must listen on all interfaces.
ENV GEREPORT_BIND=0.0.0.0:8080
WORKDIR /
USER 10001:10001
EXPOSE 8080

ENTRYPOINT ["/usr/local/bin/gereport"]
CMD ["serve"]
