package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/chromedp/chromedp"

	"github.com/gatepost/gatepost/internal/app"
	"github.com/gatepost/gatepost/internal/config"
)

// uppyBundle bundles the page script e2e/uppy/<entry> with the pinned
// esbuild and the pinned Uppy in tools/npm/<modules> (make npm), or skips
// without them (fails with GATEPOST_REQUIRE_NPM).
func uppyBundle(t *testing.T, modules, entry string) []byte {
	t.Helper()
	tools, _ := filepath.Abs("../tools/npm/node_modules")
	deps, _ := filepath.Abs(filepath.Join("../tools/npm", modules, "node_modules"))
	esbuild := filepath.Join(tools, ".bin", "esbuild")
	for _, need := range []string{esbuild, filepath.Join(deps, "@uppy", "aws-s3")} {
		if _, err := os.Stat(need); err != nil {
			if os.Getenv("GATEPOST_REQUIRE_NPM") != "" {
				t.Fatalf("Uppy or esbuild is missing (run `make npm`): %v", err)
			}
			t.Skip("Uppy or esbuild is missing: run `make npm`")
		}
	}
	dir := t.TempDir()
	web, _ := filepath.Abs("../gateway/web")
	if err := os.Symlink(deps, filepath.Join(dir, "node_modules")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(web, filepath.Join(dir, "gatepost-web")); err != nil { // gatepost's own browser helpers
		t.Fatal(err)
	}
	// The page scripts and the modules they share (page.js, companion.js).
	scripts, _ := filepath.Glob(filepath.Join("uppy", "*.js"))
	for _, script := range scripts {
		src, err := os.ReadFile(script)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(script)), src, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(esbuild, entry, "--bundle", "--format=iife", "--outfile=bundle.js", "--log-level=warning")
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

// uppyPage serves a page of its own origin that loads bundle.
func uppyPage(t *testing.T, bundle []byte) *httptest.Server {
	t.Helper()
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
	return page
}

// startUppyGatepost runs a gatepost of its own with the Uppy routes for
// profile, allowing pages from origin, and returns its REST address.
func startUppyGatepost(t *testing.T, st *target, profile, origin string, change func(*config.Config)) string {
	t.Helper()
	cfg := testConfig(st.Endpoint, st.kind)
	cfg.CORS.AllowedOrigins = []string{origin}
	cfg.Uppy = &config.Uppy{Profile: profile}
	cfg.Profiles["uppy"] = config.Profile{
		Bucket: bucket, KeyPrefix: "uppy/", KeyMode: config.KeyModeClient, MinBytes: 1, MaxBytes: 24 << 20,
		ContentTypes: []string{"application/octet-stream", "text/plain"}, Expires: 15 * time.Minute,
		Methods: []config.Method{config.MethodPost, config.MethodMultipart}, AllowUnsizedMultipart: true,
	}
	if change != nil {
		change(cfg)
	}
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
	if err := st.store.AllowBrowserUploads(t.Context(), bucket, []string{"http://" + st.gatepost.HTTPAddr(), origin}); err != nil {
		t.Fatal(err)
	}
	return a.HTTPAddr()
}

// companionLog is a proxy in front of gatepost that records the Companion
// calls Uppy makes. A nil *companionLog records nothing.
type companionLog struct {
	mu    sync.Mutex
	calls []string // "METHOD /path"
}

var partPath = regexp.MustCompile(`^GET /s3/multipart/[^/]+/(\d+)$`)

// proxy returns the URL of a proxy to the gatepost at addr that records
// every request.
func (l *companionLog) proxy(t *testing.T, addr string) string {
	t.Helper()
	target, _ := url.Parse("http://" + addr)
	rp := httputil.NewSingleHostReverseProxy(target)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.record(r)
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	return ts.URL
}

// record notes r as "METHOD /path", with the part numbers asked of
// gatepost's own POST /v1/multipart/parts.
func (l *companionLog) record(r *http.Request) {
	if l == nil {
		return
	}
	call := r.Method + " " + r.URL.Path
	if call == "POST /v1/multipart/parts" {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		var asked struct {
			PartNumbers []int `json:"part_numbers"`
		}
		_ = json.Unmarshal(body, &asked)
		call += " " + fmt.Sprint(asked.PartNumbers)
	}
	l.mu.Lock()
	l.calls = append(l.calls, call)
	l.mu.Unlock()
}

// mark returns how many calls were made so far.
func (l *companionLog) mark() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.calls)
}

