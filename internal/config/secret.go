package config

import "breakglass/internal/secret"

// Secret is a configuration value that must never be printed (see package
// secret, its owner, shared with the channel types in notify).
type Secret = secret.Secret
