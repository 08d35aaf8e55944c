// Package childproc runs a helper server (an S3 store, Redis, clamd) as a
// child process for tests and the development stack: in its own process
// group, killed by the kernel if its parent dies first, with a wait until
// it answers and a stop of the whole group.
package childproc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Process is a started child process.
type Process struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Start starts cmd with its output in logPath (discarded when "").
func Start(cmd *exec.Cmd, logPath string) (*Process, error) {
	closeLog := func() {}
	if logPath != "" {
		f, err := os.Create(logPath)
		if err != nil {
			return nil, err
		}
		cmd.Stdout, cmd.Stderr = f, f
		closeLog = func() { f.Close() }
	}
	// Its own process group (Ctrl-C reaches only the test or devstack,
	// which stop it), killed by the kernel if its parent dies first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		closeLog()
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	p := &Process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		closeLog()
		close(p.done)
	}()
	return p, nil
}

// Done is closed once the process has exited; Err then says how.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err is how the process exited, once Done is closed.
func (p *Process) Err() error { return p.err }

// Pid returns the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Stop sends SIGTERM to the process group and waits for it to exit,
// killing it after timeout; with a timeout of 0 it kills at once (an
// outage: nothing is saved).
func (p *Process) Stop(timeout time.Duration) {
	if p == nil || p.cmd.Process == nil {
		return
	}
	if timeout > 0 {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-p.done:
			return
		case <-time.After(timeout):
		}
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// ErrExited is waiting for a process that exited instead of answering.
var ErrExited = errors.New("the process exited")

// WaitReady calls probe every interval until it succeeds, the process
// exits (ErrExited), ctx ends, or timeout passes (the probe's last
// error).
func (p *Process) WaitReady(ctx context.Context, timeout, interval time.Duration, probe func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		err := probe(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%w (%v) before it answered: %w", ErrExited, p.err, err)
		case <-ctx.Done():
			return fmt.Errorf("%w; last error: %w", ctx.Err(), err)
		case <-time.After(interval):
		}
	}
}
