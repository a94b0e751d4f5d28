package api

import "breakglass/internal/posture"

// postureReport picks one account's results out of a report (nil: none).
type postureReport posture.Report

func (p *postureReport) of(id, upn string) []posture.Result {
	out := []posture.Result{}
	if p == nil {
		return out
	}
	for _, r := range p.Results {
		if r.AccountID == "" && r.AccountUPN == "" {
			continue
		}
		if sameAccount(r.AccountID, r.AccountUPN, id, upn) {
			out = append(out, r)
		}
	}
	return out
}
