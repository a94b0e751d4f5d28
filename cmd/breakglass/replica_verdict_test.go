package main

import (
	"testing"
	"time"
)

// TestReplicaVerdicts: the classifier of repeated POSTs that the replica
// tests rely on. A repeat is explained only by a SIGKILL of the replica
// that sent the copy before it, after (or up to killSlack before) that copy
// and before the repeat; anything else is a steady-state duplicate.
func TestReplicaVerdicts(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	g := &replicaRig{t: t, t0: t0}
	kill := func(r, ms int) event { return event{at: at(ms), replica: r, what: "kill"} }
	p := func(r, ms int) post { return post{at: at(ms), replica: r, key: "k", alertID: "a", rule: "bg.signin"} }
	for _, tt := range []struct {
		name        string
		posts       []post
		events      []event
		explained   int
		unexplained int
	}{
		{"once", []post{p(0, 100)}, nil, 0, 0},
		{"repeat, no kill", []post{p(0, 100), p(1, 200)}, nil, 0, 1},
		{"sender killed between", []post{p(0, 100), p(1, 300)}, []event{kill(0, 150)}, 1, 0},
		{"sender's copy in flight at the kill", []post{p(0, 100), p(0, 900)}, []event{kill(0, -200)}, 1, 0},
		{"another replica killed", []post{p(0, 100), p(1, 300)}, []event{kill(2, 150)}, 0, 1},
		{"sender killed after the repeat", []post{p(0, 100), p(1, 300)}, []event{kill(0, 400)}, 0, 1},
		{"sender killed long before its copy", []post{p(0, 2000), p(1, 3000)}, []event{kill(0, 1000)}, 0, 1},
		{"a start is no kill", []post{p(0, 100), p(1, 300)}, []event{{at: at(150), replica: 0, what: "start"}}, 0, 1},
		{"three copies, one kill", []post{p(0, 100), p(1, 300), p(1, 500)}, []event{kill(0, 150)}, 1, 1},
		{"three copies, two kills", []post{p(0, 100), p(1, 300), p(2, 500)}, []event{kill(0, 150), kill(1, 350)}, 2, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			vs := g.verdicts(tt.posts, tt.events)
			if len(vs) != 1 {
				t.Fatalf("%d verdicts, want 1", len(vs))
			}
			if v := vs[0]; v.raw != len(tt.posts) || len(v.explained) != tt.explained || len(v.unexplained) != tt.unexplained {
				t.Errorf("raw %d, explained %q, unexplained %q; want %d explained, %d unexplained", v.raw, v.explained, v.unexplained, tt.explained, tt.unexplained)
			}
		})
	}
}
