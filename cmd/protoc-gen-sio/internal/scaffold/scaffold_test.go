package scaffold

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOptionsProtoIsTheRepositorys keeps the copy that init writes equal
// to proto/sio/v1/options.proto.
func TestOptionsProtoIsTheRepositorys(t *testing.T) {
	want, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "proto", "sio", "v1", "options.proto"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(OptionsProto(), want) {
		t.Fatal("files/options.proto differs from proto/sio/v1/options.proto: copy it over")
	}
}

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	written, err := Write(dir, Project{Module: "example.com/shop", Name: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	if len(written) != 9 {
		t.Fatalf("wrote %v", written)
	}
	proto, err := os.ReadFile(filepath.Join(dir, "proto", "shop", "v1", "shop.proto"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"package shop.v1;", "service ShopService {", `(sio.v1.namespace) = "/shop"`} {
		if !strings.Contains(string(proto), want) {
			t.Errorf("shop.proto lacks %q", want)
		}
	}
	gen, _ := os.ReadFile(filepath.Join(dir, "buf.gen.yaml"))
	if !strings.Contains(string(gen), "value: example.com/shop/gen/go") {
		t.Errorf("buf.gen.yaml does not put Go code under the module:\n%s", gen)
	}
	// A second run refuses to overwrite anything.
	if _, err := Write(dir, Project{Module: "example.com/shop", Name: "shop"}); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("second Write: %v, want a refusal", err)
	}
}

func TestWriteRefusesBadNames(t *testing.T) {
	for _, p := range []Project{{Module: "", Name: "a"}, {Module: "x y", Name: "a"}, {Module: "m", Name: "Shop"}, {Module: "m", Name: "1a"}, {Module: "m", Name: "a-b"}} {
		if _, err := Write(t.TempDir(), p); err == nil {
			t.Errorf("Write(%+v) succeeded", p)
		}
	}
}

func TestDefaultName(t *testing.T) {
	for module, want := range map[string]string{"example.com/hello": "hello", "github.com/x/My-Shop": "myshop", "m/2fa": "fa", "m/---": "hello"} {
		if got := DefaultName(module); got != want {
			t.Errorf("DefaultName(%q) = %q, want %q", module, got, want)
		}
	}
}
