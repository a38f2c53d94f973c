// Package idepb holds the generated record types of the IDE example.
package idepb

// Pinned generators: protoc 3.21.12 and protoc-gen-go v1.36.12 (the protobuf version in go.mod).
//go:generate sh -c "protoc --version | grep -qx 'libprotoc 3.21.12' && GOBIN=$PWD/.gen go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12 && protoc --plugin=protoc-gen-go=.gen/protoc-gen-go -I . --go_out=. --go_opt=paths=source_relative ide.proto; s=$?; rm -rf .gen; exit $s"
