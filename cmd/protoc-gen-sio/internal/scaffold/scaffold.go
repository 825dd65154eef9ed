// Package scaffold writes the files a new project needs to use sio: the
// buf workspace and generation config, sio's options, a first service, a
// Go server and a TypeScript client for it, and the npm and tsc set-up.
// protoc-gen-sio init calls it.
package scaffold

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"
)

//go:embed files
var files embed.FS

// OptionsProto is sio's options file as the scaffold writes it, at
// proto/sio/v1/options.proto. It must stay the file of this repository's
// proto/ (a test compares them).
func OptionsProto() []byte {
	b, _ := files.ReadFile("files/options.proto")
	return b
}

// Project names a new project.
type Project struct {
	// Module is the Go module path, as in go.mod: generated Go code goes
	// to <Module>/gen/go.
	Module string
	// Name is the first service's short name, a lower-case identifier:
	// "hello" gives package hello.v1, HelloService on namespace /hello.
	Name string
}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9]*$`)

// DefaultName derives a service name from a module path: its last
// element, lower-cased, with everything but letters and digits dropped.
func DefaultName(module string) string {
	last := module[strings.LastIndex(module, "/")+1:]
	var b strings.Builder
	for _, r := range strings.ToLower(last) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' && b.Len() > 0 {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "hello"
	}
	return b.String()
}

// templateData is what the templates see.
type templateData struct {
	Module, Name, Package, Service, GoAlias string
}

// Write creates the project's files under dir and returns their paths,
// relative to dir. It refuses to overwrite a file that exists.
func Write(dir string, p Project) ([]string, error) {
	if p.Module == "" || strings.ContainsAny(p.Module, " \t\n\"\\") {
		return nil, fmt.Errorf("module path %q is not a Go module path", p.Module)
	}
	if !nameRE.MatchString(p.Name) {
		return nil, fmt.Errorf("name %q must be a lower-case identifier (letters and digits, a letter first)", p.Name)
	}
	data := templateData{
		Module:  p.Module,
		Name:    p.Name,
		Package: p.Name + ".v1",
		Service: strings.ToUpper(p.Name[:1]) + p.Name[1:] + "Service",
		GoAlias: p.Name + "v1",
	}
	out := []struct {
		path, source string
	}{
		{"buf.yaml", "files/buf.yaml"},
		{"buf.gen.yaml", "files/buf.gen.yaml.tmpl"},
		{filepath.Join("proto", "sio", "v1", "options.proto"), "files/options.proto"},
		{filepath.Join("proto", p.Name, "v1", p.Name+".proto"), "files/service.proto.tmpl"},
		{"main.go", "files/main.go.tmpl"},
		{filepath.Join("client", "main.go"), "files/client.go.tmpl"},
		{"client.ts", "files/client.ts.tmpl"},
		{"package.json", "files/package.json.tmpl"},
		{"tsconfig.json", "files/tsconfig.json"},
	}
	for _, f := range out {
		if _, err := os.Stat(filepath.Join(dir, f.path)); err == nil {
			return nil, fmt.Errorf("%s exists; init writes only new files", filepath.Join(dir, f.path))
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	var written []string
	for _, f := range out {
		b, err := render(f.source, data)
		if err != nil {
			return written, err
		}
		path := filepath.Join(dir, f.path)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return written, err
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			return written, err
		}
		written = append(written, f.path)
	}
	return written, nil
}

// render returns an embedded file, executed as a template if its name
// ends in .tmpl.
func render(source string, data templateData) ([]byte, error) {
	b, err := files.ReadFile(source)
	if err != nil {
		return nil, err
	}
	if !strings.HasSuffix(source, ".tmpl") {
		return b, nil
	}
	t, err := template.New(source).Option("missingkey=error").Parse(string(b))
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
