module github.com/sio-dev/sio

go 1.26

require (
	github.com/bufbuild/protocompile v0.14.1
	github.com/gorilla/websocket v1.5.3
	go.uber.org/goleak v1.3.0
	google.golang.org/protobuf v1.36.12
)

require golang.org/x/sync v0.8.0 // indirect

tool google.golang.org/protobuf/cmd/protoc-gen-go
