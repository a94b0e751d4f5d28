// Package config loads, validates and prints the breakglass configuration
// file: which accounts are the break-glass accounts, where the state store
// lives and how the daemon logs.
//
// The file is YAML and is decoded strictly, because a typo in a guard's
// configuration (say "upnn:" instead of "upn:") would otherwise silently
// leave an emergency account unwatched. Every problem found is reported, not
// just the first, each as "file:line: field: message" so that an operator
// can fix the whole file in one pass.
//
// Scalar values may refer to the environment as ${VAR} or ${VAR:-default};
// $$ is a literal $. Expansion happens after YAML parsing, on values only,
// so an expanded value can never change the structure of the document and
// quoting in the environment cannot break the file. Error messages name
// variables and fields but never include values, so they are safe to log
// even when a value came from a secret-bearing variable. In YAML flow style
// ([...] or {...}) the braces of ${VAR} are syntax, so quote such values:
// ["${VAR}"].
//
// Fields that hold credentials use the Secret type, which refuses to print
// itself through fmt, encoding/json, YAML or log/slog.
package config
