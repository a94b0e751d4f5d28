// Package livetest holds the end-to-end test that the live audit (Graph
// read in memory) and the audit of a collect snapshot of the same tenant
// agree. It has no code of its own: it is a package so that the test can
// import both posture and collecttest without a cycle.
package livetest
