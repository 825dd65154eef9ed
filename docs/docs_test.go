// Package docs_test keeps the user documentation true: it runs the
// commands that getting-started.md gives, in a new project outside this
// repository.
package docs_test

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sio-dev/sio/internal/nodepeer"
	"github.com/sio-dev/sio/internal/siotest"
	"github.com/sio-dev/sio/runtime/engineio"
	"github.com/sio-dev/sio/runtime/socketio"
	"github.com/sio-dev/sio/runtime/socketio/sioclient"
)

// block returns the fenced block in lang that follows "<!-- tested: name -->".
func block(t *testing.T, doc, name, lang string) string {
	t.Helper()
	_, rest, ok := strings.Cut(doc, "<!-- tested: "+name+" -->\n```"+lang+"\n")
	if !ok {
		t.Fatalf("getting-started.md has no block tested as %q", name)
	}
	body, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatalf("block %q is not closed", name)
	}
	return body
}

// TestGettingStarted follows getting-started.md from an empty directory
// to typed calls from Go, from Node and through Connect to the Go server.
// npm install is the one step replaced (see npmShim), so the test needs
// no registry; npm pack is the real one.
func TestGettingStarted(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a whole project")
	}
	nodepeer.Require(t)
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile("getting-started.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	setup := block(t, doc, "setup", "sh")

	// The protoc-gen-go version the page gives is the one sio builds with,
	// and the tarball it installs is the runtime package's version.
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	want := regexp.MustCompile(`google.golang.org/protobuf (v\S+)`).FindSubmatch(gomod)
	if want == nil || !strings.Contains(setup, "protoc-gen-go@"+string(want[1])) {
		t.Fatalf("getting-started.md must install protoc-gen-go@%s, the version of go.mod", want[1])
	}
	pkg, err := os.ReadFile(filepath.Join(root, "runtime", "ts", "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	var runtimePkg struct{ Version string }
	if err := json.Unmarshal(pkg, &runtimePkg); err != nil {
		t.Fatal(err)
	}
	tarball := "sio-dev-runtime-" + runtimePkg.Version + ".tgz"
	if !strings.Contains(setup, "npm install ./"+tarball) {
		t.Fatalf("getting-started.md must install ./%s, the runtime package's version", tarball)
	}

	work := t.TempDir()
	shims := filepath.Join(work, "bin")
	if err := os.Mkdir(shims, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(shims, "npm"), []byte(npmShim(mustLook(t, "npm"))), 0o755); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "SIO="+root, "PATH="+shims+string(os.PathListSeparator)+os.Getenv("PATH"), "GOFLAGS=")
	shell := func(dir, name, script string) {
		t.Helper()
		cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
		cmd.Dir = dir
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("the %s commands failed: %v\n%s", name, err, out)
		}
	}
	shell(work, "setup", setup)
	project := filepath.Join(work, "hello")
	// The runtime came from the packed tarball, not from the checkout.
	if fi, err := os.Lstat(filepath.Join(project, "node_modules", "@sio-dev", "runtime", "dist", "index.js")); err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("the project has no installed runtime package: %v", err)
	}

	run := block(t, doc, "run", "sh")
	for _, line := range []string{"./hello -addr 127.0.0.1:8080 &", "./hello-client -url http://127.0.0.1:8080 -name gopher", "node client.mjs http://127.0.0.1:8080 world"} {
		if !strings.Contains(run, line) {
			t.Fatalf("the run block no longer says %q: update this test with the page", line)
		}
	}
	server := siotest.StartProcess(t, filepath.Join(project, "hello"))
	expect(t, project, []string{"Hello, gopher!"}, "./hello-client", "-url", server.URL(), "-name", "gopher")
	expect(t, project, []string{"Hello, world!"}, "node", "client.mjs", server.URL(), "world")

	connectSetup := block(t, doc, "connect-setup", "sh")
	const connectRun = "node connect.mjs http://127.0.0.1:8080"
	if !strings.Contains(connectSetup, connectRun) {
		t.Fatalf("the connect block no longer says %q: update this test with the page", connectRun)
	}
	if err := os.WriteFile(filepath.Join(project, "connect.ts"), []byte(block(t, doc, "connect.ts", "ts")), 0o644); err != nil {
		t.Fatal(err)
	}
	build, _, _ := strings.Cut(connectSetup, connectRun)
	shell(project, "connect-setup", build+"npx tsc --noEmit --strict --module NodeNext --moduleResolution NodeNext --target ES2022 --skipLibCheck --types node connect.ts")
	expect(t, project, []string{"Hello, connect!", "InvalidArgument"}, "node", "connect.mjs", server.URL())
}

