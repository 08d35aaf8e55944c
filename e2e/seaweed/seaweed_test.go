package seaweed

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestStopLeavesNothing: a SeaweedFS stopped at once (killed, as Ctrl-C
// on `make run` does after a short wait) leaves no sockets in /tmp and no
// log files in the system temporary directory.
func TestStopLeavesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts SeaweedFS")
	}
	binary, err := Binary()
	if err != nil {
		if os.Getenv("GATEPOST_REQUIRE_S3") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	s, err := Start(t.Context(), binary, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pid := s.proc.Pid()
	for _, path := range s.sockets {
		if _, err := os.Stat(path); err != nil {
			t.Errorf("SeaweedFS no longer makes %s (%v): update the list in Start", path, err)
		}
	}
	s.StopWithin(time.Nanosecond) // killed rather than stopped cleanly
	for _, path := range s.sockets {
		if _, err := os.Stat(path); err == nil {
			t.Errorf("%s left behind", path)
		}
	}
	logs, _ := filepath.Glob(filepath.Join(os.TempDir(), "weed*.log.*."+strconv.Itoa(pid)))
	if len(logs) > 0 {
		t.Errorf("log files left in %s: %q", os.TempDir(), logs)
	}
}
