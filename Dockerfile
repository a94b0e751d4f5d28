# breakglass serve in a static, non-root, read-only container image.
#
#   docker build --build-arg VERSION=$(git describe --tags --always --dirty) \
#                --build-arg COMMIT=$(git rev-parse --short HEAD) -t breakglass .
#   docker run -d --name breakglass --read-only --cap-drop ALL \
#     --security-opt no-new-privileges --env-file breakglass.env \
#     -v breakglass-data:/var/lib/breakglass \
#     -v $PWD/breakglass.yaml:/etc/breakglass/breakglass.yaml:ro \
#     -p 8080:8080 breakglass
#
# The configuration names the store inside the volume
# (store.path: /var/lib/breakglass/breakglass.db) and listens on a port
# above 1023 (server.listen: ":8080"): the image runs as uid 65532 without
# capabilities. The root file system can be read-only: breakglass writes only
# the store. There is no shell in the image and no HEALTHCHECK: breakglass
# has no probe command, so let the orchestrator probe GET /healthz
# (liveness) and GET /readyz (readiness) on server.listen. See
# docs/operations.md.

# Build stage: the same flags as `make release` (static, reproducible).
# Pin the image by digest in your own pipeline.
ARG GO_VERSION=1.26.8
FROM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download && go mod verify
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
RUN CGO_ENABLED=0 GOFLAGS=-mod=readonly go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X breakglass/internal/version.Version=${VERSION} -X breakglass/internal/version.Commit=${COMMIT}" \
      -o /out/usr/local/bin/breakglass ./cmd/breakglass \
 && /out/usr/local/bin/breakglass version \
 && mkdir -p /out/var/lib/breakglass /out/etc/breakglass /out/etc/ssl/certs \
 && cp /etc/ssl/certs/ca-certificates.crt /out/etc/ssl/certs/ \
 && chmod 0700 /out/var/lib/breakglass

# Final stage: nothing but the binary, CA certificates (Graph, Event Hubs,
# channels speak TLS), time zones and the data directory.
FROM scratch
COPY --from=build /out/usr/local/bin/breakglass /usr/local/bin/breakglass
COPY --from=build /out/etc/ /etc/
COPY --from=build /usr/share/zoneinfo /usr/share/zoneinfo
COPY --from=build --chown=65532:65532 /out/var/lib/breakglass /var/lib/breakglass
USER 65532:65532
WORKDIR /var/lib/breakglass
VOLUME /var/lib/breakglass
ENV HOME=/var/lib/breakglass
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/breakglass"]
CMD ["serve", "--config", "/etc/breakglass/breakglass.yaml"]
