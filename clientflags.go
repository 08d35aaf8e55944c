package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"strings"
	"syscall"

	gatepostv1 "github.com/gatepost/gatepost/gen/gatepost/v1"
	"github.com/gatepost/gatepost/internal/uploader"
)

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
	fs.StringVar(&c.client.GRPCAddr, "server", envOr(getenv, "GATEPOST_SERVER", "127.0.0.1:9090"), "gatepost gRPC `host:port` ($GATEPOST_SERVER)")
	fs.StringVar(&c.client.BaseURL, "url", envOr(getenv, "GATEPOST_URL", "http://127.0.0.1:8080"), "gatepost REST base `URL`, with -rest; https:// uses TLS ($GATEPOST_URL)")
	fs.BoolVar(&c.client.UseREST, "rest", false, "use the REST gateway instead of gRPC")
	fs.BoolVar(&c.tls, "tls", false, "gRPC over TLS, verifying the server with the system roots (or -ca)")
	fs.StringVar(&c.caFile, "ca", getenv("GATEPOST_CA"), "PEM `file` of the CA certificates that verify gatepost, instead of the system roots; implies -tls ($GATEPOST_CA)")
	fs.StringVar(&c.client.Token, "token", getenv("GATEPOST_TOKEN"), "bearer `token`: API key or JWT ($GATEPOST_TOKEN)")
	fs.StringVar(&c.profile, "profile", "", "upload `profile` (default: the server's default)")
	fs.StringVar(&c.key, "key", "", "object `key` or file name to ask for")
	fs.StringVar(&c.contentType, "content-type", "", "Content-Type of the upload: a media `type` such as image/png (upload: guessed from the file name)")
	fs.Var(c.metadata, "metadata", "user metadata `name=value` (repeatable)")
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
			return usageError{error: fmt.Errorf("-url %q: want http://host:port or https://host:port", c.client.BaseURL)}
		}
		if useTLS && u.Scheme != "https" {
			// Refused rather than ignored: the caller expects TLS, and the
			// token would go in the clear.
			return usageError{error: fmt.Errorf("-tls or -ca ($GATEPOST_CA) with -rest needs an https:// -url, not %q", c.client.BaseURL)}
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
			return usageError{error: fmt.Errorf("-ca: %w", err)}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemBytes) {
			return usageError{error: fmt.Errorf("-ca %s: no PEM certificate in the file", c.caFile)}
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
		return fmt.Errorf("%w (the server does not speak TLS: over gRPC drop -tls and -ca; with -rest use an http:// -url)", err)
	case errors.Is(err, syscall.ECONNREFUSED) || strings.Contains(err.Error(), "connection refused"):
		// gRPC reports a refused connection only in the status text.
		return fmt.Errorf("%w (nothing answers at that address: is gatepost running there? -server names its gRPC address, -url its REST one)", err)
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
