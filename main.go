// Command gatepost serves presigned S3 uploads over gRPC and REST, and is
// the command-line client of such a server.
//
// With no arguments it runs the server on an embedded default
// configuration. `gatepost help` lists the commands; `gatepost COMMAND -h`
// shows one command's flags; README.md describes the configuration file.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// A second signal while shutting down exits at once.
		<-ctx.Done()
		stop()
		hard := make(chan os.Signal, 1)
		signal.Notify(hard, os.Interrupt, syscall.SIGTERM)
		<-hard
		fmt.Fprintln(os.Stderr, "gatepost: second signal, exiting now")
		os.Exit(2)
	}()
	err := dispatch(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) && !alreadyShown(err) {
		fmt.Fprintf(os.Stderr, "gatepost: %v\n", err)
	}
	os.Exit(exitCode(err))
}
