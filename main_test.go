package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatepost/gatepost/internal/auth"
	"github.com/gatepost/gatepost/internal/config"
)

func TestHashKey(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := dispatch(context.Background(), []string{"hash-key"}, nil, nil, &out, &out); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`key:    (gp_\S+)\nsha256: ([0-9a-f]{64})\n`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("output %q", out.String())
	}
	sum := sha256.Sum256([]byte(m[1]))
	if hex.EncodeToString(sum[:]) != m[2] {
		t.Errorf("sha256 does not match the key")
	}

	out.Reset()
	if err := dispatch(context.Background(), []string{"hash-key", "-stdin"}, nil, strings.NewReader("my-key\n"), &out, &out); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.TrimSpace(out.String()), auth.HashKey("my-key"); got != want {
		t.Errorf("hash-key -stdin = %q, want %q", got, want)
	}
}

// TestToken: a token from `gatepost token` is accepted by jwt mode with the
// same secret, issuer and audience.
func TestToken(t *testing.T) {
	t.Parallel()
	const secret = "readme-example-secret-0123456789abcdef"
	env := func(k string) string {
		if k == "GATEPOST_JWT_SECRET" {
			return secret
		}
		return ""
	}
	var out, errOut bytes.Buffer
	err := dispatch(context.Background(), []string{"token", "-sub", "alice", "-iss", "https://issuer.test", "-profiles", "default,avatars"}, env, nil, &out, &errOut)
	if err != nil {
		t.Fatalf("%v: %s", err, errOut.String())
	}
	a, err := auth.New(t.Context(), config.Auth{Mode: config.AuthJWT, JWT: config.JWT{
		HS256SecretEnv: "GATEPOST_JWT_SECRET", Issuer: "https://issuer.test", Audience: "gatepost",
		Leeway: time.Second, ProfilesClaim: config.DefaultProfilesClaim,
	}}, env, nil)
	if err != nil {
		t.Fatal(err)
	}
	id, err := a.Authenticate(t.Context(), strings.TrimSpace(out.String()))
	if err != nil {
		t.Fatalf("token not accepted: %v", err)
	}
	if id.Subject != "alice" || !id.MayUse("avatars") || id.MayUse("other") {
		t.Errorf("identity = %+v", id)
	}
	if _, _, err := jwt.NewParser().ParseUnverified(strings.TrimSpace(out.String()), jwt.MapClaims{}); err != nil {
		t.Errorf("not a JWT: %v", err)
	}

	if err := dispatch(context.Background(), []string{"token", "-sub", "a", "-iss", "i"}, func(string) string { return "short" }, nil, &out, &errOut); err == nil {
		t.Error("a short secret was accepted")
	}
}

// TestClientExitCodes: -h is no failure, and command-line mistakes exit 2
// before anything is sent (no server listens at the address).
func TestClientExitCodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"presign -h", []string{"presign", "-h"}, 0},
		{"upload -h", []string{"upload", "-h"}, 0},
		{"presign with an argument", []string{"presign", "extra"}, exitUsage},
		{"upload without a file", []string{"upload"}, exitUsage},
		{"unknown flag", []string{"presign", "-no-such-flag"}, exitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			env := func(string) string { return "" }
			err := dispatch(t.Context(), append(tt.args, "-server", "127.0.0.1:1"), env, nil, &out, &out)
			if got := exitCode(err); got != tt.want {
				t.Errorf("exit code %d (%v), want %d", got, err, tt.want)
			}
		})
	}
}
