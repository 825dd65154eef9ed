// Command siovet checks sio's house rules (package houserules) as a go vet
// tool:
//
//	go build -o .tmp/bin/siovet ./internal/houserules/cmd/siovet
//	go vet -vettool=.tmp/bin/siovet ./...
package main

import (
	"golang.org/x/tools/go/analysis/unitchecker"

	"github.com/sio-dev/sio/internal/houserules"
)

func main() { unitchecker.Main(houserules.Analyzer) }
