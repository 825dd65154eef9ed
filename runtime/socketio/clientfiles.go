package socketio

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"
)

// clientFile matches the files of the official client bundle that the
// reference server serves under its path: socket.io.js and its minified,
// ESM and MessagePack builds, with their source maps.
var clientFile = regexp.MustCompile(`^socket\.io(\.esm\.min|\.msgpack\.min|\.min)?\.js(\.map)?$`)

// clientFiles serves the client bundle from an fs.FS, with an ETag of each
// file's content, as the reference's serveClient does.
type clientFiles struct {
	files fs.FS
	mu    sync.Mutex
	etags map[string]string // file name -> quoted ETag
}

// serve answers r if it asks for a file of the client bundle under path;
// it reports whether it did.
func (c *clientFiles) serve(w http.ResponseWriter, r *http.Request, path string) bool {
	name, ok := strings.CutPrefix(r.URL.Path, path)
	if !ok || !clientFile.MatchString(name) || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		return false
	}
	b, err := fs.ReadFile(c.files, name)
	if err != nil {
		http.NotFound(w, r)
		return true
	}
	etag := c.etag(name, b)
	h := w.Header()
	h.Set("ETag", etag)
	h.Set("Cache-Control", "public, max-age=0")
	if strings.HasSuffix(name, ".map") {
		h.Set("Content-Type", "application/json; charset=utf-8")
	} else {
		h.Set("Content-Type", "application/javascript; charset=utf-8")
	}
	// ServeContent answers If-None-Match with 304 (from the ETag above),
	// ranges and HEAD.
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
	return true
}

// etag returns the ETag of a file, computed once.
func (c *clientFiles) etag(name string, b []byte) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.etags[name]; ok {
		return e
	}
	sum := sha256.Sum256(b)
	e := `"` + hex.EncodeToString(sum[:8]) + `"`
	if c.etags == nil {
		c.etags = map[string]string{}
	}
	c.etags[name] = e
	return e
}
