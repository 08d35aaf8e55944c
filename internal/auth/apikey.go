package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/gatepost/gatepost/internal/config"
)

// apiKeys accepts tokens whose SHA-256 is configured. Only hashes are held,
// so neither the configuration nor memory holds a usable key.
type apiKeys struct {
	keys []apiKey
}

type apiKey struct {
	sum      [sha256.Size]byte
	identity Identity
}

func newAPIKeys(cfg []config.APIKey) (*apiKeys, error) {
	a := &apiKeys{}
	for i, k := range cfg {
		// Validation refuses these too; checked again because keys are
		// also built from reloaded configurations.
		switch {
		case strings.TrimSpace(k.Subject) == "":
			return nil, fmt.Errorf("auth.api_keys[%d].subject: required (not blank)", i)
		case config.ReservedSubject(k.Subject):
			return nil, fmt.Errorf("auth.api_keys[%d].subject: %q starts with %q, which is reserved for client certificates", i, k.Subject, CertSubjectPrefix)
		}
		raw, err := hex.DecodeString(k.SHA256)
		if err != nil || len(raw) != sha256.Size {
			return nil, fmt.Errorf("auth.api_keys[%d].sha256: not a hex SHA-256", i)
		}
		var key apiKey
		copy(key.sum[:], raw)
		key.identity = Identity{Subject: k.Subject, Profiles: k.Profiles}
		a.keys = append(a.keys, key)
	}
	return a, nil
}

// Authenticate hashes the token and compares it with every configured hash
// in constant time, without stopping at a match, so timing reveals neither
// whether nor which key matched.
func (a *apiKeys) Authenticate(_ context.Context, token string) (*Identity, error) {
	if token == "" {
		return nil, ErrNoToken
	}
	sum := sha256.Sum256([]byte(token))
	var found *Identity
	for i := range a.keys {
		if subtle.ConstantTimeCompare(sum[:], a.keys[i].sum[:]) == 1 {
			found = &a.keys[i].identity
		}
	}
	if found == nil {
		return nil, fmt.Errorf("%w: unknown API key", ErrInvalidToken)
	}
	return &Identity{Subject: found.Subject, Profiles: slices.Clone(found.Profiles)}, nil
}
