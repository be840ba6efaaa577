# Quarry as a static binary in a distroless image, running as a non-root
# user. Build: docker build -t quarry .   (see docker-compose.yml)

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# CGO off: a static binary that needs no libc in the final image. Nothing
# is downloaded at run time (the tokenizer's BPE ranks are embedded).
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/quarry ./cmd/quarry \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/quarry /quarry
# The data directory, owned by the non-root user so that a fresh named
# volume mounted here is writable.
COPY --from=build --chown=nonroot:nonroot /out/data /data
USER nonroot:nonroot
ENV QUARRY_DATA=/data \
    QUARRY_ADDR=0.0.0.0:8080
EXPOSE 8080
VOLUME ["/data"]
# distroless has no shell or curl: the binary checks itself (GET /healthz
# on QUARRY_ADDR, with a wildcard host dialled as loopback).
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["/quarry", "healthcheck"]
ENTRYPOINT ["/quarry"]
CMD ["serve"]
