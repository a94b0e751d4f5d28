//go:build race

package logs

// raceEnabled: the race detector multiplies memory and time, so the peak-RSS
// tests, which stream gigabytes, run without it only.
const raceEnabled = true