// since returns the calls made after mark.
func (l *companionLog) since(mark int) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.calls[mark:])
}

var partsCall = regexp.MustCompile(`^POST /v1/multipart/parts \[([\d ]*)\]$`)

// partsSigned returns the part numbers of the part URLs in calls (the
// Companion route or gatepost's own).
func partsSigned(calls []string) []int {
	var parts []int
	for _, c := range calls {
		if m := partPath.FindStringSubmatch(c); m != nil {
			n, _ := strconv.Atoi(m[1])
			parts = append(parts, n)
		}
		if m := partsCall.FindStringSubmatch(c); m != nil {
			for _, f := range strings.Fields(m[1]) {
				n, _ := strconv.Atoi(f)
				parts = append(parts, n)
			}
		}
	}
	return parts
}

// pattern makes the test bytes uppy5.js and uppy6.js make.
func pattern(n, seed int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31 + seed + i>>20)
	}
	return b
}

// uppyResult is what the page scripts report.
type uppyResult struct {
	Ok     []string `json:"ok"`
	Failed []string `json:"failed"`
	URLs   []string `json:"urls"`
	States []string `json:"states"`
}

// multipartUploadsOf lists the multipart uploads in progress under prefix.
func (st *target) multipartUploadsOf(t *testing.T, prefix string) []string {
	t.Helper()
	out, err := st.s3.ListMultipartUploads(t.Context(), &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, u := range out.Uploads {
		keys = append(keys, aws.ToString(u.Key))
	}
	return keys
}

// eventually polls cond every 100 ms until it holds or 20 s pass.
func eventually(cond func() bool) bool {
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// TestUppyCompanionParams: real Uppy 5 (@uppy/core 5.2.0, @uppy/aws-s3
// 5.1.0) in Debian's Chromium, on a page of its own origin, with
// `endpoint: <gatepost>` and a bearer token and no glue, uploads a small
// file to both stores through gatepost's /s3/params (the metadata Uppy
// adds that the profile does not list is dropped); a file of a type the
// profile refuses fails with gatepost's message, and one over its size
// limit is refused by the store and not stored.
func TestUppyCompanionParams(t *testing.T) {
	bundle := uppyBundle(t, ".", "uppy5.js")
	forEachStoreInTurn(t, func(t *testing.T, st *target) {
		page := uppyPage(t, bundle)
		addr := startUppyGatepost(t, st, "default", page.URL, nil)
		browser := newBrowser(t)
		if err := chromedp.Do(browser, chromedp.Navigate(page.URL+"/")); err != nil {
			t.Fatal(err)
		}
		name := "uppy-" + strings.ToLower(st.name) + ".txt"
		script := `window.connect(` + strconv.Quote("http://"+addr) + `, ` + strconv.Quote(apiKey) + `), window.uploadWithUppy([
	  { name: ` + strconv.Quote(name) + `, type: "text/plain", body: "uploaded by Uppy 5 through gatepost\n" },
	  { name: "page.html", type: "text/html", body: "<html></html>" },
	  { name: "too-big.txt", type: "text/plain", body: "x".repeat(2000) },
	])`
		got, err := chromedp.Run(browser, chromedp.Evaluate[uppyResult](script, chromedp.EvalAwaitPromise))
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

// TestUppy5Multipart: real Uppy 5 with no glue sends files over 8 MiB
// (its shouldUseMultipart option) as multipart uploads of undeclared size
// through gatepost's Companion routes, on both stores: a 21 MiB file is
// stored whole; one of 25 MiB, over the profile's 24 MiB, fails with
// gatepost's reason and leaves nothing behind; a cancelled upload is
// aborted (nothing left in the store); and an upload interrupted by a page
// reload is resumed by Golden Retriever, sending only the parts that had
// not arrived.
func TestUppy5Multipart(t *testing.T) {
	bundle := uppyBundle(t, ".", "uppy5.js")
	forEachStoreInTurn(t, func(t *testing.T, st *target) {
		page := uppyPage(t, bundle)
		var log companionLog
		endpoint := log.proxy(t, startUppyGatepost(t, st, "uppy", page.URL, nil))
		browser := newBrowser(t)
		if err := chromedp.Do(browser, chromedp.Navigate(page.URL+"/")); err != nil {
			t.Fatal(err)
		}
		run := func(script string) uppyResult {
			t.Helper()
			got, err := chromedp.Run(browser, chromedp.Evaluate[uppyResult](script, chromedp.EvalAwaitPromise))
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		connect := func() {
			t.Helper()
			if _, err := chromedp.Run(browser, chromedp.Evaluate[any](`window.connect(`+strconv.Quote(endpoint)+`, `+strconv.Quote(apiKey)+`)`)); err != nil {
				t.Fatal(err)
			}
		}
		connect()
		const size = 21 << 20

		got := run(`window.uploadWithUppy([
		  { name: "big.bin", type: "application/octet-stream", size: ` + itoa(size) + `, seed: 1 },
		  { name: "over.bin", type: "application/octet-stream", size: ` + itoa(25<<20) + `, seed: 2 },
		])`)
		if len(got.Ok) != 1 || got.Ok[0] != "big.bin" || !strings.HasSuffix(got.URLs[0], "/uppy/big.bin") {
			t.Errorf("uploaded %v at %v, failed %v; want big.bin", got.Ok, got.URLs, got.Failed)
		}
		if stored := st.getObject(t, "uppy/big.bin"); !bytes.Equal(stored, pattern(size, 1)) {
			t.Errorf("stored %d bytes that differ from the %d sent", len(stored), size)
		}
		if len(got.Failed) != 1 || !strings.Contains(got.Failed[0], "over.bin: ") ||
			!strings.Contains(got.Failed[0], "over the profile's maximum of 25165824; gatepost aborted the upload and nothing was stored") {
			t.Errorf("failed %v; want over.bin refused with gatepost's reason", got.Failed)
		}
		if st.headObject(t, "uppy/over.bin") != nil || len(st.multipartUploadsOf(t, "uppy/over.bin")) != 0 {
			t.Error("the over-limit upload left an object or parts")
		}
		if signed := partsSigned(log.since(0)); !slices.Contains(signed, 5) || slices.Contains(signed, 6) {
			t.Errorf("parts signed %v; want parts 1 to 5 of each file", signed)
		}
		checkCancelAndResume(t, browser, st, &log, "u5-", connect)
	})
}

// checkCancelAndResume runs the Companion flows of uppy5.js and uppy6.js
// (companion.js) that leave a multipart upload mid-way, with files named
// prefix...: a cancel once the first part is stored aborts the upload
// (nothing left in the store), and a reload after two parts is resumed by
// Golden Retriever, which lists the parts and sends only the missing ones.
// connect signs the page in again after the reload.
func checkCancelAndResume(t *testing.T, browser context.Context, st *target, log *companionLog, prefix string, connect func()) {
	t.Helper()
	const size = 21 << 20
	cancelled, resumed := prefix+"cancelled.bin", prefix+"resumed.bin"
	file := func(name string, seed int) string {
		return `{ name: ` + strconv.Quote(name) + `, type: "application/octet-stream", size: ` + itoa(size) + `, seed: ` + itoa(seed) + ` }`
	}
	if _, err := chromedp.Run(browser, chromedp.Evaluate[string](`window.cancelAfterOnePart(`+file(cancelled, 4)+`)`, chromedp.EvalAwaitPromise)); err != nil {
		t.Fatal(err)
	}
	if !eventually(func() bool { return len(st.multipartUploadsOf(t, "uppy/"+cancelled)) == 0 }) {
		t.Errorf("the cancelled upload is still in the store: %v", st.multipartUploadsOf(t, "uppy/"+cancelled))
	}
	if st.headObject(t, "uppy/"+cancelled) != nil {
		t.Error("the cancelled upload was stored")
	}
	if calls := log.since(0); !slices.ContainsFunc(calls, func(c string) bool { return strings.HasPrefix(c, "DELETE /s3/multipart/") }) {
		t.Errorf("Uppy never aborted: %v", calls)
	}

	before := log.mark()
	if _, err := chromedp.Run(browser, chromedp.Evaluate[int](`window.startThenLeave(`+file(resumed, 3)+`)`, chromedp.EvalAwaitPromise)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(browser, chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	connect()
	reloaded := log.mark()
	got, err := chromedp.Run(browser, chromedp.Evaluate[uppyResult](`window.resumeAfterReload()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Ok) != 1 || got.Ok[0] != resumed {
		logs, _ := chromedp.Run(browser, chromedp.Evaluate[[]string](`window.uppyLogs`))
		t.Fatalf("resumed %v, failed %v; Uppy's log %q", got.Ok, got.Failed, logs)
	}
	if stored := st.getObject(t, "uppy/"+resumed); !bytes.Equal(stored, pattern(size, 3)) {
		t.Errorf("stored %d bytes that differ from the %d sent", len(stored), size)
	}
	first, after := partsSigned(log.since(before)[:reloaded-before]), partsSigned(log.since(reloaded))
	if !slices.Contains(first, 2) || slices.Contains(after, 1) || slices.Contains(after, 2) || !slices.Contains(after, 5) {
		t.Errorf("parts signed before the reload %v, after %v; want 1 and 2 before only", first, after)
	}
	if calls := log.since(reloaded); !slices.ContainsFunc(calls, func(c string) bool { return strings.HasPrefix(c, "GET /s3/multipart/") && strings.Count(c, "/") == 3 }) {
		t.Errorf("the resumed upload did not list its parts: %v", calls)
	}
}

// openSameOriginApp starts sameOriginApp (with bundle) in front of a
// gatepost for profile on st and opens its page in a new browser, which it
// returns. log records the page's calls.
func openSameOriginApp(t *testing.T, st *target, profile string, bundle []byte, log *companionLog) context.Context {
	t.Helper()
	page, behind := sameOriginApp(t, bundle, log)
	behind(startUppyGatepost(t, st, profile, page.URL, nil))
	browser := newBrowser(t)
	if err := chromedp.Do(browser, chromedp.Navigate(page.URL+"/")); err != nil {
		t.Fatal(err)
	}
	return browser
}

// sameOriginApp serves the page and, under the same origin, gatepost's
// routes (as an application's reverse proxy does), recording them in log
// (when not nil); gatepost is set once it runs.
func sameOriginApp(t *testing.T, bundle []byte, log *companionLog) (app *httptest.Server, gatepost func(addr string)) {
	t.Helper()
	var upstream atomic.Pointer[url.URL]
	app = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/bundle.js":
			w.Header().Set("Content-Type", "text/javascript")
			_, _ = w.Write(bundle)
		case strings.HasPrefix(r.URL.Path, "/s3/") || strings.HasPrefix(r.URL.Path, "/v1/"):
			log.record(r)
			forwardKeepingReason(t, w, r, upstream.Load())
		default:
			w.Header().Set("Content-Type", "text/html")
			_, _ = io.WriteString(w, `<!doctype html><script src="/bundle.js"></script>`)
		}
	}))
	t.Cleanup(app.Close)
	return app, func(addr string) {
		upstream.Store(&url.URL{Scheme: "http", Host: addr})
	}
}

// forwardKeepingReason forwards r to target and copies the answer,
// status line included: a proxy that keeps the reason phrase, which
// carries gatepost's message to Uppy 6 (httputil.ReverseProxy writes the
// standard one).
func forwardKeepingReason(t *testing.T, w http.ResponseWriter, r *http.Request, target *url.URL) {
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.URL.Scheme, out.URL.Host = target.Scheme, target.Host
	resp, err := http.DefaultTransport.RoundTrip(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		t.Errorf("hijack: %v", err)
		return
	}
	defer conn.Close()
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	resp.Header.Set("Connection", "close")
	resp.Header.Del("Transfer-Encoding")
	_, _ = io.WriteString(buf, "HTTP/1.1 "+resp.Status+"\r\n")
	_ = resp.Header.Write(buf)
	_, _ = io.WriteString(buf, "\r\n")
	_, _ = buf.Write(body)
	_ = buf.Flush()
}

// TestUppy6: real Uppy 6 (@uppy/core 6.3.1, @uppy/aws-s3 6.3.1,
// @uppy/golden-retriever 6.0.0) with `companionEndpoint` and no glue, on a
// page served from the same origin as gatepost's routes, signed in with
// gatepost's session cookie (Uppy 6 sends no custom headers). On both
// stores a small file goes up by POST and a refused type fails. On
// SeaweedFS, which refuses unsigned x-amz-* headers, multipart uploads use
// bare part URLs: a 21 MiB file is stored whole, one over the profile's
// maximum fails and leaves nothing, a cancelled one is aborted and a
// reload mid-upload resumes with only the missing parts. On MinIO, which
// would honour a holder's unsigned copy source, such an upload is refused
// before it starts.
func TestUppy6(t *testing.T) {
	bundle := uppyBundle(t, "uppy6", "uppy6.js")
	forEachStoreInTurn(t, func(t *testing.T, st *target) {
		var log companionLog
		browser := openSameOriginApp(t, st, "uppy", bundle, &log)
		run := func(script string) uppyResult {
			t.Helper()
			got, err := chromedp.Run(browser, chromedp.Evaluate[uppyResult](script, chromedp.EvalAwaitPromise))
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		if code, err := chromedp.Run(browser, chromedp.Evaluate[int](`window.signIn(`+strconv.Quote(apiKey)+`)`, chromedp.EvalAwaitPromise)); err != nil || code != 200 {
			t.Fatalf("sign-in: %d, %v", code, err)
		}
		const size = 21 << 20
		name := "uppy6-" + strings.ToLower(st.name) + ".txt"
		got := run(`window.uploadWithUppy([
		  { name: ` + strconv.Quote(name) + `, type: "text/plain", body: "uploaded by Uppy 6 through gatepost\n" },
		  { name: "page.html", type: "text/html", body: "<html></html>" },
		  { name: "u6-big.bin", type: "application/octet-stream", size: ` + itoa(size) + `, seed: 1 },
		  { name: "u6-over.bin", type: "application/octet-stream", size: ` + itoa(25<<20) + `, seed: 2 },
		])`)
		if stored := st.getObject(t, "uppy/"+name); !bytes.Equal(stored, []byte("uploaded by Uppy 6 through gatepost\n")) {
			t.Errorf("stored %q", stored)
		}
		// Uppy 6 shows only "Companion request failed: <status text>":
		// gatepost's status line carries its message.
		failed := strings.Join(got.Failed, "\n")
		if !strings.Contains(failed, `page.html: Companion request failed: content_type: "text/html" is not allowed by profile "uppy"`) {
			t.Errorf("failed %v; want page.html refused with gatepost's message", got.Failed)
		}
		overReason := "u6-over.bin: Companion request failed: parts: the parts hold 26214400 bytes, over the profile's maximum of 25165824"
		if st.kind == config.StoreMinIO {
			overReason = "u6-over.bin: Companion request failed: multipart: this store would let part URLs that pin no headers copy other objects"
		}
		if !strings.Contains(failed, overReason) {
			t.Errorf("failed %v; want u6-over.bin refused with %q", got.Failed, overReason)
		}
		if st.headObject(t, "uppy/u6-over.bin") != nil || len(st.multipartUploadsOf(t, "uppy/u6-over.bin")) != 0 {
			t.Error("the over-limit upload left an object or parts")
		}
		if st.kind == config.StoreMinIO {
			if !strings.Contains(failed, "u6-big.bin: ") || st.headObject(t, "uppy/u6-big.bin") != nil || len(st.multipartUploadsOf(t, "uppy/")) != 0 {
				t.Errorf("failed %v, uploads in progress %v; want u6-big.bin refused before it started", got.Failed, st.multipartUploadsOf(t, "uppy/"))
			}
			return
		}
		if len(got.Ok) != 2 || !slices.Contains(got.Ok, "u6-big.bin") {
			t.Errorf("uploaded %v, failed %v; want %s and u6-big.bin", got.Ok, got.Failed, name)
		}
		if stored := st.getObject(t, "uppy/u6-big.bin"); !bytes.Equal(stored, pattern(size, 1)) {
			t.Errorf("stored %d bytes that differ from the %d sent", len(stored), size)
		}

		checkCancelAndResume(t, browser, st, &log, "u6-", func() {}) // the session cookie outlives the reload
	})
}

// TestUppyHelper: gatepost's own Uppy plugin (gatepost-uppy.js), with real
// Uppy 5 and Uppy 6 in Chromium and a bearer token, on both stores: a small
// file goes up by POST and a 21 MiB one as a multipart upload of declared
// size (gatepost's part size, each part URL pinning its length and guard
// headers, so MinIO too), each ending with gatepost's verdict as Uppy's
// response body; a refused type and a file over the profile's maximum fail
// with gatepost's words before anything is sent, and a cancelled upload is
// aborted with nothing left.
func TestUppyHelper(t *testing.T) {
	for _, major := range []struct{ name, modules string }{{"Uppy5", "."}, {"Uppy6", "uppy6"}} {
		t.Run(major.name, func(t *testing.T) {
			bundle := uppyBundle(t, major.modules, "helper.js")
			forEachStoreInTurn(t, func(t *testing.T, st *target) {
				page := uppyPage(t, bundle)
				var log companionLog
				endpoint := log.proxy(t, startUppyGatepost(t, st, "uppy", page.URL, nil))
				browser := newBrowser(t)
				if err := chromedp.Do(browser, chromedp.Navigate(page.URL+"/")); err != nil {
					t.Fatal(err)
				}
				const size = 21 << 20
				small, big := "helper-"+major.name+".txt", "helper-"+major.name+".bin"
				script := `window.uploadWithHelper(` + strconv.Quote(endpoint) + `, ` + strconv.Quote(apiKey) + `, [
				  { name: ` + strconv.Quote(small) + `, type: "text/plain", body: "uploaded by gatepost's Uppy plugin\n" },
				  { name: ` + strconv.Quote(big) + `, type: "application/octet-stream", size: ` + itoa(size) + `, seed: 5 },
				  { name: "page.html", type: "text/html", body: "<html></html>" },
				  { name: "helper-over.bin", type: "application/octet-stream", size: ` + itoa(25<<20) + `, seed: 6 },
				])`
				got, err := chromedp.Run(browser, chromedp.Evaluate[uppyResult](script, chromedp.EvalAwaitPromise))
				if err != nil {
					t.Fatal(err)
				}
				if len(got.Ok) != 2 || slices.ContainsFunc(got.States, func(s string) bool { return s != "UPLOAD_STATE_VERIFIED" }) {
					t.Errorf("uploaded %v with verdicts %v, failed %v; want both verified", got.Ok, got.States, got.Failed)
				}
				failed := strings.Join(got.Failed, "\n")
				if len(got.Failed) != 2 || !strings.Contains(failed, `page.html: The upload request was refused: content_type: "text/html" is not allowed by profile "uppy"`) ||
					!strings.Contains(failed, "helper-over.bin: The upload request was refused: total_size: 26214400 bytes is over") {
					t.Errorf("failed %v; want page.html and helper-over.bin refused in gatepost's words", got.Failed)
				}
				if st.headObject(t, "uppy/helper-over.bin") != nil || len(st.multipartUploadsOf(t, "uppy/helper-over.bin")) != 0 {
					t.Error("the over-limit file left an object or an upload")
				}
				if stored := st.getObject(t, "uppy/"+big); !bytes.Equal(stored, pattern(size, 5)) {
					t.Errorf("stored %d bytes that differ from the %d sent", len(stored), size)
				}
				// Cancelled mid-way: gatepost.js aborts the upload.
				cancelled := "helper-cancelled-" + major.name + ".bin"
				if _, err := chromedp.Run(browser, chromedp.Evaluate[string](`window.cancelWithHelper(`+strconv.Quote(endpoint)+`, `+strconv.Quote(apiKey)+`, { name: `+strconv.Quote(cancelled)+`, type: "application/octet-stream", size: `+itoa(size)+`, seed: 7 })`, chromedp.EvalAwaitPromise)); err != nil {
					t.Fatal(err)
				}
				if !eventually(func() bool { return len(st.multipartUploadsOf(t, "uppy/"+cancelled)) == 0 }) || st.headObject(t, "uppy/"+cancelled) != nil {
					t.Errorf("the cancelled upload left %v or an object", st.multipartUploadsOf(t, "uppy/"+cancelled))
				}
				if calls := log.since(0); !slices.Contains(calls, "POST /v1/multipart/abort") {
					t.Errorf("calls %v; want the cancelled upload aborted", calls)
				}
				// Paused after the first part, the page reloaded: Golden
				// Retriever restores the file and the plugin resumes, sending
				// only the parts the store does not hold.
				resumed := "helper-resumed-" + major.name + ".bin"
				before := log.mark()
				if _, err := chromedp.Run(browser, chromedp.Evaluate[string](`window.startThenLeave(`+strconv.Quote(endpoint)+`, `+strconv.Quote(apiKey)+`, { name: `+strconv.Quote(resumed)+`, type: "application/octet-stream", size: `+itoa(size)+`, seed: 8 })`, chromedp.EvalAwaitPromise)); err != nil {
					t.Fatal(err)
				}
				if err := chromedp.Do(browser, chromedp.Reload()); err != nil {
					t.Fatal(err)
				}
				reloaded := log.mark()
				got, err = chromedp.Run(browser, chromedp.Evaluate[uppyResult](`window.resumeAfterReload(`+strconv.Quote(endpoint)+`, `+strconv.Quote(apiKey)+`)`, chromedp.EvalAwaitPromise))
				if err != nil {
					t.Fatal(err)
				}
				if len(got.Ok) != 1 || got.Ok[0] != resumed || got.States[0] != "UPLOAD_STATE_VERIFIED" {
					t.Fatalf("resumed %v (%v), failed %v", got.Ok, got.States, got.Failed)
				}
				if stored := st.getObject(t, "uppy/"+resumed); !bytes.Equal(stored, pattern(size, 8)) {
					t.Errorf("stored %d bytes that differ from the %d sent", len(stored), size)
				}
				first, after := partsSigned(log.since(before)[:reloaded-before]), partsSigned(log.since(reloaded))
				if !slices.Contains(first, 1) || slices.Contains(after, 1) || !slices.Contains(after, 3) {
					t.Errorf("parts signed before the reload %v, after %v; want 1 before only", first, after)
				}

				if calls := log.since(0); !slices.Contains(calls, "POST /v1/multipart/complete") || slices.ContainsFunc(calls, func(c string) bool { return strings.HasPrefix(c, "GET /s3/") }) {
					t.Errorf("calls %v; want gatepost's own multipart routes, not the Companion ones", calls)
				}
			})
		})
	}
}

// browserFlowSnippet returns the README's three-step browser flow (plain
// fetch and FormData, no gatepost code), exactly as the README shows it.
func browserFlowSnippet(t *testing.T) string {
	t.Helper()
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "### The browser flow (three steps)\n\n```js\n")
	snippet, _, closed := strings.Cut(after, "```\n")
	if !ok || !closed {
		t.Fatal("README.md has no browser flow snippet")
	}
	return snippet
}

// TestBrowserFlowSnippet: the README's plain fetch + FormData snippet, run
// unchanged in Chromium on a page served with gatepost's routes, uploads a
// file to both stores, and a refused type throws gatepost's message.
func TestBrowserFlowSnippet(t *testing.T) {
	snippet := browserFlowSnippet(t)
	forEachStoreInTurn(t, func(t *testing.T, st *target) {
		browser := openSameOriginApp(t, st, "default", nil, nil)
		run := func(name, typ, body string) string {
			t.Helper()
			script := `(async (file, token) => { try {
` + snippet + `
return "status " + up.status; } catch (e) { return "threw " + e.message; } })(new File([` + strconv.Quote(body) + `], ` + strconv.Quote(name) + `, { type: ` + strconv.Quote(typ) + ` }), ` + strconv.Quote(apiKey) + `)`
			got, err := chromedp.Run(browser, chromedp.Evaluate[string](script, chromedp.EvalAwaitPromise))
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		name := "snippet-" + strings.ToLower(st.name) + ".txt"
		if got := run(name, "text/plain", "sent by the README's snippet\n"); got != "status 204" {
			t.Errorf("the snippet: %s, want status 204", got)
		}
		if stored := st.getObject(t, "user-uploads/"+name); string(stored) != "sent by the README's snippet\n" {
			t.Errorf("stored %q", stored)
		}
		if got := run("page.html", "text/html", "<html></html>"); !strings.HasPrefix(got, `threw content_type: "text/html" is not allowed by profile "default"`) {
			t.Errorf("the snippet with a refused type: %s", got)
		}
	})
}
