// Command devstack is what `make run` runs: it starts a local SeaweedFS
// (with signature checking) and creates the "uploads" bucket, then runs the
// gatepost binary with its embedded default configuration pointed at that
// store, and prints copy-paste commands for trying it. Ctrl-C stops both.
//
// With -smoke it runs those commands itself and exits, which is how the
// tests check that `make run` works.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/gatepost/gatepost/e2e/seaweed"
	"github.com/gatepost/gatepost/internal/config"
	"github.com/gatepost/gatepost/internal/webhook"
)

const bucket = "uploads"

// How long Ctrl-C waits for each process before killing it. gatepost
// drains its requests in well under this; SeaweedFS's own shutdown can
// take 20 s, and its data is temporary.
const (
	gatepostStopTimeout = 5 * time.Second
	storeStopTimeout    = 2 * time.Second
)

func main() {
	// SIGHUP too: closing the terminal must stop everything like Ctrl-C.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	// A closed stdout (`make run | tee log`, then Ctrl-C) must not kill
	// devstack before it stops what it started: writes just fail.
	signal.Ignore(syscall.SIGPIPE)
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "devstack: %v\n", err)
		os.Exit(1)
	}
}

type options struct {
	gatepost, weed, grpcurl string
	httpAddr, grpcAddr      string
	smoke                   bool
}

func run(ctx context.Context, args []string, out io.Writer) error {
	var o options
	fs := flag.NewFlagSet("devstack", flag.ContinueOnError)
	fs.StringVar(&o.gatepost, "gatepost", ".bin/gatepost", "gatepost binary")
	fs.StringVar(&o.weed, "weed", os.Getenv(seaweed.BinaryEnv), "SeaweedFS weed binary")
	fs.StringVar(&o.grpcurl, "grpcurl", ".bin/grpcurl", "grpcurl binary (for the printed commands)")
	fs.StringVar(&o.httpAddr, "http-addr", envOr("GATEPOST_HTTP_ADDR", "127.0.0.1:8080"), "gatepost HTTP address")
	fs.StringVar(&o.grpcAddr, "grpc-addr", envOr("GATEPOST_GRPC_ADDR", "127.0.0.1:9090"), "gatepost gRPC address")
	fs.BoolVar(&o.smoke, "smoke", false, "run the printed commands, check them, and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.weed == "" {
		return errors.New("no SeaweedFS binary: pass -weed or run `make run`")
	}
	// Before anything starts: another gatepost on these ports would answer
	// the readiness check and the printed commands in this one's place.
	if err := portsFree(o); err != nil {
		return err
	}

	dir, err := os.MkdirTemp("", "gatepost-run-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	fmt.Fprintln(out, "Starting SeaweedFS (S3 API with signature checking) ...")
	store, err := seaweed.Start(ctx, o.weed, dir)
	if err != nil {
		return err
	}
	// Its data is thrown away: no need to wait for a clean shutdown.
	defer store.StopWithin(storeStopTimeout)
	if err := store.CreateBucket(ctx, bucket); err != nil {
		return err
	}

	// The application's side of verification: a local receiver that
	// checks and prints the signed webhooks.
	secret := webhook.NewSecret()
	hooks, err := startReceiver(secret, out)
	if err != nil {
		return err
	}
	defer hooks.close()

	// gatepost runs with its embedded default configuration; only the S3
	// endpoint, the listen addresses and the webhook are overridden,
	// through flags.
	cmd := exec.Command(o.gatepost,
		"-s3-endpoint", store.Endpoint, "-s3-path-style", "-s3-store", "seaweedfs",
		"-http-addr", o.httpAddr, "-grpc-addr", o.grpcAddr, "-webhook-url", hooks.url)
	cmd.Env = append(os.Environ(),
		config.WebhookSecretEnv+"="+secret,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_ACCESS_KEY_ID="+store.AccessKey,
		"AWS_SECRET_ACCESS_KEY="+store.SecretKey,
		"AWS_REGION="+seaweed.Region,
	)
	logPath := filepath.Join(dir, "gatepost.log")
	var logw io.Writer = os.Stderr
	if o.smoke {
		f, err := os.Create(logPath)
		if err != nil {
			return err
		}
		defer f.Close()
		logw = f
	}
	cmd.Stdout, cmd.Stderr = logw, logw
	// Its own process group: Ctrl-C reaches devstack only, which then stops
	// gatepost with one SIGTERM (a second signal would make it exit at once).
	// If devstack dies anyway (SIGKILL), the kernel kills gatepost too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start gatepost: %w", err)
	}
	// gatepost's exit, once: exited is closed when it has exited, and
	// exitErr then says how.
	exited := make(chan struct{})
	var exitErr error
	go func() {
		exitErr = cmd.Wait()
		close(exited)
	}()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(gatepostStopTimeout):
			_ = cmd.Process.Kill()
			<-exited
		}
	}()
	gatepostExited := func() error { return fmt.Errorf("gatepost exited: %v (its log is above)", exitErr) }

	base := "http://" + o.httpAddr
	if err := waitReady(ctx, base+"/readyz", exited); err != nil {
		select {
		case <-exited:
			return gatepostExited()
		default:
			return fmt.Errorf("gatepost did not become ready: %w", err)
		}
	}

	// The demo page (served by gatepost) uploads to the store's origin.
	_, port, _ := strings.Cut(o.httpAddr, ":")
	origins := []string{base, "http://localhost:" + port}
	if err := store.AllowBrowserUploads(ctx, bucket, origins); err != nil {
		return err
	}

	sample := filepath.Join(dir, "hello.txt")
	if err := os.WriteFile(sample, []byte("hello from gatepost\n"), 0o644); err != nil {
		return err
	}
	// One byte over the embedded default profile's max_bytes.
	defaults, err := config.Default()
	if err != nil {
		return err
	}
	big := filepath.Join(dir, "too-big.txt")
	if err := os.WriteFile(big, bytes.Repeat([]byte("x"), int(defaults.Profiles[config.DefaultProfile].MaxBytes)+1), 0o644); err != nil {
		return err
	}
	cmds, err := commands(ctx, o, base, sample, big)
	if err != nil {
		return err
	}
	if o.smoke {
		return smoke(ctx, cmds, store, hooks)
	}
	printBanner(out, o, base, store, cmds, hooks)
	select {
	case <-ctx.Done():
		fmt.Fprintln(out, "\nStopping gatepost and SeaweedFS ...")
		return nil
	case <-exited:
		return gatepostExited()
	}
}

