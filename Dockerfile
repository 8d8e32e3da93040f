# Build the single executable in the official Deno image, run it on a slim base.
#   docker build --build-arg EREMETIC_COMMIT=$(git rev-parse --short=12 HEAD) -t eremetic .
FROM denoland/deno:2.9.6 AS build
ARG EREMETIC_COMMIT=unknown
WORKDIR /src
COPY deno.json deno.lock ./
COPY main.ts ./
COPY src ./src
COPY tools/compile.ts ./tools/compile.ts
# The web pages' templates and assets, embedded by tools/compile.ts (--include), which
# fails the build when they are missing from the binary.
COPY templates ./templates
COPY static ./static
RUN deno install --frozen \
  && EREMETIC_COMMIT="$EREMETIC_COMMIT" deno run -A tools/compile.ts --target host --output dist/eremetic

FROM debian:bookworm-slim
# curl: the HEALTHCHECK below.
RUN apt-get update \
  && apt-get install -y --no-install-recommends ca-certificates curl \
  && rm -rf /var/lib/apt/lists/* \
  && useradd --system --uid 10001 --home-dir /opt/eremetic --create-home eremetic \
  && mkdir -p /opt/eremetic/db && chown eremetic /opt/eremetic/db
COPY --from=build /src/dist/eremetic /usr/local/bin/eremetic
# Invoked as hermit (a symlink), the binary is the command-line client.
RUN ln -s /usr/local/bin/eremetic /usr/local/bin/hermit
# Not root: the process only needs its database directory.
USER eremetic
WORKDIR /opt/eremetic
# The default database is ./db/eremetic.kv, i.e. /opt/eremetic/db/eremetic.kv: mount a volume there.
VOLUME ["/opt/eremetic/db"]
ENV ADDRESS=0.0.0.0 PORT=8080
EXPOSE 8080
# /api/v1/health is never behind basic auth; it answers 503 when the store is unavailable.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD curl -fsS "http://127.0.0.1:${PORT}/api/v1/health" >/dev/null || exit 1
ENTRYPOINT ["/usr/local/bin/eremetic"]
CMD ["serve"]
