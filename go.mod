module github.com/sio-dev/sio

go 1.26

require (
	github.com/gorilla/websocket v1.5.3
	go.uber.org/goleak v1.3.0
	google.golang.org/protobuf v1.36.12
)

tool google.golang.org/protobuf/cmd/protoc-gen-go
