// Package docs_test keeps the user documentation true: it runs the
// commands that getting-started.md gives, in a new project outside this
// repository.
package docs_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sio-dev/sio/internal/nodepeer"
	"github.com/sio-dev/sio/internal/siotest"
)

// block returns the fenced sh block that follows "<!-- tested: name -->".
func block(t *testing.T, doc, name string) string {
	t.Helper()
	_, rest, ok := strings.Cut(doc, "<!-- tested: "+name+" -->\n```sh\n")
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
// to a typed call from the TypeScript client to the Go server. npm
// install is the one step replaced: the project gets this repository's
// installed packages (the same versions), so the test needs no registry.
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
	setup := block(t, doc, "setup")

	// The protoc-gen-go version the page gives is the one sio builds with.
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	want := regexp.MustCompile(`google.golang.org/protobuf (v\S+)`).FindSubmatch(gomod)
	if want == nil || !strings.Contains(setup, "protoc-gen-go@"+string(want[1])) {
		t.Fatalf("getting-started.md must install protoc-gen-go@%s, the version of go.mod", want[1])
	}

	work := t.TempDir()
	shims := filepath.Join(work, "bin")
	if err := os.Mkdir(shims, 0o755); err != nil {
		t.Fatal(err)
	}
	npmShim := "#!/bin/sh\n[ \"$1\" = install ] || exec " + mustLook(t, "npm") + " \"$@\"\nln -s \"$SIO/node_modules\" node_modules\n"
	if err := os.WriteFile(filepath.Join(shims, "npm"), []byte(npmShim), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", setup)
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "SIO="+root, "PATH="+shims+string(os.PathListSeparator)+os.Getenv("PATH"), "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the setup commands failed: %v\n%s", err, out)
	}
	project := filepath.Join(work, "hello")

	run := block(t, doc, "run")
	for _, line := range []string{"./hello -addr 127.0.0.1:8080 &", "node client.mjs http://127.0.0.1:8080 world"} {
		if !strings.Contains(run, line) {
			t.Fatalf("the run block no longer says %q: update this test with the page", line)
		}
	}
	server := siotest.StartProcess(t, filepath.Join(project, "hello"))
	client := exec.Command("node", "client.mjs", server.URL(), "world")
	client.Dir = project
	done := make(chan struct{})
	var out []byte
	go func() { out, err = client.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = client.Process.Kill()
		<-done
		t.Fatal("the client did not finish within 30s")
	}
	if err != nil || strings.TrimSpace(string(out)) != "Hello, world!" {
		t.Fatalf("client printed %q (%v), want Hello, world!", out, err)
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
