// Package auth decides who a caller is from the bearer token it presents:
// an API key (configured by its SHA-256), a JSON Web Token (HS256 with a
// shared secret, or RS256/ES256/EdDSA with keys from a JWKS file or URL),
// or nobody in particular (mode none), or from a verified client
// certificate (subjects "cert:<name>", a prefix no token subject may use).
// It returns the caller's subject and the profiles it may use; it never
// logs or echoes a token. JWTs valid for longer than max_token_lifetime
// and JWKS answers over 1 MiB are refused, and Reloadable swaps API keys
// and certificate profiles while serving.
package auth
