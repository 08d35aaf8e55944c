package uploader

import (
	"os"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestRESTPathsMatchTheRoutes: every REST path the client posts to is the
// route upload_http.yaml gives its method, so a route changed there
// cannot leave the client behind.
func TestRESTPathsMatchTheRoutes(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../proto/gatepost/v1/upload_http.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var service struct {
		HTTP struct {
			Rules []struct {
				Selector string
				Post     string
			}
		}
	}
	if err := yaml.Unmarshal(raw, &service); err != nil {
		t.Fatal(err)
	}
	routes := map[string]string{}
	for _, r := range service.HTTP.Rules {
		if r.Post != "" {
			// gatepost.v1.UploadService.X is /gatepost.v1.UploadService/X.
			i := strings.LastIndex(r.Selector, ".")
			routes["/"+r.Selector[:i]+"/"+r.Selector[i+1:]] = r.Post
		}
	}
	if len(routes) == 0 {
		t.Fatal("no POST routes in upload_http.yaml")
	}
	for method, path := range restPaths {
		if routes[method] != path {
			t.Errorf("the client posts %s to %s; upload_http.yaml routes it to %q", method, path, routes[method])
		}
	}
}
