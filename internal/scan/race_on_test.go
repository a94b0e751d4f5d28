//go:build race

package scan

// raceEnabled: the race detector multiplies memory and time, so the peak-RSS
// tests, which stream gigabytes, run without it only.
const raceEnabled = true
