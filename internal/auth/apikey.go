package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/gatepost/gatepost/internal/config"
)

// apiKeys accepts tokens whose SHA-256 is configured. Only hashes are held,
// so neither the configuration nor memory holds a usable key.
type apiKeys struct {
	bySum map[[sha256.Size]byte]Identity
}

func newAPIKeys(cfg []config.APIKey) (*apiKeys, error) {
	a := &apiKeys{bySum: make(map[[sha256.Size]byte]Identity, len(cfg))}
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
		sum := [sha256.Size]byte(raw)
		if _, dup := a.bySum[sum]; dup {
			return nil, fmt.Errorf("auth.api_keys[%d].sha256: listed twice", i)
		}
		a.bySum[sum] = Identity{Subject: k.Subject, Profiles: k.Profiles}
	}
	return a, nil
}

// Authenticate hashes the token and looks the hash up. The lookup is not
// constant time, and need not be: what its timing could reveal is about
// the SHA-256 of configured keys (in a map seeded at random per process),
// never about the keys, and a hash does not lead back to its key. Keys are
// random secrets (gatepost hash-key makes them), not passwords, so a leaked
// hash cannot be guessed back either. Comparing with every key in constant
// time cost 6% of a presign with 257 keys, and grew with their number.
func (a *apiKeys) Authenticate(_ context.Context, token string) (*Identity, error) {
	if token == "" {
		return nil, ErrNoToken
	}
	found, ok := a.bySum[sha256.Sum256([]byte(token))]
	if !ok {
		return nil, fmt.Errorf("%w: unknown API key", ErrInvalidToken)
	}
	return &Identity{Subject: found.Subject, Profiles: slices.Clone(found.Profiles)}, nil
}
