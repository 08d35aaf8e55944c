package main

import (
	"bytes"
	"net"
	"os"
	"strings"
	"testing"
)

// TestSmoke runs what `make run` runs, with -smoke: SeaweedFS, the gatepost
// binary, and every command the banner prints, checked. It needs the
// binaries that `make test` builds (GATEPOST_BIN, GATEPOST_GRPCURL,
// GATEPOST_WEED).
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts SeaweedFS and gatepost")
	}
	bins := map[string]string{}
	for _, env := range []string{"GATEPOST_BIN", "GATEPOST_GRPCURL", "GATEPOST_WEED"} {
		bins[env] = os.Getenv(env)
		if bins[env] == "" {
			if os.Getenv("GATEPOST_REQUIRE_S3") != "" {
				t.Fatalf("%s is not set (run `make test`)", env)
			}
			t.Skipf("%s is not set (run `make test`)", env)
		}
	}
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	var out bytes.Buffer
	err := run(t.Context(), []string{
		"-smoke",
		"-gatepost", bins["GATEPOST_BIN"], "-grpcurl", bins["GATEPOST_GRPCURL"], "-weed", bins["GATEPOST_WEED"],
		"-http-addr", freeAddr(t), "-grpc-addr", freeAddr(t),
	}, &out)
	if err != nil {
		t.Fatalf("make run smoke test: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "Starting SeaweedFS") {
		t.Errorf("unexpected output:\n%s", out.String())
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
