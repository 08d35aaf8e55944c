package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/gatepost/gatepost/internal/app"
	"github.com/gatepost/gatepost/internal/config"
)

// tlsServer is gatepost running in-process with TLS on both listeners.
type tlsServer struct {
	grpcAddr, httpAddr string
	// caFile is the PEM file of the CA that signed the server's
	// certificate.
	caFile string
}

// startTLSServer runs the default configuration on ephemeral loopback
// ports with a certificate for 127.0.0.1 from a CA made for the test,
// signing with static credentials (nothing is sent to S3).
func startTLSServer(t *testing.T) *tlsServer {
	t.Helper()
	dir := t.TempDir()
	caCert, caKey, caPEM := newTestCA(t)
	certPEM, keyPEM := issueServerCert(t, caCert, caKey)
	s := &tlsServer{caFile: filepath.Join(dir, "ca.pem")}
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	for path, data := range map[string][]byte{s.caFile: caPEM, certFile: certPEM, keyFile: keyPEM} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	cfg.GRPCAddr, cfg.HTTPAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Metrics.Disabled = true
	cfg.TLS = config.TLS{CertFile: certFile, KeyFile: keyFile}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, app.Options{
		Logger:  slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Getenv:  func(string) string { return "" },
		OpenAPI: []byte(`{}`),
		AWSOptions: []func(*awsconfig.LoadOptions) error{
			awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")),
		},
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	s.grpcAddr, s.httpAddr = a.GRPCAddr(), a.HTTPAddr()
	return s
}

func newTestCA(t *testing.T) (*x509.Certificate, *ecdsa.PrivateKey, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gatepost test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func issueServerCert(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "gatepost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}

// tripwire is a loopback address that counts the connections made to it,
// for commands that must fail before any request.
func tripwire(t *testing.T) (addr string, connections *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	connections = &atomic.Int32{}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			connections.Add(1)
			conn.Close()
		}
	}()
	return ln.Addr().String(), connections
}

// TestPresignTLS runs `gatepost presign` against a gatepost with TLS, over
// gRPC and REST: trusted with -ca or $GATEPOST_CA, refused with a message
// that says what to do without them, and usage errors (exit 2) for TLS
// flags that cannot work.
func TestPresignTLS(t *testing.T) {
	t.Parallel()
	s := startTLSServer(t)
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	plain := httptest.NewServer(nil) // speaks HTTP/1.1 in the clear
	t.Cleanup(plain.Close)
	wire, connections := tripwire(t)
	httpsURL := "https://" + s.httpAddr
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		wantCode int
		// wantOut is in stdout on success, in the error otherwise.
		wantOut []string
	}{
		{"gRPC with -ca", []string{"-server", s.grpcAddr, "-ca", s.caFile}, nil, 0, []string{`"policy"`, `"user-uploads/a.txt"`}},
		{"gRPC with -tls and $GATEPOST_CA", []string{"-server", s.grpcAddr, "-tls"}, map[string]string{"GATEPOST_CA": s.caFile}, 0, []string{`"policy"`}},
		{"gRPC with $GATEPOST_SERVER and $GATEPOST_CA", nil, map[string]string{"GATEPOST_SERVER": s.grpcAddr, "GATEPOST_CA": s.caFile}, 0, []string{`"policy"`}},
		{"REST https with -ca", []string{"-rest", "-url", httpsURL, "-ca", s.caFile}, nil, 0, []string{`"policy"`, `"user-uploads/a.txt"`}},
		{"REST with $GATEPOST_URL and $GATEPOST_CA", []string{"-rest"}, map[string]string{"GATEPOST_URL": httpsURL, "GATEPOST_CA": s.caFile}, 0, []string{`"policy"`}},

		{"gRPC -tls, untrusted", []string{"-server", s.grpcAddr, "-tls"}, nil, exitFailure, []string{"certificate signed by unknown authority", "-ca FILE"}},
		{"REST https, untrusted", []string{"-rest", "-url", httpsURL}, nil, exitFailure, []string{"certificate signed by unknown authority", "-ca FILE"}},
		{"gRPC in the clear to TLS", []string{"-server", s.grpcAddr}, nil, exitFailure, []string{"over gRPC at " + s.grpcAddr}},
		{"gRPC -tls to a plaintext server", []string{"-server", plain.Listener.Addr().String(), "-tls"}, nil, exitFailure, []string{"TLS handshake", "does not speak TLS"}},

		{"-ca missing", []string{"-server", wire, "-ca", filepath.Join(dir, "missing.pem")}, nil, exitUsage, []string{"-ca", "no such file"}},
		{"-ca not PEM", []string{"-server", wire, "-ca", notPEM}, nil, exitUsage, []string{"no PEM certificate"}},
		{"$GATEPOST_CA not PEM", []string{"-server", wire}, map[string]string{"GATEPOST_CA": notPEM}, exitUsage, []string{"no PEM certificate"}},
		{"REST -ca with http", []string{"-rest", "-url", "http://" + wire, "-ca", s.caFile}, nil, exitUsage, []string{"needs an https:// -url"}},
		{"REST -tls with http", []string{"-rest", "-url", "http://" + wire, "-tls"}, nil, exitUsage, []string{"needs an https:// -url"}},
		{"REST URL without scheme", []string{"-rest", "-url", wire}, nil, exitUsage, []string{"want http://host:port or https://host:port"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			getenv := func(k string) string { return tt.env[k] }
			var stdout, stderr bytes.Buffer
			args := append([]string{"presign", "-key", "a.txt", "-content-type", "text/plain"}, tt.args...)
			err := dispatch(t.Context(), args, getenv, nil, &stdout, &stderr)
			if got := exitCode(err); got != tt.wantCode {
				t.Fatalf("exit code %d (error %v, stderr %q), want %d", got, err, stderr.String(), tt.wantCode)
			}
			got := stdout.String()
			if err != nil {
				got = err.Error()
			}
			for _, want := range tt.wantOut {
				if !strings.Contains(got, want) {
					t.Errorf("output %q does not contain %q", got, want)
				}
			}
		})
	}
	// The usage errors are found before anything is sent.
	t.Cleanup(func() {
		if n := connections.Load(); n != 0 {
			t.Errorf("%d connections to the address of the usage error cases", n)
		}
	})
}
