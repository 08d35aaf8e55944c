package certreload_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatepost/gatepost/internal/certreload"
)

// selfSigned returns a PEM certificate and key with the given serial.
func selfSigned(t *testing.T, serial int64) (certPEM, keyPEM []byte) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "t"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}

func serialOf(t *testing.T, l *certreload.Loader) int64 {
	t.Helper()
	c, err := l.GetCertificate(&tls.ClientHelloInfo{})
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return leaf.SerialNumber.Int64()
}

// setFiles writes the pair and moves their modification time forward, so
// a change is seen even within the file system's time resolution.
func setFiles(t *testing.T, certFile, keyFile string, cert, key []byte, mod time.Time) {
	t.Helper()
	for path, data := range map[string][]byte{certFile: cert, keyFile: key} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, mod, mod); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLoader(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	c1, k1 := selfSigned(t, 1)
	setFiles(t, certFile, keyFile, c1, k1, time.Now().Add(-time.Hour))
	logs := &syncBuffer{}
	l, err := certreload.New(certFile, keyFile, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if got := serialOf(t, l); got != 1 {
		t.Fatalf("serial %d, want 1", got)
	}

	// A broken pair (new certificate, old key) keeps the last good one and
	// is logged, once.
	c2, k2 := selfSigned(t, 2)
	setFiles(t, certFile, keyFile, c2, k1, time.Now().Add(-30*time.Minute))
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "reload failed") && time.Now().Before(deadline) {
		if got := serialOf(t, l); got != 1 {
			t.Fatalf("a broken pair replaced the certificate (serial %d)", got)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), "reload failed") {
		t.Fatalf("the broken pair was never logged:\n%s", logs)
	}
	time.Sleep(1100 * time.Millisecond) // past the next check
	serialOf(t, l)
	if n := strings.Count(logs.String(), "reload failed"); n != 1 {
		t.Errorf("the same broken pair was logged %d times, want once", n)
	}

	// The fixed pair is picked up.
	setFiles(t, certFile, keyFile, c2, k2, time.Now())
	for serialOf(t, l) != 2 {
		if time.Now().After(deadline.Add(5 * time.Second)) {
			t.Fatal("the new pair was never served")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), "TLS certificate reloaded") {
		t.Errorf("the good reload was not logged:\n%s", logs)
	}

	if _, err := certreload.New(filepath.Join(dir, "missing.crt"), keyFile, slog.New(slog.DiscardHandler)); err == nil {
		t.Error("New accepted a missing certificate")
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and a reader at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
