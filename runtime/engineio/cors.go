package engineio

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
)

var defaultCORSMethods = "GET,HEAD,PUT,PATCH,POST,DELETE"

// applyCORS sets cross-origin headers. It reports whether the request was a
// preflight that has been answered.
func (s *Server) applyCORS(w http.ResponseWriter, r *http.Request) bool {
	cors := s.opts.CORS
	h := w.Header()
	origin := r.Header.Get("Origin")
	allowed := ""
	switch {
	case cors.AllowOrigin != nil:
		if origin != "" && cors.AllowOrigin(origin) {
			allowed = origin
		}
	case slices.Contains(cors.Origins, "*") || len(cors.Origins) == 0:
		allowed = "*"
		if cors.Credentials && origin != "" {
			allowed = origin
		}
	case slices.Contains(cors.Origins, origin):
		allowed = origin
	}
	if allowed != "" {
		h.Set("Access-Control-Allow-Origin", allowed)
		if allowed != "*" {
			h.Add("Vary", "Origin")
		}
		if cors.Credentials {
			h.Set("Access-Control-Allow-Credentials", "true")
		}
	}
	if r.Method != http.MethodOptions {
		return false
	}
	methods := defaultCORSMethods
	if len(cors.Methods) > 0 {
		methods = strings.Join(cors.Methods, ",")
	}
	h.Set("Access-Control-Allow-Methods", methods)
	if len(cors.Headers) > 0 {
		h.Set("Access-Control-Allow-Headers", strings.Join(cors.Headers, ","))
	} else if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
		h.Set("Access-Control-Allow-Headers", req)
		h.Add("Vary", "Access-Control-Request-Headers")
	}
	if cors.MaxAge > 0 {
		h.Set("Access-Control-Max-Age", strconv.Itoa(int(cors.MaxAge.Seconds())))
	}
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusNoContent)
	return true
}