// npmShim is the npm the setup commands run. "npm install" gives the
// project this repository's installed packages (the same versions as
// package.json pins) instead of fetching them, and "npm install x.tgz"
// unpacks the tarball into node_modules as npm would; everything else
// (npm pack above all) is the real npm.
func npmShim(realNPM string) string {
	return `#!/bin/sh
set -e
[ "$1" = install ] || exec ` + realNPM + ` "$@"
mkdir -p node_modules
for entry in "$SIO"/node_modules/* "$SIO"/node_modules/.bin; do
  name=$(basename "$entry")
  [ "$name" = @sio-dev ] || [ -e "node_modules/$name" ] || ln -s "$entry" "node_modules/$name"
done
shift
for spec in "$@"; do
  case $spec in
  *.tgz)
    name=$(tar -xzOf "$spec" package/package.json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).name))')
    mkdir -p "node_modules/$name"
    tar -xzf "$spec" --strip-components=1 -C "node_modules/$name"
    ;;
  *) [ -e "node_modules/${spec%@*}" ] || { echo "npm shim: $spec is not among the repository's packages" >&2; exit 1; } ;;
  esac
done
`
}

// expect runs a program in dir and checks its lines of output.
func expect(t *testing.T, dir string, want []string, program string, args ...string) {
	t.Helper()
	cmd := exec.Command(program, args...)
	cmd.Dir = dir
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("%s did not finish within 30s", program)
	}
	if got := strings.Split(strings.TrimSpace(string(out)), "\n"); err != nil || strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("%s printed %q (%v), want %q", program, out, err, want)
	}
}

func mustLook(t *testing.T, program string) string {
	t.Helper()
	p, err := exec.LookPath(program)
	if err != nil {
		t.Fatalf("%s is required: %v", program, err)
	}
	return p
}

// TestLinks checks that every relative link in the docs and the README
// names a file of the repository.
func TestLinks(t *testing.T) {
	pages, _ := filepath.Glob("*.md")
	pages = append(pages, filepath.Join("..", "README.md"))
	link := regexp.MustCompile(`\]\(([^)#\s]+)(#[^)]*)?\)`)
	for _, page := range pages {
		b, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range link.FindAllStringSubmatch(string(b), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(page), target)); err != nil {
				t.Errorf("%s links to %s, which does not exist", page, target)
			}
		}
	}
}

// TestOptionsPage fails when an option exists that options.md does not
// name: every exported field of the options structs, every rpc.With…
// option, every field of the TypeScript option interfaces, every sio
// option of the .proto.
func TestOptionsPage(t *testing.T) {
	raw, err := os.ReadFile("options.md")
	if err != nil {
		t.Fatal(err)
	}
	page := string(raw)
	named := func(what, name string) {
		t.Helper()
		if !strings.Contains(page, "`"+name+"`") {
			t.Errorf("options.md does not name %s `%s`", what, name)
		}
	}
	for _, v := range []any{socketio.Options{}, socketio.RecoveryOptions{}, engineio.Options{}, sioclient.Options{}, sioclient.SocketOptions{}} {
		typ := reflect.TypeOf(v)
		for i := range typ.NumField() {
			if f := typ.Field(i); f.IsExported() {
				named(typ.String()+"'s field", f.Name)
			}
		}
	}
	// rpc's options are its exported With… functions returning one.
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join("..", "runtime", "rpc", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, file, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv == nil && strings.HasPrefix(fn.Name.Name, "With") && fn.Name.IsExported() {
				named("the rpc option", "rpc."+fn.Name.Name)
			}
		}
	}
	// The TypeScript option interfaces, field by field.
	field := regexp.MustCompile(`(?m)^  (?:readonly )?(\w+)\??:`)
	for file, names := range map[string][]string{
		"index.ts":   {"ClientOptions", "CallOptions"},
		"connect.ts": {"SioTransportOptions"},
	} {
		src, err := os.ReadFile(filepath.Join("..", "runtime", "ts", "src", file))
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range names {
			_, body, ok := strings.Cut(string(src), "export interface "+name+" {\n")
			body, _, _ = strings.Cut(body, "\n}")
			if !ok || body == "" {
				t.Fatalf("%s has no interface %s", file, name)
			}
			for _, m := range field.FindAllStringSubmatch(body, -1) {
				named("the TypeScript option "+name+".", m[1])
			}
		}
	}
	proto, err := os.ReadFile(filepath.Join("..", "proto", "sio", "v1", "options.proto"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`(?m)^  \w+ (\w+) = \d+;`).FindAllStringSubmatch(string(proto), -1) {
		named("the proto option", "(sio.v1."+m[1]+")")
	}
}
