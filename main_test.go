package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"net"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"

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

// TestCommandLine: help lists every command, -h exits 0 on each, and
// command-line mistakes exit 2 before anything is sent (no server listens
// at 127.0.0.1:1, so a request would fail with exit 1 instead).
func TestCommandLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want int
		// wantOut is part of what is printed (stdout and stderr).
		wantOut string
	}{
		{name: "help", args: []string{"help"}, wantOut: "Commands:"},
		{name: "-h", args: []string{"-h"}, wantOut: "Commands:"},
		{name: "--help", args: []string{"--help"}, wantOut: "Server flags"},
		{name: "help of a command", args: []string{"help", "upload"}, wantOut: "Usage: gatepost upload [flags] FILE"},
		{name: "help of no such command", args: []string{"help", "nope"}, want: exitUsage},
		{name: "serve -h", args: []string{"serve", "-h"}, wantOut: "-http-addr host:port"},
		{name: "presign -h", args: []string{"presign", "-h"}, wantOut: "Usage: gatepost presign"},
		{name: "upload -h", args: []string{"upload", "-h"}, wantOut: "Usage: gatepost upload"},
		{name: "hash-key -h", args: []string{"hash-key", "-h"}, wantOut: "-stdin"},
		{name: "token -h", args: []string{"token", "-h"}, wantOut: "-sub"},
		{name: "version -h", args: []string{"version", "-h"}, wantOut: "Usage: gatepost version"},
		{name: "version", args: []string{"version"}, wantOut: "gatepost "},
		{name: "unknown command", args: []string{"bogus"}, want: exitUsage},
		{name: "unknown server flag", args: []string{"-no-such-flag"}, want: exitUsage, wantOut: "flag provided but not defined"},
		{name: "server arguments", args: []string{"serve", "extra"}, want: exitUsage},
		{name: "presign without -key", args: []string{"presign", "-content-type", "text/plain"}, want: exitUsage},
		{name: "presign without -content-type", args: []string{"presign", "-key", "a.txt"}, want: exitUsage},
		{name: "presign with a size in words", args: []string{"presign", "-key", "a", "-content-type", "text/plain", "-content-length", "12kb"}, want: exitUsage},
		{name: "presign with an argument", args: []string{"presign", "-key", "a", "-content-type", "text/plain", "extra"}, want: exitUsage},
		{name: "presign with a request", args: []string{"presign", "-key", "a", "-content-type", "text/plain", "-server", "127.0.0.1:1"}, want: exitFailure},
		{name: "upload without a file", args: []string{"upload"}, want: exitUsage},
		{name: "upload with no parts at once", args: []string{"upload", "-parallel", "0", "main.go"}, want: exitUsage},
		{name: "a config file that is not there", args: []string{"-config", "/nonexistent/gatepost.yaml"}, want: exitFailure},
		{name: "unknown client flag", args: []string{"presign", "-no-such-flag"}, want: exitUsage},
		{name: "hash-key with an argument", args: []string{"hash-key", "x"}, want: exitUsage},
		{name: "token without -sub", args: []string{"token", "-iss", "i"}, want: exitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			env := func(string) string { return "" }
			err := dispatch(t.Context(), tt.args, env, strings.NewReader(""), &out, &out)
			if got := exitCode(err); got != tt.want {
				t.Errorf("exit code %d (%v), want %d\n%s", got, err, tt.want, out.String())
			}
			if !strings.Contains(out.String(), tt.wantOut) {
				t.Errorf("output does not contain %q:\n%s", tt.wantOut, out.String())
			}
			// main prefixes errors with "gatepost: " once.
			if err != nil && strings.HasPrefix(err.Error(), "gatepost") {
				t.Errorf("error %q would print as gatepost: gatepost...", err)
			}
			// An error the flag package printed is not printed again.
			if alreadyShown(err) && !errors.Is(err, flag.ErrHelp) && !strings.Contains(out.String(), err.Error()) {
				t.Errorf("error %q is marked shown but was not printed:\n%s", err, out.String())
			}
		})
	}
}

