package main

import (
	"context"

	"breakglass/internal/evidence"
	"breakglass/internal/incident"
)

// checkIncidentTable compares the incidents table (state, review, alerts),
// which the hash chain does not cover, with the evidence log, for incident
// id or every incident: a review rewritten in the store is a broken store
// too, reported as the problem unless one was found already.
func checkIncidentTable(ctx context.Context, st incident.CheckStore, rep *verifyReport, id string) error {
	if rep.Problem != nil || !rep.Chain.OK() {
		return nil
	}
	m, err := incident.CheckStoreLog(ctx, st, id)
	if err != nil {
		return storeError(err)
	}
	if m != nil {
		rep.Problem = &evidence.BundleProblem{File: "incident " + m.Incident, Detail: "the store's " + m.Field + " disagrees with the evidence log: " + m.Detail}
	}
	return nil
}
