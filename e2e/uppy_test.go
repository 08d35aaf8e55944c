package e2e

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/chromedp/chromedp"

	"github.com/gatepost/gatepost/internal/app"
	"github.com/gatepost/gatepost/internal/config"
)

// uppyBundle builds a page script from the pinned @uppy/core 5 and
// @uppy/aws-s3 5 with the pinned esbuild (make npm), or skips without
// them (fails with GATEPOST_REQUIRE_NPM).
func uppyBundle(t *testing.T) []byte {
	t.Helper()
	tools, _ := filepath.Abs("../tools/npm/node_modules")
	esbuild := filepath.Join(tools, ".bin", "esbuild")
	if _, err := os.Stat(filepath.Join(tools, "@uppy", "aws-s3")); err != nil {
		if os.Getenv("GATEPOST_REQUIRE_NPM") != "" {
			t.Fatalf("Uppy and esbuild are missing (run `make npm`): %v", err)
		}
		t.Skip("Uppy and esbuild are missing: run `make npm`")
	}
	dir := t.TempDir()
	if err := os.Symlink(tools, filepath.Join(dir, "node_modules")); err != nil {
		t.Fatal(err)
	}
	// No glue: Uppy's own AwsS3 plugin with gatepost as its Companion
	// endpoint and the bearer token in headers.
	entry := `import Uppy from "@uppy/core";
import AwsS3 from "@uppy/aws-s3";
window.uploadWithUppy = async (endpoint, token, files) => {
  const uppy = new Uppy();
  uppy.use(AwsS3, { endpoint, headers: { Authorization: "Bearer " + token } });
  for (const f of files) uppy.addFile({ name: f.name, type: f.type, data: new Blob([f.body], { type: f.type }) });
  const result = await uppy.upload();
  return {
    ok: result.successful.map((f) => f.name),
    failed: result.failed.map((f) => f.name + ": " + String((f.error && f.error.message) || f.error)),
  };
};
`
	if err := os.WriteFile(filepath.Join(dir, "entry.js"), []byte(entry), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(esbuild, "entry.js", "--bundle", "--format=iife", "--outfile=bundle.js", "--log-level=warning")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("esbuild: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "bundle.js"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestUppyCompanionParams: real Uppy 5 (@uppy/core 5.2.0, @uppy/aws-s3
// 5.1.0) in Debian's Chromium, on a page of its own origin, with
// `endpoint: <gatepost>` and a bearer token and no glue, uploads a small
// file to both stores through gatepost's /s3/params (the metadata Uppy
// adds that the profile does not list is dropped); a file of a type the
// profile refuses fails with gatepost's message, and one over its size
// limit is refused by the store and not stored.
func TestUppyCompanionParams(t *testing.T) {
	bundle := uppyBundle(t)
	forEachStoreInTurn(t, func(t *testing.T, st *target) {
		page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/bundle.js" {
				w.Header().Set("Content-Type", "text/javascript")
				_, _ = w.Write(bundle)
				return
			}
			w.Header().Set("Content-Type", "text/html")
			_, _ = io.WriteString(w, `<!doctype html><script src="/bundle.js"></script>`)
		}))
		t.Cleanup(page.Close)
		cfg := testConfig(st.Endpoint, st.kind)
		cfg.CORS.AllowedOrigins = []string{page.URL}
		cfg.Uppy = &config.Uppy{Profile: "default"}
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		a, err := app.New(ctx, cfg, app.Options{Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
			AWSOptions: []func(*awsconfig.LoadOptions) error{st.credentials()}})
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- a.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
		if err := st.store.AllowBrowserUploads(t.Context(), bucket, []string{"http://" + st.gatepost.HTTPAddr(), page.URL}); err != nil {
			t.Fatal(err)
		}

		browser := newBrowser(t)
		if err := chromedp.Do(browser, chromedp.Navigate(page.URL+"/")); err != nil {
			t.Fatal(err)
		}
		name := "uppy-" + strings.ToLower(st.name) + ".txt"
		type result struct {
			Ok     []string `json:"ok"`
			Failed []string `json:"failed"`
		}
		script := `window.uploadWithUppy(` + strconv.Quote("http://"+a.HTTPAddr()) + `, ` + strconv.Quote(apiKey) + `, [
	  { name: ` + strconv.Quote(name) + `, type: "text/plain", body: "uploaded by Uppy 5 through gatepost\n" },
	  { name: "page.html", type: "text/html", body: "<html></html>" },
	  { name: "too-big.txt", type: "text/plain", body: "x".repeat(2000) },
	])`
		got, err := chromedp.Run(browser, chromedp.Evaluate[result](script, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Ok) != 1 || got.Ok[0] != name {
			t.Errorf("uploaded %v, failed %v; want %s uploaded", got.Ok, got.Failed, name)
		}
		// A type the profile refuses: gatepost's message. A file over the
		// profile's 1 KiB: the store's refusal of the POST.
		if len(got.Failed) != 2 || !strings.Contains(strings.Join(got.Failed, "\n"), "page.html: ") ||
			!strings.Contains(strings.Join(got.Failed, "\n"), "is not allowed by profile") || !strings.Contains(strings.Join(got.Failed, "\n"), "too-big.txt: ") {
			t.Errorf("failed %v; want page.html refused with gatepost's message and too-big.txt refused", got.Failed)
		}
		if st.headObject(t, "user-uploads/too-big.txt") != nil {
			t.Error("the over-limit file was stored")
		}
		if stored := st.getObject(t, "user-uploads/"+name); !bytes.Equal(stored, []byte("uploaded by Uppy 5 through gatepost\n")) {
			t.Errorf("stored %q", stored)
		}
	})
}
