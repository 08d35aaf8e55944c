package app_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	gatepostv1 "github.com/gatepost/gatepost/gen/gatepost/v1"
	"github.com/gatepost/gatepost/internal/config"
)

// testCA issues certificates for the TLS tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
	pem  []byte
}

func newCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a PEM certificate and key for cn, for a server (127.0.0.1)
// or a client.
func (ca *testCA) issue(t *testing.T, cn string, serial int64, server bool) (certPEM, keyPEM []byte) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}

func (ca *testCA) clientCert(t *testing.T, cn string) tls.Certificate {
	t.Helper()
	c, k := ca.issue(t, cn, 7, false)
	pair, err := tls.X509KeyPair(c, k)
	if err != nil {
		t.Fatal(err)
	}
	return pair
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	// Write then rename, as a secret update does, so a reader never sees
	// half a file.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// tlsFixture starts gatepost with TLS on both listeners and mTLS on gRPC.
type tlsFixture struct {
	*started
	serverCA, clientCA *testCA
	certFile, keyFile  string
}

func startTLS(t *testing.T, clientAuth string) *tlsFixture {
	t.Helper()
	f := &tlsFixture{serverCA: newCA(t, "server CA"), clientCA: newCA(t, "client CA")}
	dir := t.TempDir()
	f.certFile, f.keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	c, k := f.serverCA.issue(t, "gatepost", 100, true)
	writeFile(t, f.certFile, c)
	writeFile(t, f.keyFile, k)
	caFile := filepath.Join(dir, "clients.pem")
	writeFile(t, caFile, f.clientCA.pem)
	f.started = start(t, func(cfg *config.Config) {
		cfg.TLS = config.TLS{CertFile: f.certFile, KeyFile: f.keyFile, ClientCAFile: caFile, ClientAuth: clientAuth}
		cfg.Auth.MTLS = config.MTLS{Enabled: true, Profiles: map[string][]string{"billing-service": {"default"}}}
	})
	return f
}

// grpcTLS calls CreatePresignedPost over TLS, with an optional client
// certificate and bearer token.
func (f *tlsFixture) grpcTLS(t *testing.T, clientCert *tls.Certificate, token string) error {
	t.Helper()
	cfg := &tls.Config{RootCAs: f.serverCA.pool, MinVersion: tls.VersionTLS12}
	if clientCert != nil {
		cfg.Certificates = []tls.Certificate{*clientCert}
	}
	conn, err := grpc.NewClient(f.app.GRPCAddr(), grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, err = gatepostv1.NewUploadServiceClient(conn).CreatePresignedPost(withToken(t.Context(), token), okRequest)
	return err
}

func TestTLS(t *testing.T) {
	t.Parallel()
	f := startTLS(t, "request")
	billing := f.clientCA.clientCert(t, "billing-service")
	stranger := newCA(t, "stranger CA").clientCert(t, "billing-service")

	if err := f.grpcTLS(t, nil, aliceKey); err != nil {
		t.Errorf("gRPC over TLS with a bearer token: %v", err)
	}
	if err := f.grpcTLS(t, &billing, ""); err != nil {
		t.Errorf("gRPC with a client certificate: %v", err)
	} else if !strings.Contains(f.logs.String(), `"subject":"cert:billing-service"`) {
		t.Errorf("the client certificate's subject was not the caller")
	}
	if err := f.grpcTLS(t, nil, ""); status.Code(err) != codes.Unauthenticated {
		t.Errorf("gRPC over TLS without certificate or token: %v, want Unauthenticated", err)
	}
	if err := f.grpcTLS(t, &stranger, ""); err == nil {
		t.Errorf("a client certificate from an unknown CA was accepted")
	}
	nameless := f.clientCA.clientCert(t, "")
	if err := f.grpcTLS(t, &nameless, aliceKey); status.Code(err) != codes.Unauthenticated {
		t.Errorf("a client certificate that names nobody: %v, want Unauthenticated", err)
	}

	// Plaintext gRPC to the TLS port fails.
	conn, err := grpc.NewClient(f.app.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := gatepostv1.NewUploadServiceClient(conn).CreatePresignedPost(withToken(t.Context(), aliceKey), okRequest); err == nil {
		t.Error("plaintext gRPC to the TLS listener worked")
	}

	// HTTPS on the REST port; plain HTTP is refused.
	httpsClient := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: f.serverCA.pool}}}
	req, _ := http.NewRequest(http.MethodGet, "https://"+f.app.HTTPAddr()+"/v1/presign?key=a.txt&content_type=text/plain", nil)
	req.Header.Set("Authorization", "Bearer "+aliceKey)
	resp, err := httpsClient.Do(req)
	if err != nil {
		t.Fatalf("HTTPS: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("HTTPS presign: %d", resp.StatusCode)
	}
	if resp, err := http.Get("http://" + f.app.HTTPAddr() + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP to the TLS listener worked")
		}
	}
}

func TestMTLSRequired(t *testing.T) {
	t.Parallel()
	f := startTLS(t, "require")
	billing := f.clientCA.clientCert(t, "billing-service")
	if err := f.grpcTLS(t, nil, aliceKey); err == nil {
		t.Error("a caller without a client certificate was accepted")
	}
	if err := f.grpcTLS(t, &billing, ""); err != nil {
		t.Errorf("with a client certificate: %v", err)
	}
}

// TestCertificateReload: new certificate files are served without a
// restart.
func TestCertificateReload(t *testing.T) {
	t.Parallel()
	f := startTLS(t, "request")
	serial := func() int64 {
		conn, err := tls.Dial("tcp", f.app.HTTPAddr(), &tls.Config{RootCAs: f.serverCA.pool})
		if err != nil {
			t.Fatalf("TLS handshake: %v", err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
	}
	if got := serial(); got != 100 {
		t.Fatalf("serial %d, want 100", got)
	}
	c, k := f.serverCA.issue(t, "gatepost", 200, true)
	writeFile(t, f.keyFile, k)
	writeFile(t, f.certFile, c)
	// The files are checked at most once a second: poll for the change
	// rather than assume a time.
	deadline := time.Now().Add(15 * time.Second)
	for serial() != 200 {
		if time.Now().After(deadline) {
			t.Fatal("the renewed certificate was never served")
		}
		time.Sleep(200 * time.Millisecond)
	}
}
