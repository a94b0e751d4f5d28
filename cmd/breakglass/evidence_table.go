package main

import (
	"context"
	"fmt"

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

// checkShownIncident fails incidents show (exit 1, after the output) when
// what it showed from the store disagrees with the evidence log: someone
// reading a rewritten review at 3 a.m. must be told.
func checkShownIncident(ctx context.Context, st incident.CheckStore, id string) error {
	m, err := incident.CheckStoreLog(ctx, st, id)
	if err != nil {
		return storeError(err)
	}
	if m != nil {
		return exitCodeError{exitFailure, fmt.Sprintf("what is shown above is NOT what the evidence log recorded: %v; run 'breakglass evidence verify' and 'breakglass incidents report %s' (it names what the log says)", m, id)}
	}
	return nil
}
