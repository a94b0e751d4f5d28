// Package auth decides who may use breakglass's web endpoint and API, and
// what they may do: local users with argon2id password hashes, API tokens
// and browser sessions (all stored hashed through store.Auth), the roles
// viewer < responder < admin, CSRF protection of cookie sessions, login rate
// limiting, the security headers of every response, and the audit trail of
// write actions.
//
// Local users are the point: they keep working when every identity
// provider is down, which is when a break-glass account is used. (OIDC
// sign-in is not built yet.)
//
// Secrets never leave this package in clear except once, to the person
// who created them: passwords are hashed with argon2id (Params), tokens and
// session ids are 256-bit random values of which the store keeps only the
// SHA-256; every comparison of a secret is in constant time.
package auth
