package gateway

import (
	"embed"
	"io/fs"
	"net/http"
)

// web holds the demo page and the browser helpers gatepost.js and
// gatepost-uppy.js (gatepost as Uppy's uploader), embedded so
// the binary needs no files and the page no CDN.
//
//go:embed web
var web embed.FS

// contentTypes of the embedded files, by name.
var contentTypes = map[string]string{
	"index.html":       "text/html; charset=utf-8",
	"gatepost.js":      "text/javascript; charset=utf-8",
	"gatepost-uppy.js": "text/javascript; charset=utf-8",
	"demo.js":          "text/javascript; charset=utf-8",
	"demo.css":         "text/css; charset=utf-8",
}

// pageCSP keeps the demo page to its own scripts and styles; uploads go to
// the store's origin, which is not known here, so connections may go to
// any http(s) origin.
const pageCSP = "default-src 'self'; connect-src 'self' http: https:; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"

// serveWeb registers / (the demo page) and its assets on mux.
func serveWeb(mux *http.ServeMux) {
	static, _ := fs.Sub(web, "web")
	file := func(name string) http.HandlerFunc {
		body, err := fs.ReadFile(static, name)
		if err != nil {
			panic("gateway: embedded file missing: " + name) // a build mistake, caught by tests
		}
		return func(w http.ResponseWriter, _ *http.Request) {
			h := w.Header()
			h.Set("Content-Type", contentTypes[name])
			h.Set("Cache-Control", "no-cache")
			h.Set("X-Content-Type-Options", "nosniff")
			if name == "index.html" {
				h.Set("Content-Security-Policy", pageCSP)
				h.Set("Referrer-Policy", "no-referrer")
			}
			_, _ = w.Write(body)
		}
	}
	mux.HandleFunc("GET /{$}", file("index.html"))
	for _, name := range []string{"gatepost.js", "gatepost-uppy.js", "demo.js", "demo.css"} {
		mux.HandleFunc("GET /"+name, file(name))
	}
}
