# Talon in a container: `docker build -t talon .`, then
# `docker run -p 3000:3000 -v talon-data:/var/lib/talon talon` (SQLite in the volume), or compose.yaml for
# PostgreSQL, Redis and two replicas.

FROM rust:1-bookworm AS builder
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p talon

FROM debian:bookworm-slim
# ca-certificates for https providers and webhooks; curl for the health check.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/talon --create-home talon
COPY --from=builder /src/target/release/talon /usr/local/bin/talon
USER talon
WORKDIR /var/lib/talon
# The SQLite database and the generated secrets live here when DATABASE_URL, JWT_SECRET and
# TALON_SECRET_KEY are not set.
ENV TALON_DATA_DIR=/var/lib/talon
VOLUME /var/lib/talon
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s CMD curl -fsS http://127.0.0.1:3000/healthz || exit 1
ENTRYPOINT ["talon"]
CMD ["serve", "--listen", "0.0.0.0:3000"]