// tryCommands are the shell commands the banner prints.
type tryCommands struct {
	presign, grpc, upload, jqUpload, check, cli, page, finalize string
	// What the profile refuses: a type browsers run, a file over the
	// size limit sent to the store, and the same file through the CLI.
	refusedType, tooBig, cliTooBig string
	key                            string
}

func commands(ctx context.Context, o options, base, sample, big string) (*tryCommands, error) {
	q := url.Values{"key": {"hello.txt"}, "content_type": {"text/plain"}}
	presignURL := base + "/v1/presign?" + q.Encode()
	c := &tryCommands{
		presign: fmt.Sprintf("curl -s '%s'", presignURL),
		grpc: fmt.Sprintf(`%s -plaintext -d '{"key":"hello.txt","content_type":"text/plain"}' %s gatepost.v1.UploadService/CreatePresignedPost`,
			o.grpcurl, o.grpcAddr),
		// mapfile: a field value may hold spaces (Cache-Control does).
		jqUpload: fmt.Sprintf(`P=$(curl -s '%s') && mapfile -t F < <(echo "$P" | jq -r '.fields | to_entries[] | "--form-string", "\(.key)=\(.value)"') && curl -si "${F[@]}" -F file=@%s "$(echo "$P" | jq -r .url)"`,
			presignURL, sample),
		check: fmt.Sprintf("%s -plaintext %s list", o.grpcurl, o.grpcAddr),
		cli:   cliUpload(o, sample),
		page:  base + "/",
		refusedType: fmt.Sprintf("curl -s '%s/v1/presign?%s'", base,
			url.Values{"key": {"page.html"}, "content_type": {"text/html"}}.Encode()),
		cliTooBig: cliUpload(o, big),
	}
	// A ready-made upload command with the fields of a fresh presign, so it
	// works without jq (valid for the profile's 15 minutes).
	p, err := presign(ctx, presignURL)
	if err != nil {
		return nil, err
	}
	c.key = p.Key
	c.finalize = fmt.Sprintf(`curl -s -X POST -d '{"key":"%s"}' %s/v1/uploads/finalize`, p.Key, base)
	var b strings.Builder
	b.WriteString("curl -i")
	names := make([]string, 0, len(p.Fields))
	for k := range p.Fields {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(&b, " \\\n     --form-string '%s=%s'", k, p.Fields[k])
	}
	curlUpload := func(file string) string {
		return fmt.Sprintf("%s \\\n     -F file=@%s \\\n     %s", b.String(), file, p.URL)
	}
	c.upload, c.tooBig = curlUpload(sample), curlUpload(big)
	return c, nil
}

