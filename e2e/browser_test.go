package e2e

import (
	"bytes"
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// newBrowser starts headless Chromium (Debian's package; never a
// downloaded browser) and returns a context for driving one tab. Without
// Chromium the test is skipped, unless GATEPOST_REQUIRE_BROWSER is set.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("GATEPOST_CHROMIUM")
	if path == "" {
		for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
			if p, err := exec.LookPath(name); err == nil {
				path = p
				break
			}
		}
	}
	if path == "" {
		if os.Getenv("GATEPOST_REQUIRE_BROWSER") != "" {
			t.Fatal("Chromium not found (apt-get install chromium, or set GATEPOST_CHROMIUM)")
		}
		t.Skip("Chromium not found: apt-get install chromium to run the browser tests")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // tests may run as root
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		// This machine reaches nothing but loopback: keep Chromium from
		// trying (updates, sync, QUIC probes).
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() {
		cancelTimeout()
		cancelTab()
		cancelAlloc()
	})
	return ctx
}

// uploadInPage opens the demo page, picks path, types the token, presses
// Upload and waits until the page says done or failed. It returns the
// final state.
func (st *target) uploadInPage(t *testing.T, ctx context.Context, path string) string {
	t.Helper()
	err := chromedp.Do(ctx,
		chromedp.Navigate("http://"+st.gatepost.HTTPAddr()+"/"),
		chromedp.WaitVisible(chromedp.ID("upload")),
		chromedp.SetUploadFiles(chromedp.ID("file"), []string{path}),
		chromedp.SendKeys(chromedp.ID("token"), apiKey),
		chromedp.Click(chromedp.ID("upload")),
	)
	if err != nil {
		t.Fatalf("drive the demo page: %v", err)
	}
	state, err := chromedp.Run(ctx, chromedp.Poll[string](
		`["done", "failed"].includes(document.body.dataset.state) && document.body.dataset.state`,
		chromedp.WithPollingTimeout(60*time.Second)))
	if err != nil {
		t.Fatalf("wait for the upload to finish: %v", err)
	}
	return state
}

