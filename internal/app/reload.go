package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/gatepost/gatepost/internal/auth"
	"github.com/gatepost/gatepost/internal/config"
)

// DefaultReloadInterval is how often the configuration file is checked for
// changes.
const DefaultReloadInterval = 2 * time.Second

// ErrNoConfigFile is returned by Reload when gatepost runs on the embedded
// default configuration.
var ErrNoConfigFile = errors.New("no configuration file to reload: gatepost runs on the embedded default")

// reloader re-reads the configuration file and applies what can change
// while serving: the API keys and the mTLS profiles.
type reloader struct {
	authn    *auth.Reloadable
	file     string
	load     func() (*config.Config, error)
	signals  <-chan os.Signal
	interval time.Duration

	// mu serialises reloads (the watcher and callers of Reload).
	mu sync.Mutex
	// running is the configuration in force: the start-up one with the
	// reloaded API keys and mTLS profiles.
	running *config.Config
	// sum is the SHA-256 of the file as last read, to notice changes.
	sum []byte
	// readErr is the last error reading the file, logged once.
	readErr string
}

// initReload sets up reloading of the configuration of a new App.
func (a *App) initReload(cfg *config.Config, opts Options, authn *auth.Reloadable) {
	running := *cfg
	r := &a.reloader
	r.authn, r.file, r.signals, r.running = authn, opts.ConfigFile, opts.ReloadSignals, &running
	r.interval = opts.ReloadInterval
	if r.interval <= 0 {
		r.interval = DefaultReloadInterval
	}
	r.load = opts.LoadConfig
	if r.load == nil {
		r.load = func() (*config.Config, error) {
			cfg, err := config.Load(r.file)
			if err != nil {
				return nil, err
			}
			if err := cfg.Validate(); err != nil {
				return nil, fmt.Errorf("invalid configuration:\n%w", err)
			}
			return cfg, nil
		}
	}
	if r.file == "" {
		return
	}
	a.logger.Info("API keys and mTLS profiles are reloaded when the configuration file changes and on SIGHUP", "config", r.file)
	sum, err := fileSum(r.file)
	if err != nil {
		// Not fatal: the configuration did load. Changes are noticed once
		// the file can be read.
		a.logger.Warn("cannot read the configuration file to watch it for changes", "config", r.file, "error", err)
		r.readErr = err.Error()
	}
	r.sum = sum
}

// Reload reads the configuration file again and applies its API keys and
// mTLS profiles at once; SIGHUP and changes to the file call it. A
// configuration that does not load or validate changes nothing and is
// logged as an error; changes to other settings are not applied and are
// logged as needing a restart.
func (a *App) Reload(ctx context.Context) error {
	r := &a.reloader
	if r.file == "" {
		a.logger.WarnContext(ctx, "reload asked for, but there is nothing to reload", "error", ErrNoConfigFile)
		return ErrNoConfigFile
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	// The sum of what is about to be read, so the watcher does not
	// reload the same content again.
	if sum, err := fileSum(r.file); err == nil {
		r.sum = sum
	}
	next, err := r.load()
	if err == nil {
		err = r.authn.Reload(next.Auth)
	}
	if err != nil {
		a.logger.ErrorContext(ctx, "configuration reload failed; the API keys and mTLS profiles in force are kept",
			"config", r.file, "error", err)
		return fmt.Errorf("reload %s: %w", r.file, err)
	}
	restart := config.RestartNeeded(r.running, next)
	r.running.Auth.APIKeys = next.Auth.APIKeys
	r.running.Auth.MTLS.Profiles = next.Auth.MTLS.Profiles
	if len(restart) > 0 {
		a.logger.WarnContext(ctx, "configuration changes that need a restart were not applied; restart gatepost to apply them",
			"config", r.file, "settings", restart)
	}
	a.logger.InfoContext(ctx, "configuration reloaded", "config", r.file,
		"auth_mode", string(r.running.Auth.Mode), "api_keys", r.authn.APIKeys(), "mtls_profiles", r.authn.CertProfiles())
	return nil
}

// watchConfig reloads on every reload signal and whenever the file's
// content changes, until ctx is done.
//
// The file is polled rather than watched with inotify: Kubernetes updates a
// mounted ConfigMap by swapping a symlink to a new directory, which
// file-system watches on the file miss, while comparing the content every
// few seconds sees every update, whatever way it was made.
func (a *App) watchConfig(ctx context.Context) {
	r := &a.reloader
	var tick <-chan time.Time
	if r.file != "" {
		ticker := time.NewTicker(r.interval)
		defer ticker.Stop()
		tick = ticker.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case sig := <-r.signals:
			a.logger.InfoContext(ctx, "reloading the configuration", "signal", fmt.Sprint(sig))
			_ = a.Reload(ctx)
		case <-tick:
			if a.fileChanged(ctx) {
				_ = a.Reload(ctx)
			}
		}
	}
}

// fileChanged reports whether the file's content differs from when it was
// last read. A file that cannot be read is logged (once per distinct error)
// and counts as unchanged.
func (a *App) fileChanged(ctx context.Context) bool {
	r := &a.reloader
	sum, err := fileSum(r.file)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		if err.Error() != r.readErr {
			a.logger.WarnContext(ctx, "cannot read the configuration file; the configuration in force is kept", "config", r.file, "error", err)
		}
		r.readErr = err.Error()
		return false
	}
	r.readErr = ""
	return !bytes.Equal(sum, r.sum)
}

// fileSum returns the SHA-256 of a file's content.
func fileSum(path string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(raw)
	return sum[:], nil
}
