package config_test

import (
	"slices"
	"testing"

	"breakglass/internal/config"
	"breakglass/internal/posture"
)

// TestCAModesMatchPosture: config owns the accepted modes (it cannot import
// posture, which imports graph, which imports config); the audit must
// understand every one of them and nothing else.
func TestCAModesMatchPosture(t *testing.T) {
	if !slices.Equal(config.CAModes, posture.CAModes) {
		t.Errorf("config.CAModes = %q, posture.CAModes = %q", config.CAModes, posture.CAModes)
	}
	if config.CAModes[0] != posture.CAModeExcludeAll {
		t.Errorf("default mode %q, want %q", config.CAModes[0], posture.CAModeExcludeAll)
	}
}