// text returns the text of the element with the given id.
func text(t *testing.T, ctx context.Context, id string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById(`+strconv.Quote(id)+`).textContent`))
	if err != nil {
		t.Fatalf("read #%s: %v", id, err)
	}
	return s
}

// screenshot saves the page as a test artifact under e2e/artifacts/.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG; lower is JPEG
	if err != nil {
		t.Logf("screenshot: %v", err)
		return
	}
	dir := "artifacts"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Logf("screenshot: %v", err)
		return
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Logf("screenshot: %v", err)
		return
	}
	t.Logf("screenshot saved to e2e/%s", path)
}

// TestBrowserUpload: in real headless Chromium, the demo page uploads a
// file straight to the store, with the right bytes and Content-Type, and
// shows gatepost's verdict on it.
func TestBrowserUpload(t *testing.T) {
	forEachStoreInTurn(t, func(t *testing.T, st *target) {
		ctx := newBrowser(t)
		content := []byte("uploaded from headless Chromium through gatepost\n")
		path := filepath.Join(t.TempDir(), "browser-upload.txt")
		if err := os.WriteFile(path, content, 0o644); err != nil {
			t.Fatal(err)
		}
		state := st.uploadInPage(t, ctx, path)
		key, message, verdict := text(t, ctx, "result-key"), text(t, ctx, "error-message"), text(t, ctx, "result-verdict")
		screenshot(t, ctx, "browser-upload.png")
		if state != "done" {
			t.Fatalf("page state %q, message %q; want done", state, message)
		}
		if verdict != "verified (its bytes are text/plain)" {
			t.Errorf("the page shows the verdict %q; want gatepost's verification", verdict)
		}
		if key != "user-uploads/browser-upload.txt" {
			t.Errorf("page shows key %q", key)
		}
		head := st.headObject(t, key)
		if head == nil {
			t.Fatalf("object %s missing after the browser upload", key)
		}
		if got := deref(head.ContentType); got != "text/plain" {
			t.Errorf("Content-Type = %q, want text/plain", got)
		}
		if got := st.getObject(t, key); !bytes.Equal(got, content) {
			t.Errorf("stored %q, want %q", got, content)
		}
	})
}

// TestBrowserUploadTooLarge: a file over the profile's limit is refused,
// the page says so in plain words, and nothing is stored.
func TestBrowserUploadTooLarge(t *testing.T) {
	forEachStoreInTurn(t, func(t *testing.T, st *target) {
		ctx := newBrowser(t)
		path := filepath.Join(t.TempDir(), "too-large.txt")
		if err := os.WriteFile(path, bytes.Repeat([]byte("x"), 4096), 0o644); err != nil {
			t.Fatal(err)
		}
		state := st.uploadInPage(t, ctx, path)
		message := text(t, ctx, "error-message")
		screenshot(t, ctx, "browser-too-large.png")
		if state != "failed" || !strings.Contains(message, "over the maximum") {
			t.Errorf("state %q, message %q; want failed with a message about the maximum size", state, message)
		}
		if st.headObject(t, "user-uploads/too-large.txt") != nil {
			t.Error("an over-limit file was stored")
		}
	})
}

// TestBrowserCORS: a page on an origin gatepost allows can ask for a policy
// with a bearer token; a page on any other origin cannot.
func TestBrowserCORS(t *testing.T) {
	st := seaweedFS() // gatepost's own CORS, whatever the store
	ctx := newBrowser(t)
	q := url.Values{"gatepost": {"http://" + st.gatepost.HTTPAddr()}, "token": {apiKey}}
	tests := []struct {
		name, site, want string
	}{
		{"allowed origin", stack.allowedSite.URL, "allowed:200"},
		{"other origin", stack.otherSite.URL, "blocked"},
	}
	for _, tt := range tests {
		if err := chromedp.Do(ctx, chromedp.Navigate(tt.site+"/?"+q.Encode())); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		outcome, err := chromedp.Run(ctx, chromedp.Poll[string](
			`document.body.dataset.outcome !== "pending" && document.body.dataset.outcome`,
			chromedp.WithPollingTimeout(30*time.Second)))
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if outcome != tt.want {
			t.Errorf("%s: outcome %q, want %q", tt.name, outcome, tt.want)
		}
	}
}

// TestBrowserStoreRefusalInPlainWords: when the store itself refuses an
// upload, gatepost.js rejects with the S3 error code and plain words. The
// page declares a smaller size than it sends (a File whose size property
// lies), so the policy's exact content-length-range makes S3 answer
// EntityTooLarge.
func TestBrowserStoreRefusalInPlainWords(t *testing.T) {
	forEachStoreInTurn(t, func(t *testing.T, st *target) {
		ctx := newBrowser(t)
		if err := chromedp.Do(ctx, chromedp.Navigate("http://"+st.gatepost.HTTPAddr()+"/")); err != nil {
			t.Fatal(err)
		}
		type result struct {
			Source  string `json:"source"`
			Code    string `json:"code"`
			Status  int    `json:"status"`
			Message string `json:"message"`
		}
		script := `(async () => {
	  const { uploadFile } = await import("/gatepost.js");
	  const file = new File(["x".repeat(600)], "liar.txt", { type: "text/plain" });
	  Object.defineProperty(file, "size", { value: 10 });
	  try {
	    await uploadFile(file, { token: ` + strconv.Quote(apiKey) + ` });
	    return { source: "none" };
	  } catch (e) {
	    return { source: e.source, code: e.code, status: e.status, message: e.message };
	  }
	})()`
		got, err := chromedp.Run(ctx, chromedp.Evaluate[result](script, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatal(err)
		}
		want := result{Source: "s3", Code: "EntityTooLarge", Status: 400, Message: "The file is larger than this upload allows."}
		if got != want {
			t.Errorf("gatepost.js rejected with %+v, want %+v", got, want)
		}
		if st.headObject(t, "user-uploads/liar.txt") != nil {
			t.Error("the refused upload was stored")
		}
	})
}

// TestBrowserLargeFile: uploadLargeFile sends a 12 MiB file as a multipart
// upload from the browser (two parts in parallel) and the object's bytes
// are the file's. The page also records that progress reached the total.
func TestBrowserLargeFile(t *testing.T) {
	forEachStoreInTurn(t, func(t *testing.T, st *target) {
		ctx := newBrowser(t)
		if err := chromedp.Do(ctx, chromedp.Navigate("http://"+st.gatepost.HTTPAddr()+"/")); err != nil {
			t.Fatal(err)
		}
		type result struct {
			Key      string  `json:"key"`
			Size     int     `json:"size"`
			Progress float64 `json:"progress"`
			Error    string  `json:"error"`
		}
		// The bytes are a pattern the test can rebuild: byte i is i mod 251.
		script := `(async () => {
	  const { uploadLargeFile } = await import("/gatepost.js");
	  const bytes = new Uint8Array(12 << 20);
	  for (let i = 0; i < bytes.length; i++) bytes[i] = i % 251;
	  const file = new File([bytes], "large.bin", { type: "application/octet-stream" });
	  let progress = 0;
	  try {
	    const r = await uploadLargeFile(file, { token: ` + strconv.Quote(apiKey) + `, profile: "large",
	      onProgress: (p) => { progress = Math.max(progress, p.fraction); } });
	    return { key: r.key, size: r.size, progress };
	  } catch (e) {
	    return { error: e.message + " " + e.code };
	  }
	})()`
		got, err := chromedp.Run(ctx, chromedp.Evaluate[result](script, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatal(err)
		}
		if got.Error != "" || got.Key != "large/e2e/large.bin" || got.Size != 12<<20 || got.Progress != 1 {
			t.Fatalf("uploadLargeFile = %+v", got)
		}
		want := make([]byte, 12<<20)
		for i := range want {
			want[i] = byte(i % 251)
		}
		if stored := st.getObject(t, got.Key); !bytes.Equal(stored, want) {
			t.Errorf("stored %d bytes that differ from the file", len(stored))
		}
	})
}

// TestBrowserResume: in Chromium, uploadLargeFile with resume keeps a
// cancelled upload; after a reload the same call sends only the part the
// store lacks and completes with the file's bytes. A part whose first PUT
// fails (the connection drops) is sent again.
func TestBrowserResume(t *testing.T) {
	forEachStoreInTurn(t, func(t *testing.T, st *target) {
		ctx := newBrowser(t)
		if err := chromedp.Do(ctx, chromedp.Navigate("http://"+st.gatepost.HTTPAddr()+"/")); err != nil {
			t.Fatal(err)
		}
		key := "resume-" + strings.ToLower(st.name) + ".bin"
		// The same file on both page loads: its bytes, name and time.
		makeFile := `const bytes = new Uint8Array(12 << 20);
	  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7) % 253;
	  const file = new File([bytes], ` + strconv.Quote(key) + `, { type: "application/octet-stream", lastModified: 1700000000000 });
	  const opts = { token: ` + strconv.Quote(apiKey) + `, profile: "large", concurrency: 1, resume: true };
	  const puts = [];
	  const open = XMLHttpRequest.prototype.open;
	  XMLHttpRequest.prototype.open = function (method, url, ...rest) {
	    if (method === "PUT") {
	      puts.push(url);
	      this.addEventListener("load", () => window.onPartStored && window.onPartStored());
	    }
	    return open.call(this, method, url, ...rest);
	  };`
		first := `(async () => {
	  const { uploadLargeFile } = await import("/gatepost.js");
	  ` + makeFile + `
	  // Cancelled once the store has the first part (a reload would be
	  // the same): the second is then cut off or never sent.
	  const controller = new AbortController();
	  window.onPartStored = () => setTimeout(() => controller.abort(), 0);
	  try {
	    await uploadLargeFile(file, { ...opts, signal: controller.signal });
	    return "completed";
	  } catch (e) {
	    return e.code + ":" + puts.length;
	  }
	})()`
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](first, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatal(err)
		}
		if got != "Aborted:2" && got != "Aborted:1" {
			t.Fatalf("first try = %q; want it cancelled after the first part", got)
		}
		if err := chromedp.Do(ctx, chromedp.Reload()); err != nil {
			t.Fatal(err)
		}
		type result struct {
			Key   string `json:"key"`
			Puts  int    `json:"puts"`
			Error string `json:"error"`
		}
		second := `(async () => {
	  const { uploadLargeFile } = await import("/gatepost.js");
	  ` + makeFile + `
	  // The first PUT of this page fails as a dropped connection would.
	  const send = XMLHttpRequest.prototype.send;
	  let failed = false;
	  XMLHttpRequest.prototype.send = function (body) {
	    if (!failed && puts.length === 1) { failed = true; setTimeout(() => this.onerror && this.onerror(new ProgressEvent("error")), 10); return; }
	    return send.call(this, body);
	  };
	  try {
	    const r = await uploadLargeFile(file, opts);
	    return { key: r.key, puts: puts.length };
	  } catch (e) {
	    return { error: e.message + " " + e.code, puts: puts.length };
	  }
	})()`
		res, err := chromedp.Run(ctx, chromedp.Evaluate[result](second, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatal(err)
		}
		// Part 2 only: once failing, once sent.
		if res.Error != "" || res.Key != "large/e2e/"+key || res.Puts != 2 {
			t.Fatalf("resumed upload = %+v; want part 2 alone, sent twice (one dropped), and completed", res)
		}
		want := make([]byte, 12<<20)
		for i := range want {
			want[i] = byte((i * 7) % 253)
		}
		if stored := st.getObject(t, res.Key); !bytes.Equal(stored, want) {
			t.Errorf("stored %d bytes that differ from the file", len(stored))
		}
	})
}
