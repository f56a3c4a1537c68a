# The signalling server as a static, non-root image:
#   docker build -t rollbox-signalserver . && docker run -p 3536:3536 rollbox-signalserver
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The box game's page, built from these sources (never a local build: see
# .dockerignore), for the server to embed.
RUN scripts/web.sh /tmp/web cmd/signalserver/internal/boxgameweb/dist
RUN CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/signalserver ./cmd/signalserver

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/signalserver /signalserver
EXPOSE 3536
USER nonroot:nonroot
ENTRYPOINT ["/signalserver"]
CMD ["0.0.0.0:3536"]
