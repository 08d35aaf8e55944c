package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"mime"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/schollz/progressbar/v3"
	"google.golang.org/protobuf/proto"

	gatepostv1 "github.com/gatepost/gatepost/gen/gatepost/v1"
	"github.com/gatepost/gatepost/internal/uploader"
)

// Exit codes of the client commands.
const (
	exitFailure  = 1 // anything else: network, file, server errors
	exitUsage    = 2 // bad flags or arguments
	exitRefused  = 3 // gatepost refused to presign (400, 401, 403, 429, 503)
	exitRejected = 4 // the store rejected the upload (e.g. EntityTooLarge)
)

// usageError marks a mistake in the command line.
type usageError struct{ error }

// Unwrap lets errors.Is see flag.ErrHelp through it (-h is no mistake).
func (u usageError) Unwrap() error { return u.error }

// exitCode maps an error from dispatch to the process exit code.
func exitCode(err error) int {
	var u usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &u):
		return exitUsage
	case uploader.IsGatepostError(err):
		return exitRefused
	case uploader.IsStoreError(err):
		return exitRejected
	}
	return exitFailure
}

// metadataFlag collects repeated -metadata name=value flags.
type metadataFlag map[string]string

func (m metadataFlag) String() string { return "" }

func (m metadataFlag) Set(v string) error {
	name, value, ok := strings.Cut(v, "=")
	if !ok || name == "" {
		return errors.New("want name=value")
	}
	m[name] = value
	return nil
}

// clientFlags are the flags presign and upload share.
type clientFlags struct {
	client      uploader.Client
	tls         bool
	caFile      string
	profile     string
	key         string
	contentType string
	metadata    metadataFlag
}

func newClientFlags(fs *flag.FlagSet, getenv func(string) string) *clientFlags {
	c := &clientFlags{metadata: metadataFlag{}}
	fs.StringVar(&c.client.GRPCAddr, "server", envOr(getenv, "GATEPOST_SERVER", "127.0.0.1:9090"), "gatepost gRPC address ($GATEPOST_SERVER)")
	fs.StringVar(&c.client.BaseURL, "url", envOr(getenv, "GATEPOST_URL", "http://127.0.0.1:8080"), "gatepost REST base URL, with -rest; https:// uses TLS ($GATEPOST_URL)")
	fs.BoolVar(&c.client.UseREST, "rest", false, "use the REST gateway instead of gRPC")
	fs.BoolVar(&c.tls, "tls", false, "gRPC over TLS, verifying the server with the system roots (or -ca)")
	fs.StringVar(&c.caFile, "ca", getenv("GATEPOST_CA"), "PEM file of the CA certificates that verify gatepost, instead of the system roots; implies -tls ($GATEPOST_CA)")
	fs.StringVar(&c.client.Token, "token", getenv("GATEPOST_TOKEN"), "bearer token: API key or JWT ($GATEPOST_TOKEN)")
	fs.StringVar(&c.profile, "profile", "", "upload profile (default: the server's default)")
	fs.StringVar(&c.key, "key", "", "object key or file name to ask for")
	fs.StringVar(&c.contentType, "content-type", "", "Content-Type of the upload")
	fs.Var(c.metadata, "metadata", "user metadata name=value (repeatable)")
	return c
}

