package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// routeMethods knows which HTTP methods each REST path takes, from the
// API description (the OpenAPI document generated from upload_http.yaml),
// for the Allow header of a 405: grpc-gateway says only that another
// method matched. Routes come from the document, so a new RPC needs
// nothing here.
type routeMethods []routeTemplate

type routeTemplate struct {
	segments []string // "{name}" matches one segment, or the rest when last
	methods  string   // "GET, POST"
}

// parseRouteMethods reads the paths of an OpenAPI 2 or 3 document.
func parseRouteMethods(doc []byte) (routeMethods, error) {
	if len(doc) == 0 {
		return nil, nil
	}
	var d struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, fmt.Errorf("read the paths of the API description: %w", err)
	}
	var out routeMethods
	for path, ops := range d.Paths {
		var methods []string
		for m := range ops {
			switch m := strings.ToUpper(m); m {
			case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
				methods = append(methods, m)
			}
		}
		slices.Sort(methods)
		out = append(out, routeTemplate{segments: strings.Split(strings.Trim(path, "/"), "/"), methods: strings.Join(methods, ", ")})
	}
	return out, nil
}

// allow returns the methods a path takes, or "" when no route matches it.
func (r routeMethods) allow(path string) string {
	got := strings.Split(strings.Trim(path, "/"), "/")
	for _, t := range r {
		if t.match(got) {
			return t.methods
		}
	}
	return ""
}

func (t routeTemplate) match(got []string) bool {
	for i, seg := range t.segments {
		variable := strings.HasPrefix(seg, "{")
		switch {
		case i >= len(got):
			return false
		case variable && i == len(t.segments)-1:
			return true // a trailing variable takes the rest ({key=**})
		case !variable && seg != got[i]:
			return false
		}
	}
	return len(got) == len(t.segments)
}
