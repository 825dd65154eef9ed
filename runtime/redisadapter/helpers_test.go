package redisadapter

import (
	"encoding/json"
	"net/http"
)

func jsonUnmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

func newHTTPServer(h http.Handler) *http.Server { return &http.Server{Handler: h} }
