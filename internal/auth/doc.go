// Package auth decides who a caller is from the bearer token it presents:
// an API key (configured by its SHA-256), a JSON Web Token (HS256 with a
// shared secret, or RS256/ES256/EdDSA with keys from a JWKS file or URL),
// or nobody in particular (mode none). It returns the caller's subject and
// the profiles it may use; it never logs or echoes a token.
package auth