// cliUpload is the command that uploads file with gatepost's own client.
func cliUpload(o options, file string) string {
	return fmt.Sprintf("%s upload -server %s %s", o.gatepost, o.grpcAddr, file)
}

func printBanner(out io.Writer, o options, base string, store *seaweed.Server, c *tryCommands, hooks *receiver) {
	fmt.Fprintf(out, `
gatepost is running (logs below; Ctrl-C stops everything)
  Browser   %[1]s/   (the demo upload page: pick a file, press Upload)
  REST      %[1]s   (OpenAPI: %[1]s/openapi.json, probes: /healthz /readyz)
  gRPC      %[2]s   (reflection on)
  S3        %[3]s   (SeaweedFS, bucket %[4]q, signatures checked)
  Binaries  %[5]s   (gatepost, grpcurl; or: export PATH="%[5]s:$PATH")

1. Ask for a presigned POST over REST:
   %[6]s

2. The same over gRPC:
   %[7]s

3. Upload the sample file with the fields of a fresh presign (file last; its
   policy expires with the profile's expires, 15m by default: the jq line presigns anew):
   %[8]s
   (or, with jq, presign and upload in one go:)
   %[9]s

4. Or with gatepost's own client (presign + upload with a progress bar):
   %[10]s

5. List the gRPC services:
   %[11]s

6. What the default profile refuses:
   a type browsers run as a page, which it does not list (400, content_type: "text/html" is not allowed):
   %[12]s
   a file one byte over its max_bytes, sent with the same fields (S3 itself answers EntityTooLarge):
   %[13]s
   the same file through the CLI (gatepost refuses before any byte is sent, exit 3):
   %[14]s

7. Have gatepost verify what arrived (the demo page and the CLI do this themselves),
   and watch the signed webhook reach the local receiver at %[16]s (printed below):
   %[15]s
`, base, o.grpcAddr, store.Endpoint, bucket, filepath.Dir(o.gatepost),
		c.presign, c.grpc, c.upload, c.jqUpload, c.cli, c.check, c.refusedType, c.tooBig, c.cliTooBig, c.finalize, hooks.url)
}

// portsFree checks that gatepost's two addresses can be listened on, and
// otherwise says which is busy and how to pick another.
func portsFree(o options) error {
	var busy, fix []string
	for _, a := range []struct{ name, addr, env string }{
		{"HTTP", o.httpAddr, "GATEPOST_HTTP_ADDR"}, {"gRPC", o.grpcAddr, "GATEPOST_GRPC_ADDR"},
	} {
		addr := a.addr
		if l, err := net.Listen("tcp", a.addr); err == nil {
			l.Close()
		} else {
			busy = append(busy, fmt.Sprintf("the %s address %s", a.name, a.addr))
			addr = "127.0.0.1:<another port>"
			if free, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
				addr = free.Addr().String()
				free.Close()
			}
		}
		// Every variable, the free ones too: the printed command must work
		// as it is, whichever of them the caller had set.
		fix = append(fix, a.env+"="+addr)
	}
	if len(busy) == 0 {
		return nil
	}
	verb := "is"
	if len(busy) > 1 {
		verb = "are"
	}
	return fmt.Errorf("%s %s in use (another `make run`?): stop that, or choose other addresses: %s make run",
		strings.Join(busy, " and "), verb, strings.Join(fix, " "))
}

func waitReady(ctx context.Context, url string, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return errors.New("gatepost exited")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// shell runs a command line with bash and returns its combined output.
func shell(ctx context.Context, line string) (string, error) {
	cmd := exec.CommandContext(ctx, "bash", "-c", line)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	return buf.String(), err
}
