// Command connectserver serves ChatService.SendMessage on connect-go over
// h2c (HTTP/2 without TLS), the peer of sio's typed unary calls in
// scripts/bench.sh; cmd/connectbench loads it.
//
//	go run ./cmd/connectserver -addr 127.0.0.1:4105
package main

import (
	"flag"
	"log"
	"net"
	"net/http"

	"github.com/sio-dev/sio/bench/peers/connectchat"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:4105", "address to serve on (loopback)")
	flag.Parse()
	if host, _, err := net.SplitHostPort(*addr); err != nil || !net.ParseIP(host).IsLoopback() {
		log.Fatalf("connectserver: %s is not a loopback address", *addr)
	}
	mux := http.NewServeMux()
	mux.Handle(connectchat.Handler())
	srv := &http.Server{Addr: *addr, Handler: mux, Protocols: connectchat.H2C()}
	log.Fatal(srv.ListenAndServe())
}
