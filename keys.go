package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatepost/gatepost/internal/auth"
	"github.com/gatepost/gatepost/internal/config"
)

// hashKey implements `gatepost hash-key`: it prints a new random API key
// and its SHA-256 for auth.api_keys, or, with -stdin, the SHA-256 of a key
// read from standard input.
func hashKey(_ context.Context, args []string, c cli) error {
	fs := newFlagSet("hash-key", args, c)
	fromStdin := fs.Bool("stdin", false, "hash the key read from standard input instead of generating one")
	if err := fs.Parse(args); err != nil {
		return flagError(err)
	}
	if fs.NArg() > 0 {
		return usageError{error: fmt.Errorf("hash-key takes no arguments, not %q (with -stdin it reads the key from standard input)", fs.Args())}
	}
	if *fromStdin {
		line, err := bufio.NewReader(c.stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read key: %w", err)
		}
		key := strings.TrimRight(line, "\r\n")
		if key == "" {
			return errors.New("no key on standard input")
		}
		fmt.Fprintln(c.stdout, auth.HashKey(key))
		return nil
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return err
	}
	key := "gp_" + base64.RawURLEncoding.EncodeToString(raw)
	fmt.Fprintf(c.stdout, "key:    %s\nsha256: %s\n", key, auth.HashKey(key))
	return nil
}

// mintToken implements `gatepost token`: it prints an HS256 JWT signed with
// the secret in an environment variable, for trying out and testing jwt
// mode. Production tokens come from your identity provider.
func mintToken(_ context.Context, args []string, c cli) error {
	fs := newFlagSet("token", args, c)
	secretEnv := fs.String("secret-env", "GATEPOST_JWT_SECRET", "environment `variable` holding the HS256 secret")
	sub := fs.String("sub", "", "`subject` of the token (required)")
	iss := fs.String("iss", "", "`issuer` (required; auth.jwt.issuer)")
	aud := fs.String("aud", "gatepost", "`audience` (auth.jwt.audience)")
	profiles := fs.String("profiles", config.DefaultProfile, "comma-separated `profiles` the token allows (\"*\" for all)")
	claim := fs.String("profiles-claim", config.DefaultProfilesClaim, "`claim` that lists the profiles (auth.jwt.profiles_claim)")
	ttl := fs.Duration("ttl", 15*time.Minute, "`lifetime`, for example 15m (the server refuses more than its auth.jwt.max_token_lifetime, 24h by default)")
	if err := fs.Parse(args); err != nil {
		return flagError(err)
	}
	secret := c.getenv(*secretEnv)
	switch {
	case fs.NArg() > 0:
		return usageError{error: fmt.Errorf("token takes flags only, not %q", fs.Args())}
	case *sub == "" || *iss == "":
		return usageError{error: errors.New("-sub and -iss are required")}
	case len(secret) < 32:
		return fmt.Errorf("$%s must hold a secret of at least 32 bytes", *secretEnv)
	}
	now := time.Now()
	claims := jwt.MapClaims{
		"sub": *sub, "iss": *iss, "aud": *aud,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(*ttl).Unix(),
		*claim: strings.Split(*profiles, ","),
	}
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
	if err != nil {
		return fmt.Errorf("sign token: %w", err)
	}
	fmt.Fprintln(c.stdout, token)
	return nil
}
