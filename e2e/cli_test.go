package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// gatepostBinary returns the binary `make test` builds (GATEPOST_BIN).
func gatepostBinary(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("GATEPOST_BIN")
	if bin == "" {
		if os.Getenv("GATEPOST_REQUIRE_S3") != "" {
			t.Fatal("GATEPOST_BIN is not set (run `make test`)")
		}
		t.Skip("GATEPOST_BIN is not set (run `make test`)")
	}
	return bin
}

// TestCLIUpload runs `gatepost upload` against the stack, over gRPC and
// REST, and checks the documented exit codes: 0 uploaded, 3 refused by
// gatepost (over the size limit, bad token).
func TestCLIUpload(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, st *target) {
		bin := gatepostBinary(t)
		dir := t.TempDir()
		small := filepath.Join(dir, "cli-small.txt")
		big := filepath.Join(dir, "cli-big.txt")
		if err := os.WriteFile(small, []byte("from the gatepost CLI\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(big, bytes.Repeat([]byte("x"), 5000), 0o644); err != nil {
			t.Fatal(err)
		}
		grpcArgs := []string{"-server", st.gatepost.GRPCAddr()}
		restArgs := []string{"-rest", "-url", "http://" + st.gatepost.HTTPAddr()}
		tests := []struct {
			name      string
			args      []string
			token     string
			wantCode  int
			wantOut   string
			wantKey   string
			absentKey string
		}{
			{"gRPC upload", append(grpcArgs, "-key", "cli/grpc.txt", small), apiKey, 0, "uploaded", "user-uploads/cli/grpc.txt", ""},
			{"REST upload", append(restArgs, "-key", "cli/rest.txt", small), apiKey, 0, "uploaded", "user-uploads/cli/rest.txt", ""},
			{"over the limit", append(grpcArgs, "-key", "cli/big.txt", big), apiKey, 3, "over the maximum", "", "user-uploads/cli/big.txt"},
			{"over the limit, REST", append(restArgs, "-key", "cli/big-rest.txt", big), apiKey, 3, "over the maximum", "", "user-uploads/cli/big-rest.txt"},
			{"bad token", append(grpcArgs, "-key", "cli/denied.txt", small), "wrong-token", 3, "Unauthenticated", "", "user-uploads/cli/denied.txt"},
			{"bad token, REST", append(restArgs, "-key", "cli/denied-rest.txt", small), "wrong-token", 3, "HTTP 401", "", "user-uploads/cli/denied-rest.txt"},
			{"multipart over gRPC", append(grpcArgs, "-profile", "large", "-multipart-threshold", "1000", "-key", "cli/multi.txt", big), apiKey, 0, "multipart", "large/e2e/cli/multi.txt", ""},
			{"multipart over REST", append(restArgs, "-profile", "large", "-multipart-threshold", "1000", "-key", "cli/multi-rest.txt", big), apiKey, 0, "multipart", "large/e2e/cli/multi-rest.txt", ""},
			{"multipart over the limit", append(grpcArgs, "-multipart-threshold", "1000", "-key", "cli/multi-big.txt", big), apiKey, 3, "over the maximum", "", "user-uploads/cli/multi-big.txt"},
			{"no file", append(grpcArgs, filepath.Join(dir, "missing.txt")), apiKey, 1, "no such file", "", ""},
			{"no arguments", nil, apiKey, 2, "usage", "", ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				code, out := runCLI(t, bin, tt.token, append([]string{"upload"}, tt.args...)...)
				if code != tt.wantCode || !strings.Contains(out, tt.wantOut) {
					t.Errorf("exit %d, output %q; want exit %d with %q", code, out, tt.wantCode, tt.wantOut)
				}
				if strings.Contains(out, tt.token) && tt.token != "" {
					t.Errorf("the output echoes the token: %q", out)
				}
				if tt.wantKey != "" {
					head := st.headObject(t, tt.wantKey)
					if head == nil {
						t.Fatalf("%s missing after the upload", tt.wantKey)
					}
					if got := deref(head.ContentType); !strings.HasPrefix(got, "text/plain") {
						t.Errorf("Content-Type = %q", got)
					}
				}
				if tt.absentKey != "" && st.headObject(t, tt.absentKey) != nil {
					t.Errorf("%s was stored", tt.absentKey)
				}
			})
		}
	})
}

