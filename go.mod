module github.com/sio-dev/sio

go 1.26

require (
	github.com/gorilla/websocket v1.5.3 // indirect
	go.uber.org/goleak v1.3.0 // indirect
)
