package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/sio-dev/sio/cmd/protoc-gen-sio/internal/scaffold"
)

// initProject is "protoc-gen-sio init": it writes a new project's buf
// configuration, sio's options, a first service and its Go server, then
// says what to run next.
func initProject(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("protoc-gen-sio init", flag.ContinueOnError)
	fs.SetOutput(stderr)
	module := fs.String("module", "", "the project's Go module path, as in go.mod (required)")
	name := fs.String("name", "", "the first service's short name, a lower-case identifier (default: from the module path)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: protoc-gen-sio init -module example.com/hello [-name hello] [dir]")
		fmt.Fprintln(stderr, "Writes buf.yaml, buf.gen.yaml, proto/sio/v1/options.proto, a first service and main.go into dir (default .).")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *module == "" || fs.NArg() > 1 {
		fs.Usage()
		return 2
	}
	dir := "."
	if fs.NArg() == 1 {
		dir = fs.Arg(0)
	}
	if *name == "" {
		*name = scaffold.DefaultName(*module)
	}
	written, err := scaffold.Write(dir, scaffold.Project{Module: *module, Name: *name})
	for _, f := range written {
		fmt.Fprintln(stdout, "wrote", f)
	}
	if err != nil {
		fmt.Fprintln(stderr, "protoc-gen-sio init:", err)
		return 1
	}
	fmt.Fprintf(stdout, `
Next, in %s (with a go.mod for %s that requires github.com/sio-dev/sio and
lists the tools protoc-gen-go and protoc-gen-sio: see buf.gen.yaml):
  npm install        # buf, protoc-gen-es, socket.io-client, typescript
  npm install @sio-dev/runtime   # the TypeScript runtime (from a checkout: npm pack <sio>/runtime/ts, then install the .tgz)
  npx buf generate   # writes gen/go and gen/ts
  go mod tidy
  go run .           # serves on 127.0.0.1:8080
  go run ./client    # calls it from Go
  npx esbuild client.ts --bundle --platform=node --format=esm --packages=external --outfile=client.mjs
  node client.mjs    # calls it from Node
`, dir, *module)
	return 0
}

// printedVersion is the version --version prints: the module version when
// the binary was built by "go install …@version", else the generator's.
func printedVersion(moduleVersion string) string {
	// A checkout used through a replace directive has the zero pseudo-version.
	if moduleVersion != "" && moduleVersion != "(devel)" && !strings.HasPrefix(moduleVersion, "v0.0.0-00010101000000-") {
		return moduleVersion
	}
	return "v" + version
}
