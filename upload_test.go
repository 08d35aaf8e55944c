package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTokenFile: the -resume file holds the token with the file it is
// for; a file of another local file is refused; a file that is not
// gatepost's is neither read as a token nor removed; a saved file is
// readable by its owner only, even over an existing one.
func TestTokenFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	of := uploadedFile{Path: "/data/big.bin", Size: 100, Modified: time.Unix(1700000000, 5)}
	path := filepath.Join(dir, "upload.token")
	if err := os.WriteFile(path, []byte("an existing file"), 0o644); err != nil {
		t.Fatal(err)
	}
	f := &tokenFile{path: path, of: of}
	if _, err := f.Load(); err == nil || !strings.Contains(err.Error(), "not a gatepost upload token file") {
		t.Errorf("Load of a foreign file: %v", err)
	}
	if err := f.Clear(); err == nil {
		t.Error("Clear removed a foreign file")
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the foreign file is gone: %v", err)
	}
	if err := f.Save("tok"); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("saved file mode %v, %v; want 0600", info.Mode().Perm(), err)
	}
	if token, err := f.Load(); err != nil || token != "tok" {
		t.Errorf("Load = %q, %v", token, err)
	}
	other := &tokenFile{path: path, of: uploadedFile{Path: "/data/big.bin", Size: 101, Modified: of.Modified}}
	if _, err := other.Load(); err == nil || !strings.Contains(err.Error(), "not of this file") {
		t.Errorf("Load for another file: %v", err)
	}
	if err := f.Clear(); err != nil {
		t.Fatal(err)
	}
	if token, err := f.Load(); err != nil || token != "" {
		t.Errorf("after Clear: %q, %v", token, err)
	}
}
