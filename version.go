package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
)

// versionCommand implements `gatepost version`: the module version, the
// commit it was built from and the Go version, from the build information
// the Go toolchain embeds.
func versionCommand(_ context.Context, args []string, c cli) error {
	fs := newFlagSet("version", args, c)
	if err := fs.Parse(args); err != nil {
		return flagError(err)
	}
	if fs.NArg() > 0 {
		return usageError{error: fmt.Errorf("version takes no arguments, not %q", fs.Args())}
	}
	info, _ := debug.ReadBuildInfo()
	fmt.Fprintln(c.stdout, versionLine(info))
	return nil
}

// versionLine describes a build: "gatepost v1.2.3 (commit 0123abc,
// 2026-11-25T06:25:57Z) go1.26.8 linux/amd64", with "modified" when the
// work tree had uncommitted changes, and "(devel)" and no commit when the
// build has no version control information (go run, go test).
func versionLine(info *debug.BuildInfo) string {
	version, commit, when, modified := "(devel)", "", "", false
	if info != nil {
		if info.Main.Version != "" {
			version = info.Main.Version
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.time":
				when = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	line := "gatepost " + version
	if commit != "" {
		if len(commit) > 12 {
			commit = commit[:12]
		}
		line += " (commit " + commit
		if when != "" {
			line += ", " + when
		}
		if modified {
			line += ", modified"
		}
		line += ")"
	}
	return fmt.Sprintf("%s %s %s/%s", line, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
