# The test runner of integration/run.sh --in-docker: Go, a C compiler (both in the golang image)
# and the FoundationDB client package, checked against foundationdb-clients.sha256. The project's
# source is bind-mounted at /src when the container runs (see docker-compose.yml).
FROM golang:1.26-bookworm
ARG FDB_VERSION=7.3.63
ARG FDB_ACCEPT_PUBLISHED_CHECKSUM=
COPY install-fdb-clients.sh foundationdb-clients.sha256 /layerkit/
RUN FDB_VERSION="$FDB_VERSION" FDB_ACCEPT_PUBLISHED_CHECKSUM="$FDB_ACCEPT_PUBLISHED_CHECKSUM" /layerkit/install-fdb-clients.sh
ENV CGO_ENABLED=1 GOFLAGS=-buildvcs=false
WORKDIR /src
