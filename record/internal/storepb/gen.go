// Package storepb holds the protobuf messages a record store writes for itself (the store
// header, the index build stamp). It is not API.
package storepb

// Pinned generators: protoc 3.21.12 and protoc-gen-go v1.36.12 (the protobuf version in go.mod).
//go:generate sh -c "protoc --version | grep -qx 'libprotoc 3.21.12' && GOBIN=$PWD/.gen go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12 && protoc --plugin=protoc-gen-go=.gen/protoc-gen-go -I . --go_out=. --go_opt=paths=source_relative store_info.proto index_build.proto; s=$?; rm -rf .gen; exit $s"