// TestCLIPresign: `gatepost presign` prints the policy as JSON on both
// transports, indented alike and with the same fields.
func TestCLIPresign(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, st *target) {
		bin := gatepostBinary(t)
		var shapes []string
		for _, args := range [][]string{
			{"-server", st.gatepost.GRPCAddr()},
			{"-rest", "-url", "http://" + st.gatepost.HTTPAddr()},
		} {
			cmd := exec.Command(bin, append(append([]string{"presign"}, args...), "-key", "p.txt", "-content-type", "text/plain", "-token", apiKey)...)
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), `"policy"`) || !strings.Contains(string(out), `"user-uploads/p.txt"`) {
				t.Errorf("presign %v: %v\n%s", args, err, out)
			}
			// Values differ (signatures, dates); the lines' keys and
			// indentation must not.
			shapes = append(shapes, regexp.MustCompile(`: .*`).ReplaceAllString(string(out), ":"))
		}
		if len(shapes) == 2 && shapes[0] != shapes[1] {
			t.Errorf("gRPC and REST answers differ in shape:\n%s\n---\n%s", shapes[0], shapes[1])
		}
	})
}

// TestCLIVerifies: `gatepost upload` on a staging profile prints the
// verdict of a real PNG, and exits 5 with gatepost's reasons for HTML
// declared image/png, which is not stored at its key.
func TestCLIVerifies(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, st *target) {
		bin := gatepostBinary(t)
		rc, hookURL := newHookReceiver(t)
		vt := st.startVerifying(t, rc, hookURL, verifyingOptions{})
		dir := t.TempDir()
		photo, fake := filepath.Join(dir, "photo.png"), filepath.Join(dir, "fake.png")
		if err := os.WriteFile(photo, pngBytes(t), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(fake, []byte("<html><body>hi</body></html>"), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, tt := range []struct {
			name, file, key string
			args            []string
			wantCode        int
			wantOut         string
			stored          bool
		}{
			{"a PNG over gRPC", photo, "cli-verify/grpc.png", []string{"-server", vt.gatepost.GRPCAddr()}, 0, "verified (its bytes are image/png)", true},
			{"HTML declared image/png over REST", fake, "cli-verify/fake.png", []string{"-rest", "-url", "http://" + vt.gatepost.HTTPAddr()}, 5, "text/html", false},
		} {
			args := append([]string{"upload", "-profile", "checked", "-key", tt.key}, tt.args...)
			code, out := runCLI(t, bin, apiKey, append(args, tt.file)...)
			if code != tt.wantCode || !strings.Contains(out, tt.wantOut) {
				t.Errorf("%s: exit %d, output %q; want exit %d with %q", tt.name, code, out, tt.wantCode, tt.wantOut)
			}
			if got := vt.exists(t, "checked/e2e/"+tt.key); got != tt.stored {
				t.Errorf("%s: stored at its key: %v, want %v", tt.name, got, tt.stored)
			}
		}
	})
}

// runCLI runs the gatepost binary with args and GATEPOST_TOKEN=token, and
// returns its exit code and combined output.
func runCLI(t *testing.T, bin, token string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "GATEPOST_TOKEN="+token)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return exit.ExitCode(), string(out)
	case err != nil:
		t.Fatal(err)
	}
	return 0, string(out)
}

// TestCLIResume: `gatepost upload -resume FILE` with the token of an
// upload whose first part is already stored sends only the second: the
// object then holds the stored first part (other bytes than the file's,
// which shows it was not sent again) and the file's second; the token
// file is gone once the upload completes.
func TestCLIResume(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, st *target) {
		bin := gatepostBinary(t)
		c := st.client(t)
		total := int64(12 << 20)
		file := randomBytes(t, int(total))
		earlier := randomBytes(t, int(total))
		up := startMultipart(t, c, "cli-resume/big.bin", total)
		uploadParts(t, c, up, earlier, 1)
		dir := t.TempDir()
		path, state := filepath.Join(dir, "big.bin"), filepath.Join(dir, "upload.token")
		if err := os.WriteFile(path, file, 0o644); err != nil {
			t.Fatal(err)
		}
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		saved, _ := json.Marshal(map[string]any{"gatepost_upload_token": "v1", "token": up.GetUploadToken(),
			"file": path, "size": info.Size(), "modified": info.ModTime()})
		if err := os.WriteFile(state, saved, 0o600); err != nil {
			t.Fatal(err)
		}
		code, out := runCLI(t, bin, apiKey, "upload", "-server", st.gatepost.GRPCAddr(), "-profile", "large", "-key", "cli-resume/big.bin",
			"-content-type", "application/octet-stream", "-multipart-threshold", "1000", "-resume", state, path)
		if code != 0 || !strings.Contains(out, "multipart") {
			t.Fatalf("exit %d: %s", code, out)
		}
		want := append(append([]byte{}, earlier[:up.GetPartSize()]...), file[up.GetPartSize():]...)
		if got := st.getObject(t, up.GetKey()); !bytes.Equal(got, want) {
			t.Errorf("the object is not the stored first part and the file's second (was part 1 sent again?)")
		}
		if _, err := os.Stat(state); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the token file is still there: %v", err)
		}
	})
}
