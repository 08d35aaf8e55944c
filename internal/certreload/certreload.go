// Package certreload serves a TLS certificate from files and picks up new
// files without a restart (for example when cert-manager renews a Secret).
package certreload

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// checkEvery bounds how often the files are stat'ed: at most once per
// interval, on a handshake.
const checkEvery = time.Second

// Loader holds the current certificate of a certificate/key file pair.
//
// The standard library loads a key pair once; watching libraries either
// pull in a Kubernetes dependency tree (controller-runtime's certwatcher) or
// need a goroutine per file (fsnotify). Checking the files' modification
// times during handshakes, at most once a second, is enough here and
// keeps the last good certificate when a half-written pair fails to load.
type Loader struct {
	certFile, keyFile string

	logger *slog.Logger

	mu        sync.Mutex
	cert      *tls.Certificate
	certMod   time.Time
	keyMod    time.Time
	lastCheck time.Time
}

// New loads the pair once and returns a Loader, or the load error. Later
// reloads are logged to logger: a failed one (the previous certificate is
// kept) as a warning, once per change of the files.
func New(certFile, keyFile string, logger *slog.Logger) (*Loader, error) {
	l := &Loader{certFile: certFile, keyFile: keyFile, logger: logger}
	if err := l.reload(time.Now()); err != nil {
		return nil, err
	}
	return l, nil
}

// GetCertificate is for tls.Config.GetCertificate.
func (l *Loader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if now.Sub(l.lastCheck) >= checkEvery {
		l.lastCheck = now
		if certMod, keyMod, err := modTimes(l.certFile, l.keyFile); err == nil && (!certMod.Equal(l.certMod) || !keyMod.Equal(l.keyMod)) {
			if err := l.reloadLocked(certMod, keyMod); err != nil {
				// Not again until the files change once more.
				l.certMod, l.keyMod = certMod, keyMod
				l.logger.Warn("TLS certificate reload failed; serving the previous certificate until the files change again", "error", err)
			} else {
				l.logger.Info("TLS certificate reloaded", "cert_file", l.certFile, "not_after", l.cert.Leaf.NotAfter)
			}
		}
	}
	return l.cert, nil
}

func (l *Loader) reload(now time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lastCheck = now
	certMod, keyMod, err := modTimes(l.certFile, l.keyFile)
	if err != nil {
		return err
	}
	return l.reloadLocked(certMod, keyMod)
}

func (l *Loader) reloadLocked(certMod, keyMod time.Time) error {
	cert, err := tls.LoadX509KeyPair(l.certFile, l.keyFile)
	if err != nil {
		return fmt.Errorf("load TLS key pair %s, %s: %w", l.certFile, l.keyFile, err)
	}
	l.cert, l.certMod, l.keyMod = &cert, certMod, keyMod
	return nil
}

func modTimes(certFile, keyFile string) (time.Time, time.Time, error) {
	c, err := os.Stat(certFile)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	k, err := os.Stat(keyFile)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	return c.ModTime(), k.ModTime(), nil
}
