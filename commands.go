package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/gatepost/gatepost/internal/config"
	"github.com/gatepost/gatepost/internal/uploader"
)

// Exit codes, the same for every command.
const (
	exitFailure            = 1 // anything else: network, file, server errors
	exitUsage              = 2 // bad command, flags or arguments: nothing was sent
	exitRefused            = 3 // gatepost refused to presign (400, 401, 403, 429, 503)
	exitRejected           = 4 // the store rejected the upload (e.g. EntityTooLarge)
	exitFailedVerification = 5 // the upload arrived, and gatepost's verification rejected it
)

// cli is what a command reads and writes besides its arguments.
type cli struct {
	getenv         func(string) string
	stdin          io.Reader
	stdout, stderr io.Writer
}

// command is one of gatepost's commands.
type command struct {
	name    string
	usage   string // the arguments after the name
	summary string
	run     func(ctx context.Context, args []string, c cli) error
}

// commands lists gatepost's commands in the order help shows them.
func commands() []command {
	return []command{
		{"serve", "[flags]", "run the server (the default command)", serveCommand},
		{"presign", "-key KEY -content-type TYPE [flags]", "ask a server for a presigned POST and print its JSON answer", presignCommand},
		{"upload", "[flags] FILE", "presign and upload FILE (multipart when large)", uploadCommand},
		{"hash-key", "[-stdin]", "make an API key and its SHA-256 for auth.api_keys", hashKey},
		{"token", "-sub SUBJECT -iss ISSUER [flags]", "print an HS256 test token for auth.mode jwt", mintToken},
		{"version", "", "print gatepost's version, commit and Go version", versionCommand},
		{"help", "[COMMAND]", "show this help, or one command's", nil},
	}
}

// dispatch runs the command named by the first argument, or the server
// when the first argument is a flag or absent.
func dispatch(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	c := cli{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) > 0 && (args[0] == "--version" || args[0] == "-version") {
		args = append([]string{"version"}, args[1:]...)
	}
	if len(args) == 0 || (strings.HasPrefix(args[0], "-") && !isHelpFlag(args[0])) {
		return serveCommand(ctx, args, c)
	}
	name, rest := args[0], args[1:]
	if isHelpFlag(name) {
		name, rest = "help", nil
	}
	if name == "help" {
		return help(rest, c)
	}
	if cmd, ok := lookup(name); ok {
		return cmd.run(ctx, rest, c)
	}
	return unknownCommand(name)
}

// lookup finds the command called name (help has no run function).
func lookup(name string) (command, bool) {
	for _, cmd := range commands() {
		if cmd.name == name && cmd.run != nil {
			return cmd, true
		}
	}
	return command{}, false
}

func unknownCommand(name string) error {
	return usageError{error: fmt.Errorf("unknown command %q; `gatepost help` lists the commands", name)}
}

func isHelpFlag(arg string) bool {
	switch arg {
	case "-h", "-help", "--help", "--h":
		return true
	}
	return false
}

// help prints the list of commands and the server's flags, or with a
// command name that command's own help.
func help(args []string, c cli) error {
	if len(args) > 0 {
		if len(args) > 1 {
			return usageError{error: fmt.Errorf("help takes one command name, not %q", args)}
		}
		if args[0] == "help" || isHelpFlag(args[0]) {
			return help(nil, c)
		}
		cmd, ok := lookup(args[0])
		if !ok {
			return unknownCommand(args[0])
		}
		// Every command answers -h with its usage and flags.
		err := cmd.run(context.Background(), []string{"-h"}, cli{getenv: func(string) string { return "" }, stdout: c.stdout, stderr: c.stdout})
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	w := c.stdout
	fmt.Fprint(w, `gatepost hands out presigned S3 uploads (POST policies, PUT and multipart
URLs) over gRPC and REST, and is the command-line client of such a server.

Usage:
  gatepost [serve] [flags]      run the server
  gatepost COMMAND [arguments]

Commands:
`)
	for _, cmd := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", cmd.name, cmd.summary)
	}
	fmt.Fprint(w, "\nServer flags (gatepost serve -h):\n")
	config.PrintFlags(w)
	fmt.Fprint(w, `
Run 'gatepost COMMAND -h' for a command's flags. Exit codes: 0 done, 1 failure,
2 bad command line (nothing was sent), 3 gatepost refused, 4 the store rejected
the upload, 5 gatepost's verification rejected the upload. README.md describes
the configuration file.
`)
	return nil
}

// usageError marks a mistake in the command line. shown is true when the
// flag package has already printed it, with the usage.
type usageError struct {
	error
	shown bool
}

// Unwrap lets errors.Is see flag.ErrHelp through it (-h is no mistake).
func (u usageError) Unwrap() error { return u.error }

// flagError wraps an error from FlagSet.Parse, which has printed it
// already with the command's usage.
func flagError(err error) error { return usageError{error: err, shown: true} }

// alreadyShown reports whether err was printed where it happened.
func alreadyShown(err error) bool {
	var u usageError
	return errors.As(err, &u) && u.shown
}

// exitCode maps an error from dispatch to the process exit code.
func exitCode(err error) int {
	var u usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &u):
		return exitUsage
	case uploader.IsGatepostError(err):
		return exitRefused
	case uploader.IsStoreError(err):
		return exitRejected
	case errors.As(err, new(*uploader.RejectedError)):
		return exitFailedVerification
	}
	return exitFailure
}

// newFlagSet returns the flag set of the command name, whose -h shows
// the command's usage line and summary from commands() before the flags.
// Help that was asked for goes to stdout (so that `gatepost upload -h |
// less` works); the usage after a mistake goes to stderr.
func newFlagSet(name string, args []string, c cli) *flag.FlagSet {
	fs := flag.NewFlagSet("gatepost "+name, flag.ContinueOnError)
	fs.SetOutput(helpOutput(args, c))
	fs.Usage = func() {
		if cmd, ok := lookup(name); ok {
			fmt.Fprintf(fs.Output(), "Usage: gatepost %s %s\n\n%s.\n", name, cmd.usage, upperFirst(cmd.summary))
		}
		hasFlags := false
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprint(fs.Output(), "\nFlags:\n")
			fs.PrintDefaults()
		}
	}
	return fs
}

// helpOutput is stdout when args ask for help, else stderr.
func helpOutput(args []string, c cli) io.Writer {
	for _, a := range args {
		if a == "--" {
			break
		}
		if isHelpFlag(a) {
			return c.stdout
		}
	}
	return c.stderr
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
