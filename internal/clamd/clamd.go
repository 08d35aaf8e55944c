// Package clamd scans bytes for malware with a ClamAV daemon (clamd) over
// TCP, streaming them with its zINSTREAM command.
//
// It is written here rather than taken from a library: the protocol is a
// command, length-prefixed chunks and a one-line answer, and the Go
// clients there are (github.com/dutchcoders/go-clamd, last changed in
// 2017) are unmaintained and take no context or deadline.
package clamd

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// ErrUnavailable wraps every failure to reach clamd or to get its answer
// in time: the scan did not happen, which says nothing about the bytes.
var ErrUnavailable = errors.New("the malware scanner (clamd) is unreachable")

// ErrTooLarge is clamd refusing a stream over its StreamMaxLength.
var ErrTooLarge = errors.New("the stream is over clamd's StreamMaxLength")

// DefaultTimeout bounds a whole scan (connect, stream, answer) when a
// Client sets none.
const DefaultTimeout = 30 * time.Second

// chunkSize is how many bytes each zINSTREAM chunk carries.
const chunkSize = 64 << 10

// maxAnswer bounds what is read of an answer.
const maxAnswer = 1024

// Client talks to one clamd.
type Client struct {
	// Addr is clamd's TCP address, host:port.
	Addr string
	// Timeout bounds each call (DefaultTimeout when 0), within the
	// context's own deadline.
	Timeout time.Duration
}

// Result is clamd's verdict on a stream.
type Result struct {
	// Infected is true when clamd found a signature.
	Infected bool
	// Signature names what it found ("Eicar-Signature", say).
	Signature string
}

// Ping checks that clamd answers.
func (c *Client) Ping(ctx context.Context) error {
	answer, err := c.call(ctx, "zPING\x00", nil)
	if err != nil {
		return err
	}
	if answer != "PONG" {
		return fmt.Errorf("%w: PING answered %q", ErrUnavailable, answer)
	}
	return nil
}

// Scan streams r to clamd and returns its verdict. A failure to reach
// clamd or to hear from it in time wraps ErrUnavailable; a stream over
// clamd's size limit is ErrTooLarge.
func (c *Client) Scan(ctx context.Context, r io.Reader) (Result, error) {
	answer, err := c.call(ctx, "zINSTREAM\x00", r)
	if err != nil {
		return Result{}, err
	}
	return parseAnswer(answer)
}

// parseAnswer reads clamd's answer to a stream: "stream: OK",
// "stream: NAME FOUND", or "... ERROR" (not scanned: ErrUnavailable).
func parseAnswer(answer string) (Result, error) {
	switch {
	case answer == "stream: OK":
		return Result{}, nil
	case strings.HasPrefix(answer, "stream: ") && strings.HasSuffix(answer, " FOUND"):
		return Result{Infected: true, Signature: strings.TrimSuffix(strings.TrimPrefix(answer, "stream: "), " FOUND")}, nil
	case strings.HasPrefix(answer, "INSTREAM size limit exceeded"):
		return Result{}, ErrTooLarge
	}
	return Result{}, fmt.Errorf("%w: clamd answered %q", ErrUnavailable, answer)
}

// call sends command, then body (if any) as zINSTREAM chunks ending with a
// zero length, and returns the answer up to its NUL.
func (c *Client) call(ctx context.Context, command string, body io.Reader) (string, error) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", c.Addr)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	// A cancelled context ends the call at once, not at the deadline.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	// A reader of the answer runs from the start: clamd may answer (a
	// size limit, say) and close while the stream is still being sent.
	type reply struct {
		line string
		err  error
	}
	replies := make(chan reply, 1)
	go func() {
		// An answer is one short line: a peer that sends more without
		// ending it is not clamd.
		line, err := bufio.NewReader(io.LimitReader(conn, maxAnswer)).ReadString(0)
		replies <- reply{strings.TrimSpace(strings.TrimRight(line, "\x00")), err}
	}()

	_, writeErr := io.WriteString(conn, command)
	if writeErr == nil && body != nil {
		writeErr = writeChunks(conn, body)
	}
	if errors.Is(writeErr, errReadBody) {
		return "", writeErr // not clamd's fault; closing the connection ends the reader
	}
	r := <-replies
	switch {
	case r.err != nil:
		return "", fmt.Errorf("%w: no complete answer: %w", ErrUnavailable, errors.Join(writeErr, r.err))
	case writeErr != nil && strings.HasSuffix(r.line, " OK"):
		// clamd did not get the whole stream: its OK covers a part.
		return "", fmt.Errorf("%w: the stream was cut short (%w), so %q says nothing", ErrUnavailable, writeErr, r.line)
	}
	return r.line, nil
}

// errReadBody marks a failure to read what was to be scanned.
var errReadBody = errors.New("reading what to scan")

// writeChunks writes r as length-prefixed chunks and the closing zero
// length.
func writeChunks(w io.Writer, r io.Reader) error {
	buf := make([]byte, 4+chunkSize)
	for {
		n, err := io.ReadFull(r, buf[4:])
		if n > 0 {
			binary.BigEndian.PutUint32(buf, uint32(n))
			if _, werr := w.Write(buf[:4+n]); werr != nil {
				return werr
			}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%w: %w", errReadBody, err)
		}
	}
	_, err := w.Write([]byte{0, 0, 0, 0})
	return err
}
