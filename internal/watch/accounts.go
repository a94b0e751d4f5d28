package watch

import (
	"sync"
	"sync/atomic"

	"breakglass/internal/detect"
	"breakglass/internal/entra"
	"breakglass/internal/scan"
)

// This file lets the break-glass list change while records flow: group
// members are read again every few minutes (internal/membership), and the
// rules and the scanner's prefilter are built from the list. A change
// builds a new scanner and swaps it in atomically; a scan already running
// finishes on the scanner it started with, which is closed once its last
// scan is done. No record is matched against half a list.

// scanRef is one scanner generation and the scans using it.
type scanRef struct {
	s        *scan.Scanner
	accounts *entra.AccountSet
	mu       sync.Mutex
	users    int
	retired  bool
}

// acquire returns the current scanner with a use counted; call release.
func (p *Pipeline) acquire() *scanRef {
	for {
		r := p.scan.Load()
		r.mu.Lock()
		if !r.retired {
			r.users++
			r.mu.Unlock()
			return r
		}
		r.mu.Unlock() // swapped meanwhile: take the new one
	}
}

func (r *scanRef) release() {
	r.mu.Lock()
	r.users--
	last := r.retired && r.users == 0
	r.mu.Unlock()
	if last {
		r.s.Close()
	}
}

// retire closes the scanner once no scan uses it.
func (r *scanRef) retire() {
	r.mu.Lock()
	r.retired = true
	idle := r.users == 0
	r.mu.Unlock()
	if idle {
		r.s.Close()
	}
}

func (p *Pipeline) newScanRef(accounts *entra.AccountSet) *scanRef {
	if accounts == nil {
		accounts = entra.NewAccountSet(nil)
	}
	o := scan.Options{Accounts: accounts, MaxRecord: p.o.MaxRecord, Problem: p.problem}
	if len(p.o.Rules) > 0 || len(p.o.Observers) > 0 { // else nil: the built-ins
		o.Rules = append(detect.Builtins(accounts), p.o.Rules...)
		for _, obs := range p.o.Observers {
			o.Rules = append(o.Rules, obs.Rule)
		}
	}
	return &scanRef{s: scan.New(o), accounts: accounts}
}

// SetAccounts replaces the break-glass list the rules and the scanner
// match against. Safe while records are ingested: scans that started
// before finish on the old list, later ones use the new one.
func (p *Pipeline) SetAccounts(accounts []entra.Account) {
	p.swapMu.Lock()
	defer p.swapMu.Unlock()
	if p.closed {
		return
	}
	old := p.scan.Swap(p.newScanRef(entra.NewAccountSet(accounts)))
	old.retire()
}

// Accounts returns the list currently matched against.
func (p *Pipeline) Accounts() *entra.AccountSet { return p.scan.Load().accounts }

// scanHolder is the pipeline's current scanner.
type scanHolder = atomic.Pointer[scanRef]