// configureTLS checks the transport flags and sets the client's TLS
// configuration: gRPC uses TLS with -tls or -ca, REST with an https:// URL;
// -ca replaces the system roots. Its errors are usage errors, found before
// any request.
func (c *clientFlags) configureTLS() error {
	useTLS := c.tls || c.caFile != ""
	if c.client.UseREST {
		u, err := url.Parse(c.client.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return usageError{fmt.Errorf("-url %q: want http://host:port or https://host:port", c.client.BaseURL)}
		}
		if useTLS && u.Scheme != "https" {
			// Refused rather than ignored: the caller expects TLS, and the
			// token would go in the clear.
			return usageError{fmt.Errorf("-tls or -ca ($GATEPOST_CA) with -rest needs an https:// -url, not %q", c.client.BaseURL)}
		}
		useTLS = u.Scheme == "https"
	}
	if !useTLS {
		return nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.caFile != "" {
		pemBytes, err := os.ReadFile(c.caFile)
		if err != nil {
			return usageError{fmt.Errorf("-ca: %w", err)}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemBytes) {
			return usageError{fmt.Errorf("-ca %s: no PEM certificate in the file", c.caFile)}
		}
		cfg.RootCAs = pool
	}
	c.client.TLS = cfg
	return nil
}

// explain adds what to do to errors whose cause the caller can fix with a
// flag: an untrusted certificate, or TLS to a plaintext server.
func explain(err error) error {
	var unknown x509.UnknownAuthorityError
	var notTLS tls.RecordHeaderError
	switch {
	case errors.As(err, &unknown):
		return fmt.Errorf("%w (the server's certificate is not signed by a CA this client trusts; for gatepost, pass its CA with -ca FILE or $GATEPOST_CA)", err)
	case errors.As(err, &notTLS):
		return fmt.Errorf("%w (the server does not speak TLS: drop -tls and -ca, or use an http:// -url)", err)
	}
	return err
}

func (c *clientFlags) request() *gatepostv1.CreatePresignedPostRequest {
	req := &gatepostv1.CreatePresignedPostRequest{Key: c.key, ContentType: c.contentType, Profile: c.profile}
	if len(c.metadata) > 0 {
		req.Metadata = c.metadata
	}
	return req
}

func envOr(getenv func(string) string, name, def string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return def
}

// presignCommand implements `gatepost presign`: it prints gatepost's answer
// as JSON.
func presignCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gatepost presign", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := newClientFlags(fs, getenv)
	defer c.client.Close()
	length := fs.Int64("content-length", -1, "declared size in bytes (default: none)")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments %q", fs.Args())}
	}
	if err := c.configureTLS(); err != nil {
		return err
	}
	req := c.request()
	if *length >= 0 {
		req.ContentLength = proto.Int64(*length)
	}
	_, raw, err := c.client.Presign(ctx, req)
	if err != nil {
		return explain(err)
	}
	fmt.Fprintln(stdout, strings.TrimSpace(string(raw)))
	return nil
}

// uploadCommand implements `gatepost upload FILE`: presign, then POST the
// file to the store, with a progress bar when stderr is a terminal.
func uploadCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gatepost upload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := newClientFlags(fs, getenv)
	defer c.client.Close()
	quiet := fs.Bool("quiet", false, "no progress bar")
	threshold := fs.Int64("multipart-threshold", 64<<20, "files larger than this many bytes go up as multipart uploads")
	parallel := fs.Int("parallel", 4, "parts uploaded at once in a multipart upload")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() != 1 {
		return usageError{errors.New("usage: gatepost upload [flags] FILE")}
	}
	if err := c.configureTLS(); err != nil {
		return err
	}
	path := fs.Arg(0)
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	if c.key == "" {
		c.key = filepath.Base(path)
	}
	if c.contentType == "" {
		c.contentType = mime.TypeByExtension(filepath.Ext(path))
		if c.contentType == "" {
			c.contentType = "application/octet-stream"
		}
	}
	var progress func(io.Reader) io.Reader
	if !*quiet && isTerminal(stderr) {
		bar := progressbar.DefaultBytes(info.Size(), "uploading "+filepath.Base(path))
		progressbar.OptionSetWriter(stderr)(bar)
		progress = func(r io.Reader) io.Reader {
			pr := progressbar.NewReader(r, bar)
			return &pr
		}
	}
	req := c.request()
	if info.Size() > *threshold {
		done, err := c.client.UploadMultipart(ctx, &gatepostv1.CreateMultipartUploadRequest{
			Key: req.GetKey(), ContentType: req.GetContentType(), Profile: req.GetProfile(),
			Metadata: req.GetMetadata(), TotalSize: proto.Int64(info.Size()),
		}, f, *parallel, progress)
		if err != nil {
			return explain(err)
		}
		fmt.Fprintf(stdout, "uploaded %s (%d bytes, multipart) to s3://%s/%s\n", path, info.Size(), done.GetBucket(), done.GetKey())
		return nil
	}
	req.ContentLength = proto.Int64(info.Size())
	p, _, err := c.client.Presign(ctx, req)
	if err != nil {
		return explain(err)
	}
	if err := c.client.Upload(ctx, p, filepath.Base(path), f, info.Size(), progress); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "uploaded %s (%d bytes) to s3://%s/%s\n", path, info.Size(), p.Bucket, p.Key)
	return nil
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
