// Package config loads and validates the breakglass configuration file.
package config

import _ "go.yaml.in/yaml/v3"
