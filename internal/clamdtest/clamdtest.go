// Package clamdtest runs Debian's clamd for tests: on a free loopback
// port, in the foreground, with a one-line signature database written
// here that knows only the EICAR test file (nothing is downloaded; the
// real databases are not needed). Tests can stop and start it again to
// play an outage.
package clamdtest

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatepost/gatepost/internal/childproc"
	"github.com/gatepost/gatepost/internal/clamd"
)

// RequireEnv, when set, makes a missing clamd fail the test instead of
// skipping it (CI sets it).
const RequireEnv = "GATEPOST_REQUIRE_CLAMAV"

// EICAR is the EICAR anti-virus test file: harmless bytes every scanner
// is meant to report.
const EICAR = `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`

// Signature is what clamd reports for EICAR with the test database.
const Signature = "Test.EICAR.Custom.UNOFFICIAL"

// StreamMaxLength is the largest stream the test clamd scans.
const StreamMaxLength = 1 << 20

// Server is a running (or stopped) clamd.
type Server struct {
	// Addr is host:port, the same across restarts.
	Addr string

	t    testing.TB
	bin  string
	conf string
	proc *childproc.Process
}

// Start starts clamd, or skips the test without one.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("clamd")
	if err != nil {
		bin = "/usr/sbin/clamd" // Debian's, outside a user's PATH
		if _, serr := os.Stat(bin); serr != nil {
			if os.Getenv(RequireEnv) != "" {
				t.Fatalf("clamd not found (apt-get install clamav-daemon): %v", err)
			}
			t.Skip("clamd not found (apt-get install clamav-daemon)")
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, port, _ := net.SplitHostPort(addr)

	dir := t.TempDir()
	db := filepath.Join(dir, "db")
	if err := os.Mkdir(db, 0o755); err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum([]byte(EICAR))
	hdb := fmt.Sprintf("%s:%d:Test.EICAR.Custom\n", hex.EncodeToString(sum[:]), len(EICAR))
	if err := os.WriteFile(filepath.Join(db, "test.hdb"), []byte(hdb), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`Foreground yes
DatabaseDirectory %s
TCPSocket %s
TCPAddr 127.0.0.1
LogFile %s
StreamMaxLength %d
`, db, port, filepath.Join(dir, "clamd.log"), StreamMaxLength)
	if os.Geteuid() == 0 {
		conf += "User root\n"
	}
	confPath := filepath.Join(dir, "clamd.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: addr, t: t, bin: bin, conf: confPath}
	s.Restart()
	t.Cleanup(s.Stop)
	return s
}

// Restart starts clamd again on its address after Stop (or for the first
// time), and waits until it answers PING.
func (s *Server) Restart() {
	s.t.Helper()
	proc, err := childproc.Start(exec.Command(s.bin, "--config-file="+s.conf), "")
	if err != nil {
		s.t.Fatalf("start clamd: %v", err)
	}
	s.proc = proc
	c := &clamd.Client{Addr: s.Addr, Timeout: time.Second}
	if err := proc.WaitReady(context.Background(), 30*time.Second, 50*time.Millisecond, c.Ping); err != nil {
		s.t.Fatalf("clamd on %s (its log is beside %s): %v", s.Addr, s.conf, err)
	}
}

// Stop kills clamd (an outage) and waits for it to exit.
func (s *Server) Stop() {
	s.proc.Stop(0)
	s.proc = nil
}