// TestHelpListsEveryCommand: each command in the table appears in help,
// and its -h shows its usage line.
func TestHelpListsEveryCommand(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := dispatch(t.Context(), []string{"help"}, nil, nil, &out, &out); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range commands() {
		if !regexp.MustCompile(`(?m)^  ` + cmd.name + ` +` + regexp.QuoteMeta(cmd.summary) + `$`).MatchString(out.String()) {
			t.Errorf("help does not list %s:\n%s", cmd.name, out.String())
		}
		if cmd.run == nil {
			continue
		}
		// Help asked for goes to stdout, so that it can be paged.
		var usage, errs bytes.Buffer
		if err := dispatch(t.Context(), []string{cmd.name, "-h"}, func(string) string { return "" }, nil, &usage, &errs); exitCode(err) != 0 {
			t.Errorf("%s -h: %v", cmd.name, err)
		}
		if want := "Usage: gatepost " + cmd.name; !strings.Contains(usage.String(), want) || errs.Len() > 0 {
			t.Errorf("%s -h: stdout %q, stderr %q; want %q on stdout only", cmd.name, usage.String(), errs.String(), want)
		}
		if strings.HasSuffix(strings.TrimSpace(usage.String()), "Flags:") {
			t.Errorf("%s -h shows an empty Flags section:\n%s", cmd.name, usage.String())
		}
	}
	for _, args := range [][]string{{"help", "help"}, {"help", "-h"}, {"--help"}} {
		var out bytes.Buffer
		if err := dispatch(t.Context(), args, nil, nil, &out, &out); err != nil || !strings.Contains(out.String(), "Commands:") {
			t.Errorf("%q: %v\n%s", args, err, out.String())
		}
	}
	var version bytes.Buffer
	if err := dispatch(t.Context(), []string{"--version"}, nil, nil, &version, &version); err != nil || !strings.HasPrefix(version.String(), "gatepost ") {
		t.Errorf("--version: %v %q", err, version.String())
	}
}

// TestVersionLine: the version, commit and Go version from build
// information.
func TestVersionLine(t *testing.T) {
	t.Parallel()
	goVersion := runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH
	tests := []struct {
		name string
		info *debug.BuildInfo
		want string
	}{
		{"no build information", nil, "gatepost (devel) " + goVersion},
		{"go run", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "gatepost (devel) " + goVersion},
		{"a clean build", &debug.BuildInfo{Main: debug.Module{Version: "v0.3.0"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "ffc6a65e0123456789abcdef0123456789abcdef"}, {Key: "vcs.time", Value: "2026-11-25T06:25:57Z"}, {Key: "vcs.modified", Value: "false"},
		}}, "gatepost v0.3.0 (commit ffc6a65e0123, 2026-11-25T06:25:57Z) " + goVersion},
		{"a modified work tree", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261125062557-ffc6a65e0123+dirty"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "ffc6a65e0123"}, {Key: "vcs.modified", Value: "true"},
		}}, "gatepost v0.0.0-20261125062557-ffc6a65e0123+dirty (commit ffc6a65e0123, modified) " + goVersion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, versionLine(tt.info)); diff != "" {
				t.Errorf("versionLine mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRefusedConnection: a client command aimed where nothing listens
// says so, and where to point it, over gRPC and REST.
func TestRefusedConnection(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	for _, args := range [][]string{
		{"presign", "-key", "a", "-content-type", "text/plain", "-server", addr},
		{"presign", "-key", "a", "-content-type", "text/plain", "-rest", "-url", "http://" + addr},
	} {
		var out bytes.Buffer
		err := dispatch(t.Context(), args, func(string) string { return "" }, nil, &out, &out)
		if exitCode(err) != exitFailure || err == nil || !strings.Contains(err.Error(), "is gatepost running there?") {
			t.Errorf("%q: %v; want a failure that asks whether gatepost is running", args, err)
		}
	}
}

// TestGCPercent: gatepost sets its own GC target unless GOGC is set.
func TestGCPercent(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		gogc    string
		want    int
		wantSet bool
	}{
		{"", defaultGCPercent, true},
		{"100", 0, false},
		{"off", 0, false},
	} {
		got, set := gcPercent(func(k string) string {
			if k == "GOGC" {
				return tc.gogc
			}
			return ""
		})
		if got != tc.want || set != tc.wantSet {
			t.Errorf("GOGC=%q: %d, %t; want %d, %t", tc.gogc, got, set, tc.want, tc.wantSet)
		}
	}
}
