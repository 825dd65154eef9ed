// Command protoc-gen-sio generates typed Socket.IO RPC code from protobuf
// services: Go server interfaces, Register functions, typed publishers and
// Go clients (lang=go), and TypeScript clients and handlers for
// socket.io-client (lang=ts). Run it from buf; see buf.gen.yaml.
//
// Options: lang=go|ts (default go), plus protoc-gen-go's paths= for Go.
//
// protoc-gen-sio init -module example.com/hello writes what a new project
// needs: buf.yaml, buf.gen.yaml, sio's options, a first service and its Go
// server. protoc-gen-sio --version prints the version.
package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/pluginpb"

	"github.com/sio-dev/sio/cmd/protoc-gen-sio/internal/gengo"
	"github.com/sio-dev/sio/cmd/protoc-gen-sio/internal/gents"
)

// version is the generator's version, written into generated headers.
const version = "0.1.0"

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "--version", "-version":
			var moduleVersion string
			if info, ok := debug.ReadBuildInfo(); ok {
				moduleVersion = info.Main.Version
			}
			fmt.Printf("%s %s\n", strings.TrimSuffix(filepath.Base(os.Args[0]), ".exe"), printedVersion(moduleVersion))
			return
		case "init":
			os.Exit(initProject(os.Args[2:], os.Stdout, os.Stderr))
		default:
			fmt.Fprintln(os.Stderr, "protoc-gen-sio is a protoc/buf plugin: it reads a CodeGeneratorRequest on stdin.\nOptions: lang=go|ts (default go); for Go, paths=import|source_relative.\n\nprotoc-gen-sio init -module example.com/hello [dir] starts a new project (see init -h).\nprotoc-gen-sio --version prints the version.")
			os.Exit(2)
		}
	}
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "protoc-gen-sio:", err)
		os.Exit(1)
	}
}

// run reads a request from r and writes the response to w.
func run(r io.Reader, w io.Writer) error {
	in, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	req := &pluginpb.CodeGeneratorRequest{}
	if err := proto.Unmarshal(in, req); err != nil {
		return fmt.Errorf("bad request: %w", err)
	}
	out, err := proto.Marshal(Generate(req))
	if err != nil {
		return err
	}
	_, err = w.Write(out)
	return err
}

// Generate answers a request, choosing the emitter from the lang option.
// Errors go into the response, as the plugin protocol wants.
func Generate(req *pluginpb.CodeGeneratorRequest) *pluginpb.CodeGeneratorResponse {
	lang, rest := splitLang(req.GetParameter())
	req = proto.CloneOf(req)
	req.Parameter = proto.String(rest)
	switch lang {
	case "go":
		return gengo.Generate(req, version)
	case "ts":
		return gents.Generate(req, version)
	}
	return &pluginpb.CodeGeneratorResponse{Error: proto.String(fmt.Sprintf("unknown lang %q: use lang=go or lang=ts", lang))}
}

// splitLang takes the lang option out of a parameter string.
func splitLang(param string) (lang, rest string) {
	lang = "go"
	var kept []string
	for opt := range strings.SplitSeq(param, ",") {
		if v, ok := strings.CutPrefix(opt, "lang="); ok {
			lang = v
		} else if opt != "" {
			kept = append(kept, opt)
		}
	}
	return lang, strings.Join(kept, ",")
}
