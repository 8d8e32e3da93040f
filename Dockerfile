# Build the single executable in the official Deno image, run it on a slim base.
FROM denoland/deno:2.9.6 AS build
WORKDIR /src
COPY deno.json deno.lock ./
COPY main.ts ./
COPY src ./src
# The web pages' templates and assets, embedded by `deno task compile` (--include).
COPY templates ./templates
COPY static ./static
RUN deno install --frozen && deno task compile

FROM debian:bookworm-slim
RUN apt-get update \
  && apt-get install -y --no-install-recommends ca-certificates \
  && rm -rf /var/lib/apt/lists/* \
  && useradd --system --home-dir /opt/eremetic --create-home eremetic
COPY --from=build /src/dist/eremetic /usr/local/bin/eremetic
USER eremetic
WORKDIR /opt/eremetic
# The default database is ./db/eremetic.kv, i.e. /opt/eremetic/db/eremetic.kv: mount a volume there.
VOLUME ["/opt/eremetic/db"]
ENV ADDRESS=0.0.0.0 PORT=8080
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/eremetic"]
CMD ["serve"]
