package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/pluginpb"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// request compiles the .proto files of testdata/<dir> (with the repo's
// proto/ for sio/v1 options) into a CodeGeneratorRequest.
func request(t *testing.T, dir, param string) *pluginpb.CodeGeneratorRequest {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".proto") {
			files = append(files, e.Name())
		}
	}
	compiler := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
			ImportPaths: []string{dir, filepath.Join("..", "..", "proto")},
		}),
		SourceInfoMode: protocompile.SourceInfoStandard,
	}
	compiled, err := compiler.Compile(context.Background(), files...)
	if err != nil {
		t.Fatal(err)
	}
	req := &pluginpb.CodeGeneratorRequest{FileToGenerate: files, Parameter: proto.String(param)}
	seen := map[string]bool{}
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		for i := range fd.Imports().Len() {
			add(fd.Imports().Get(i).FileDescriptor)
		}
		req.ProtoFile = append(req.ProtoFile, protodesc.ToFileDescriptorProto(fd))
	}
	for _, f := range compiled {
		add(f)
	}
	// Requests carry options as bytes: round-trip so that extensions are
	// parsed as the real plugin would see them.
	b, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	out := &pluginpb.CodeGeneratorRequest{}
	if err := proto.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestGolden(t *testing.T) {
	cases := []struct {
		dir     string
		wantErr string // for both languages, when the case must be refused
	}{
		{dir: "chat"},
		{dir: "nested"},
		{dir: "clash"},
		{dir: "streams"},
		{dir: "streamoption", wantErr: "bad.proto: method bad.v1.BadService.Get: the server_stream option is for server-streaming methods"},
		{dir: "duplicate_event", wantErr: `dup.proto: methods dup.v1.DupService.A and dup.v1.DupService.B both use event "same" on namespace /`},
	}
	for _, tc := range cases {
		for _, lang := range []string{"go", "ts"} {
			t.Run(tc.dir+"/"+lang, func(t *testing.T) {
				dir := filepath.Join("testdata", tc.dir)
				param := "lang=" + lang
				if lang == "go" {
					param += ",paths=source_relative"
				}
				resp := Generate(request(t, dir, param))
				if tc.wantErr != "" {
					if resp.GetError() != tc.wantErr {
						t.Errorf("error\n got %q\nwant %q", resp.GetError(), tc.wantErr)
					}
					return
				}
				if resp.GetError() != "" {
					t.Fatal(resp.GetError())
				}
				golden := filepath.Join(dir, "golden", lang)
				var names []string
				for _, f := range resp.GetFile() {
					path := filepath.Join(golden, f.GetName())
					names = append(names, f.GetName())
					if *update {
						if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
							t.Fatal(err)
						}
						if err := os.WriteFile(path, []byte(f.GetContent()), 0o644); err != nil {
							t.Fatal(err)
						}
						continue
					}
					want, err := os.ReadFile(path)
					if err != nil {
						t.Fatalf("%v (run go test -update to create it)", err)
					}
					if !bytes.Equal(want, []byte(f.GetContent())) {
						t.Errorf("%s differs from its golden file (run go test -update and review the diff)", f.GetName())
					}
				}
				// No golden file may be left without its output.
				_ = filepath.WalkDir(golden, func(p string, d os.DirEntry, err error) error {
					if err == nil && !d.IsDir() {
						rel, _ := filepath.Rel(golden, p)
						if !slices.Contains(names, filepath.ToSlash(rel)) {
							t.Errorf("golden file %s was not generated", rel)
						}
					}
					return nil
				})
			})
		}
	}
}

func TestOptions(t *testing.T) {
	req := request(t, filepath.Join("testdata", "chat"), "lang=rust")
	if got := Generate(req).GetError(); got != `unknown lang "rust": use lang=go or lang=ts` {
		t.Errorf("unknown lang: %q", got)
	}
	req = request(t, filepath.Join("testdata", "chat"), "lang=ts,paths=source_relative")
	if got := Generate(req).GetError(); got != `lang=ts takes one other option, runtime=<module>, got "paths=source_relative"` {
		t.Errorf("ts with go options: %q", got)
	}
	// runtime= names the module the generated files import the runtime from.
	resp := Generate(request(t, filepath.Join("testdata", "chat"), "lang=ts,runtime=./vendor/sio.js"))
	if resp.GetError() != "" || len(resp.GetFile()) != 1 {
		t.Fatalf("runtime option: %v", resp)
	}
	if content := resp.GetFile()[0].GetContent(); !strings.Contains(content, `} from "./vendor/sio.js";`) || strings.Contains(content, `"@sio-dev/runtime"`) {
		t.Errorf("runtime option not followed:\n%s", content)
	}
	if lang, rest := splitLang("paths=source_relative,lang=ts"); lang != "ts" || rest != "paths=source_relative" {
		t.Errorf("splitLang = %q %q", lang, rest)
	}
}

// TestRun checks the stdin/stdout plumbing.
func TestRun(t *testing.T) {
	in, _ := proto.Marshal(request(t, filepath.Join("testdata", "chat"), "lang=ts"))
	var out bytes.Buffer
	if err := run(bytes.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	resp := &pluginpb.CodeGeneratorResponse{}
	if err := proto.Unmarshal(out.Bytes(), resp); err != nil || len(resp.GetFile()) != 1 {
		t.Fatalf("response %v, %v", resp, err)
	}
}
