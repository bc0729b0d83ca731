# syntax=docker/dockerfile:1
# pushgate container image: multi-stage, production dependencies only, non-root (uid 10001),
# runs with a read-only root filesystem (writable: /data, /spill, /tmp as volumes).
#
#   docker build -t pushgate:dev .
#   docker build --build-arg BUILD_IMAGE=registry.example.test/mirror/node:20-bookworm-slim \
#                --build-arg RUNTIME_IMAGE=registry.example.test/mirror/node:20-bookworm-slim -t pushgate:dev .
ARG BUILD_IMAGE=node:20-bookworm-slim
ARG RUNTIME_IMAGE=node:20-bookworm-slim

# ---- build: compile TypeScript with the full dependency set ----
FROM ${BUILD_IMAGE} AS build
# better-sqlite3 falls back to compiling from source when no prebuilt binary matches.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
# `npm ci` runs the `prepare` build script, which skips while src/ is not there yet.
COPY bin ./bin
COPY scripts/build.mjs ./scripts/
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# The console (/ui/): bundled into dist/ui by the same build.
COPY ui ./ui
RUN npm run build

# ---- prod-deps: production dependencies only (native modules built against the same base) ----
# `npm prune` removes the dev dependencies from the tree `npm ci` installed above (same lockfile, same
# package set as `npm ci --omit=dev`) and keeps better-sqlite3's native build: a second `npm ci` would
# delete node_modules and, without a reachable prebuilt binary, compile SQLite from source again
# (about 2 minutes of one core).
FROM build AS prod-deps
RUN npm prune --omit=dev --no-audit --no-fund

# ---- runtime ----
FROM ${RUNTIME_IMAGE} AS runtime
# zstd, bzip2, xz-utils: zstd-, bzip2- and xz-compressed layers (Docker Engine unpacks all three); tini: signal handling and zombie reaping as PID 1.
RUN apt-get update \
 && apt-get install -y --no-install-recommends zstd bzip2 xz-utils tini ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 pushgate \
 && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home --shell /usr/sbin/nologin pushgate \
 && mkdir -p /data /spill /etc/pushgate \
 && chown 10001:10001 /data /spill \
 && ln -s /app/bin/pushgate.js /usr/local/bin/pushgate
WORKDIR /app
ENV NODE_ENV=production \
    PUSHGATE_CONFIG=/etc/pushgate/pushgate.yaml \
    TMPDIR=/tmp
COPY --from=prod-deps /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY config ./config
# What PUSHGATE_CONFIG names: the built-in defaults with the state on /data and /spill.
COPY config/container.yaml /etc/pushgate/pushgate.yaml
USER 10001:10001
VOLUME ["/data", "/spill"]
EXPOSE 8080 8443
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# --initial-old-space-size: once the old generation passes 8 MiB (the bundled command line's code
# and source put a scan there from the start), V8 starts a full collection when that generation plus
# the external memory allocated since the last one nears a limit it sets from the heap seen at
# start-up; a layer's 1 MiB read and inflate buffers (some 32 MiB alive between two scavenges) count
# as external, so a plain scan of the Debian base layer runs one (about 30 ms of CPU, most of it
# concurrent marking). 64 MiB lets a scan finish without one (bench/cli.ts times this command line
# beside the plain one); the heap still grows past it, and `serve` only starts from it. Node reads
# the V8 heap sizes only from its own command line (or NODE_OPTIONS), never from a running program.
ENTRYPOINT ["/usr/bin/tini", "--", "node", "--initial-old-space-size=64", "/app/bin/pushgate.js"]
CMD ["serve"]
