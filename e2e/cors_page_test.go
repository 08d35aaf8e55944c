package e2e

import (
	"net/http"
)

// corsProbePage serves a page whose script asks gatepost (its address in
// the "gatepost" query parameter) for a policy with a bearer token, as a
// web app on another origin would, and reports the outcome in
// document.body.dataset.outcome: "allowed:<status>" or "blocked".
func corsProbePage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><html><body data-outcome="pending"><script>
const params = new URLSearchParams(location.search);
fetch(params.get("gatepost") + "/v1/presign?key=cors.txt&content_type=text/plain", {
  headers: { Authorization: "Bearer " + params.get("token") },
}).then((r) => { document.body.dataset.outcome = "allowed:" + r.status; })
  .catch(() => { document.body.dataset.outcome = "blocked"; });
</script></body></html>`))
	})
}
