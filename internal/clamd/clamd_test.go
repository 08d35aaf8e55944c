package clamd_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gatepost/gatepost/internal/clamd"
	"github.com/gatepost/gatepost/internal/clamdtest"
)

// TestScan: a real clamd (Debian's) finds the EICAR test file, also
// inside a larger stream split over chunks, passes other bytes, and
// refuses a stream over its limit.
func TestScan(t *testing.T) {
	t.Parallel()
	srv := clamdtest.Start(t)
	c := &clamd.Client{Addr: srv.Addr, Timeout: 10 * time.Second}
	if err := c.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	for _, tc := range []struct {
		name    string
		body    io.Reader
		want    clamd.Result
		wantErr error
	}{
		{"EICAR", strings.NewReader(clamdtest.EICAR), clamd.Result{Infected: true, Signature: clamdtest.Signature}, nil},
		{"clean text", strings.NewReader("hello, world\n"), clamd.Result{}, nil},
		{"empty", strings.NewReader(""), clamd.Result{}, nil},
		{"clean, over several chunks", bytes.NewReader(bytes.Repeat([]byte("gatepost "), 30000)), clamd.Result{}, nil},
		{"over the stream limit", bytes.NewReader(make([]byte, clamdtest.StreamMaxLength+200<<10)), clamd.Result{}, clamd.ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := c.Scan(t.Context(), tc.body)
			if got != tc.want || !errors.Is(err, tc.wantErr) {
				t.Errorf("Scan = %+v, %v; want %+v, %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

// TestOutage: with clamd stopped a scan fails at once with
// ErrUnavailable (never a verdict); once it is back, scans work again
// with the same client.
func TestOutage(t *testing.T) {
	t.Parallel()
	srv := clamdtest.Start(t)
	c := &clamd.Client{Addr: srv.Addr, Timeout: 5 * time.Second}
	srv.Stop()
	if _, err := c.Scan(t.Context(), strings.NewReader(clamdtest.EICAR)); !errors.Is(err, clamd.ErrUnavailable) {
		t.Errorf("scan with clamd down: %v; want ErrUnavailable", err)
	}
	if err := c.Ping(t.Context()); !errors.Is(err, clamd.ErrUnavailable) {
		t.Errorf("ping with clamd down: %v; want ErrUnavailable", err)
	}
	srv.Restart()
	if got, err := c.Scan(t.Context(), strings.NewReader(clamdtest.EICAR)); err != nil || !got.Infected {
		t.Errorf("scan after clamd came back: %+v, %v", got, err)
	}
}

// TestNoAnswer: a listener that accepts and never answers is a bounded
// wait, answered ErrUnavailable when the timeout passes; a cancelled
// context ends the call at once.
func TestNoAnswer(t *testing.T) {
	t.Parallel()
	addr := silentListener(t)
	c := &clamd.Client{Addr: addr, Timeout: 200 * time.Millisecond}
	if _, err := c.Scan(t.Context(), strings.NewReader("x")); !errors.Is(err, clamd.ErrUnavailable) {
		t.Errorf("scan of a silent peer: %v; want ErrUnavailable", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := (&clamd.Client{Addr: addr, Timeout: time.Hour}).Scan(ctx, strings.NewReader("x")); !errors.Is(err, clamd.ErrUnavailable) {
		t.Errorf("scan with a cancelled context: %v; want ErrUnavailable", err)
	}
}

// TestBodyReadError: a failure reading what is to be scanned is returned
// as such, not as an outage of clamd.
func TestBodyReadError(t *testing.T) {
	t.Parallel()
	addr := silentListener(t)
	c := &clamd.Client{Addr: addr, Timeout: 5 * time.Second}
	broken := io.MultiReader(strings.NewReader("some"), iotestErr{})
	_, err := c.Scan(t.Context(), broken)
	if err == nil || errors.Is(err, clamd.ErrUnavailable) || !errors.Is(err, errBroken) {
		t.Errorf("scan of a failing reader: %v; want its own error", err)
	}
}

var errBroken = errors.New("the disk is on fire")

type iotestErr struct{}

func (iotestErr) Read([]byte) (int, error) { return 0, errBroken }

// peer listens on a loopback port until the test ends and hands every
// connection to serve, which closes it.
func peer(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go serve(conn)
		}
	}()
	return l.Addr().String()
}

// silentListener is a peer that reads what it is sent and never answers.
func silentListener(t *testing.T) string {
	t.Helper()
	return peer(t, func(conn net.Conn) { _, _ = io.Copy(io.Discard, conn); conn.Close() })
}

// TestEndlessAnswer: a peer that answers without ever ending the line is
// not believed, and not read without bound.
func TestEndlessAnswer(t *testing.T) {
	t.Parallel()
	addr := peer(t, func(conn net.Conn) {
		defer conn.Close()
		junk := bytes.Repeat([]byte("stream: OK "), 1000)
		for range 100 {
			if _, err := conn.Write(junk); err != nil {
				return
			}
		}
	})
	c := &clamd.Client{Addr: addr, Timeout: 5 * time.Second}
	if _, err := c.Scan(t.Context(), strings.NewReader("x")); !errors.Is(err, clamd.ErrUnavailable) {
		t.Errorf("scan with an endless answer: %v; want ErrUnavailable", err)
	}
}
