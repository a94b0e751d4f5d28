// Package simulate generates realistic synthetic Microsoft Entra ID sign-in
// and audit logs, in every shape breakglass reads them, with a known share of
// records that involve the break-glass accounts.
//
// It exists so that decoders, detectors, benchmarks and demos can run
// against tenant-sized volumes without a tenant, and so that tests can check
// what was detected against what was planted: Generate can write a
// ground-truth line for every break-glass event alongside the logs. Output
// is a pure function of Options (except for wall-clock pacing when Rate is
// set), so a seed reproduces a file byte for byte.
package simulate

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"breakglass/internal/entra"
)

// Output shapes.
const (
	ShapeGraph    = "graph"     // Microsoft Graph list responses, one page per line
	ShapeStorage  = "storage"   // diagnostic settings to a storage account: one record per line
	ShapeEventHub = "eventhub"  // diagnostic settings to Event Hubs: {"records":[...]} per line
	ShapeLAJSON   = "la-json"   // Log Analytics export: one JSON array
	ShapeLANDJSON = "la-ndjson" // Log Analytics rows, one per line
	ShapeLACSV    = "la-csv"    // Log Analytics CSV export from the portal
	ShapeMixed    = "mixed"     // graph, storage, eventhub and la-ndjson lines interleaved
)

// Shapes lists every valid Options.Shape.
var Shapes = []string{ShapeGraph, ShapeStorage, ShapeEventHub, ShapeLAJSON, ShapeLANDJSON, ShapeLACSV, ShapeMixed}

// Defaults applied when the corresponding Options field is zero.
const (
	DefaultBGShare    = 0.001
	DefaultOtherShare = 0.01
	defaultGap        = 200 * time.Millisecond // ≈430k records a day, a mid-sized tenant
)

// Options controls a run. The zero value of every field except Count/Rate
// has a sensible default; a run needs Count, Rate or Duration to end.
type Options struct {
	Seed     int64
	Count    int           // records to write; 0 with Rate or Duration streams until Duration or ctx ends
	Rate     float64       // records per second of wall time; 0 is as fast as possible
	Duration time.Duration // stop after this much wall time (0: no limit)
	Shape    string        // one of Shapes; "" is ShapeStorage

	// BGShare is the fraction of records that involve a break-glass account.
	// 0 means DefaultBGShare; a negative value means none.
	BGShare  float64
	Accounts []entra.Account // the break-glass accounts; empty means DemoAccounts()
	Start    time.Time       // event time of the first record; zero is a fixed date, for reproducibility

	// Categories restricts the records to these diagnostic categories
	// (entra.Category* or OtherCategories); empty means all.
	Categories []string

	// OtherShare is the fraction of records of unmonitored categories, in
	// the shapes that carry a category (storage, eventhub, and those lines
	// of mixed). 0 means DefaultOtherShare; a negative value means none.
	OtherShare float64

	// Progress, when set, is called now and then during long runs, from the
	// generating goroutine. It must not keep or modify the maps in Stats.
	Progress func(Stats)
}

// Stats describes what a run wrote.
type Stats struct {
	Records    int64            // records written, all categories
	Bytes      int64            // bytes written to the output, before any compression
	Units      int64            // lines, pages or payloads written
	BGEvents   int64            // records involving a break-glass account
	ByCategory map[string]int64 // records per diagnostic category
	ByRule     map[string]int64 // break-glass events per ground-truth rule
}

// Truth is one line of ground truth: a record that involves a break-glass
// account and the rules it must trigger.
type Truth struct {
	EventID   string   `json:"event_id"`
	Category  string   `json:"category"`
	Rules     []string `json:"rules"`
	AccountID string   `json:"account_id"`
}

// fixedStart keeps output reproducible when the caller gives no Start.
var fixedStart = time.Date(2024, 6, 20, 5, 0, 0, 0, time.UTC)

// tenantSeed makes the synthetic directory the same for every seed, so that
// runs with different seeds describe the same users.
const tenantSeed = 0x5eed_b4ea_c01d

// Generate writes synthetic logs to w until o.Count records are written, the
// run lasts o.Duration, or ctx ends, and ground truth to truth when it is
// not nil. Output is always left well-formed, even when ctx ends the run; in
// that case the error wraps ctx.Err().
func Generate(ctx context.Context, w io.Writer, o Options, truth io.Writer) (Stats, error) {
	g, err := newGen(o)
	if err != nil {
		return Stats{}, err
	}
	out := newSink(g, w)
	var tw *bufio.Writer
	if truth != nil {
		tw = bufio.NewWriterSize(truth, 64<<10)
	}
	err = g.run(ctx, out, tw)
	if ferr := out.finish(); err == nil {
		err = ferr
	}
	if tw != nil {
		if ferr := tw.Flush(); err == nil && ferr != nil {
			err = fmt.Errorf("simulate: writing truth: %w", ferr)
		}
	}
	g.stats.Bytes = out.bytes
	g.stats.Units = out.units
	return g.stats, err
}

// gen holds the state of one run.
type gen struct {
	o     Options
	r     *rand.Rand
	t     *tenant
	now   time.Time
	gap   float64 // mean gap between records, in nanoseconds
	stats Stats

	sig     signIn
	aud     audit
	scratch []byte
	truth   enc

	resourceID  string
	bgIP        string
	bgDevice    device
	anonDevice  device
	azureCity   *city
	guestTenant string
	adminApps   []*app
	appW        weighted
	adminAppW   weighted
	ifailW      weighted
	nfailW      weighted
	polW        weighted
	resSP       map[*resource]string
	auditApps   []auditApp

	cats       []int // allowed monitored categories
	catW       weighted
	bgKinds    []int // allowed kinds of break-glass record
	bgKindW    weighted
	others     []string
	bgShare    float64
	otherShare float64
}

// Kinds of break-glass record.
const (
	bgSignIn = iota
	bgNonInteractive
	bgAuditActor
	bgAuditTarget
	bgAuditBoth
)

func newGen(o Options) (*gen, error) {
	if o.Shape == "" {
		o.Shape = ShapeStorage
	}
	if !slices.Contains(Shapes, o.Shape) {
		return nil, fmt.Errorf("simulate: unknown shape %q (want one of %v)", o.Shape, Shapes)
	}
	switch {
	case o.Count < 0:
		return nil, fmt.Errorf("simulate: negative count %d", o.Count)
	case o.Rate < 0:
		return nil, fmt.Errorf("simulate: negative rate %v", o.Rate)
	case o.Duration < 0:
		return nil, fmt.Errorf("simulate: negative duration %v", o.Duration)
	case o.Count == 0 && o.Rate == 0 && o.Duration == 0:
		return nil, errors.New("simulate: nothing ends the run: set Count, Rate or Duration")
	case o.BGShare > 1 || o.OtherShare > 1:
		return nil, errors.New("simulate: BGShare and OtherShare must be at most 1")
	}
	g := &gen{o: o}
	g.bgShare, g.otherShare = o.BGShare, o.OtherShare
	if g.bgShare == 0 {
		g.bgShare = DefaultBGShare
	}
	if g.otherShare == 0 {
		g.otherShare = DefaultOtherShare
	}
	g.bgShare, g.otherShare = max(g.bgShare, 0), max(g.otherShare, 0)

	accounts := o.Accounts
	if len(accounts) == 0 {
		accounts = DemoAccounts()
	}
	for i, a := range accounts {
		if a.ID == "" && a.UPN == "" {
			return nil, fmt.Errorf("simulate: account %d has neither id nor upn", i)
		}
	}
	if err := g.selectCategories(); err != nil {
		return nil, err
	}
	if g.bgShare+g.otherShare > 1 {
		return nil, errors.New("simulate: BGShare plus OtherShare exceeds 1")
	}

	tr := rand.New(rand.NewPCG(tenantSeed, uint64(len(accounts))))
	g.t = newTenant(tr, accounts)
	g.r = rand.New(rand.NewPCG(uint64(o.Seed), 0x9e3779b97f4a7c15))
	g.now = o.Start.UTC()
	if o.Start.IsZero() {
		g.now = fixedStart
	}
	g.gap = float64(defaultGap)
	if o.Rate > 0 {
		g.gap = float64(time.Second) / o.Rate
	}

	g.resourceID = "/tenants/" + g.t.id + "/providers/Microsoft.aadiam"
	g.bgIP = fmt.Sprintf("%d.%d.%d.%d", cities[0].prefix[0], cities[0].prefix[1], cities[0].prefix[2], 200)
	g.bgDevice = device{id: stableGUID("paw:" + g.t.id), name: "PAW-SEC-01", os: "Windows10", browser: "Edge 125.0.0",
		compliant: true, managed: true, trust: "Azure AD joined",
		uaBrowser: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Safari/537.36 Edg/125.0.0.0"}
	g.anonDevice = device{os: "Windows10", browser: "Chrome 119.0.0"}
	g.azureCity = &city{name: "", state: "", country: "US", prefix: [3]byte{20, 50, 0}}
	g.guestTenant = stableGUID("guest-tenant:" + g.t.id)

	ws := make([]int, len(userApps))
	for i, a := range userApps {
		ws[i] = a.weight
	}
	g.appW = newWeighted(ws...)
	ws = nil
	for _, a := range userApps {
		if a.admin || a.weight >= 8 {
			g.adminApps = append(g.adminApps, a)
			w := a.weight
			if a.admin {
				w = 10
			}
			ws = append(ws, w)
		}
	}
	g.adminAppW = newWeighted(ws...)
	g.ifailW = failureWeights(interactiveFailures)
	g.nfailW = failureWeights(nonInteractiveFailures)
	ws = make([]int, len(caPolicies))
	for i, p := range caPolicies {
		ws[i] = p.weight
	}
	g.polW = newWeighted(ws...)
	g.resSP = map[*resource]string{}
	for _, res := range []*resource{resGraph, resExchange, resSharePoint, resAzureMgmt, resTeamsSvc, resAADGraph,
		resKeyVault, resStorage, resSQL, resDRS, resIntuneEnr} {
		g.resSP[res] = newGUID(tr).String()
	}
	for _, a := range auditApps {
		g.auditApps = append(g.auditApps, auditApp{name: a.name, appID: a.appID, spID: newGUID(tr).String()})
	}
	g.stats.ByCategory = map[string]int64{}
	g.stats.ByRule = map[string]int64{}
	return g, nil
}

func failureWeights(fs []*failure) weighted {
	ws := make([]int, len(fs))
	for i, f := range fs {
		ws[i] = f.weight
	}
	return newWeighted(ws...)
}

// catShare is each monitored category's share of background volume:
// non-interactive sign-ins outnumber interactive ones 5–10 to 1 in real
// tenants, and workloads sign in constantly.
var catShare = [catAudit + 1]int{catInteractive: 8, catNonInteractive: 56, catServicePrincipal: 18, catManagedIdentity: 12, catAudit: 6}

// bgKindShare is how break-glass involvement splits across record kinds.
var bgKindShare = []int{bgSignIn: 40, bgNonInteractive: 25, bgAuditActor: 12, bgAuditTarget: 15, bgAuditBoth: 8}

func (g *gen) selectCategories() error {
	allowed := func(string) bool { return true }
	if len(g.o.Categories) > 0 {
		for _, c := range g.o.Categories {
			if !slices.Contains(entra.MonitoredCategories, c) && !slices.Contains(OtherCategories, c) {
				return fmt.Errorf("simulate: unknown category %q", c)
			}
		}
		allowed = func(c string) bool { return slices.Contains(g.o.Categories, c) }
	}
	var ws []int
	for c := catInteractive; c <= catAudit; c++ {
		if allowed(catNames[c]) {
			g.cats = append(g.cats, c)
			ws = append(ws, catShare[c])
		}
	}
	g.catW = newWeighted(ws...)
	for _, c := range OtherCategories {
		if allowed(c) {
			g.others = append(g.others, c)
		}
	}
	switch g.o.Shape {
	case ShapeStorage, ShapeEventHub, ShapeMixed:
	default:
		g.others = nil
	}
	if len(g.others) == 0 {
		g.otherShare = 0
	}
	ws = nil
	for k, w := range bgKindShare {
		c := catAudit
		switch k {
		case bgSignIn:
			c = catInteractive
		case bgNonInteractive:
			c = catNonInteractive
		}
		if allowed(catNames[c]) {
			g.bgKinds = append(g.bgKinds, k)
			ws = append(ws, w)
		}
	}
	g.bgKindW = newWeighted(ws...)
	if len(g.bgKinds) == 0 {
		g.bgShare = 0
	}
	if len(g.cats) == 0 && len(g.others) == 0 {
		return errors.New("simulate: the categories leave nothing to generate in this shape")
	}
	if len(g.cats) == 0 {
		g.otherShare = 1
	}
	return nil
}

func (g *gen) run(ctx context.Context, out *sink, tw *bufio.Writer) error {
	o := g.o
	wallStart := time.Now()
	lastProgress := wallStart
	for i := 0; o.Count == 0 || i < o.Count; i++ {
		if i > 0 {
			g.now = g.now.Add(time.Duration(g.r.ExpFloat64() * g.gap))
		}
		if i&1023 == 0 || o.Rate > 0 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("simulate: stopped: %w", err)
			}
			now := time.Now()
			if o.Duration > 0 && now.Sub(wallStart) >= o.Duration {
				return nil
			}
			if o.Rate > 0 {
				due := wallStart.Add(time.Duration(float64(i) / o.Rate * float64(time.Second)))
				if wait := due.Sub(now); wait > 2*time.Millisecond {
					if err := out.idle(now); err != nil {
						return err
					}
					if err := sleep(ctx, wait); err != nil {
						return fmt.Errorf("simulate: stopped: %w", err)
					}
				}
			}
			if o.Progress != nil && now.Sub(lastProgress) >= 250*time.Millisecond {
				lastProgress = now
				g.stats.Bytes, g.stats.Units = out.bytes, out.units
				o.Progress(g.stats)
			}
		}
		if err := g.one(out, tw); err != nil {
			return err
		}
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// one generates and writes a single record.
func (g *gen) one(out *sink, tw *bufio.Writer) error {
	x := g.r.Float64()
	switch {
	case x < g.otherShare:
		c := g.others[g.r.IntN(len(g.others))]
		g.stats.Records++
		g.stats.ByCategory[c]++
		return out.other(c)
	case x < g.otherShare+g.bgShare:
		return g.oneBG(out, tw)
	}
	cat := g.cats[g.catW.pick(g.r)]
	g.stats.Records++
	g.stats.ByCategory[catNames[cat]]++
	if cat == catAudit {
		return out.audit(g.newAudit(bgNone, nil))
	}
	return out.signIn(g.newSignIn(cat, nil))
}

func (g *gen) oneBG(out *sink, tw *bufio.Writer) error {
	bg := g.t.bg[g.r.IntN(len(g.t.bg))]
	kind := g.bgKinds[g.bgKindW.pick(g.r)]
	var (
		id, cat string
		rules   [2]string
		nrules  int
		err     error
	)
	switch kind {
	case bgSignIn, bgNonInteractive:
		c := catInteractive
		if kind == bgNonInteractive {
			c = catNonInteractive
		}
		s := g.newSignIn(c, bg)
		id, cat = s.id.String(), catNames[c]
		rules[0], nrules = RuleSignIn, 1
		err = out.signIn(s)
	default:
		mode := bgAsBoth
		switch kind {
		case bgAuditActor:
			mode = bgAsActor
		case bgAuditTarget:
			mode = bgAsTarget
		}
		a := g.newAudit(mode, bg)
		act, chg, who := a.bgRules()
		bg = who
		if act {
			rules[nrules] = RuleActivity
			nrules++
		}
		if chg {
			rules[nrules] = RuleChange
			nrules++
		}
		id, cat = a.id, entraAudit
		err = out.audit(a)
	}
	g.stats.Records++
	g.stats.ByCategory[cat]++
	g.stats.BGEvents++
	for _, r := range rules[:nrules] {
		g.stats.ByRule[r]++
	}
	if err != nil || tw == nil {
		return err
	}
	e := &g.truth
	e.reset()
	e.obj()
	e.kstr("event_id", id)
	e.kstr("category", cat)
	e.strArr("rules", rules[:nrules]...)
	e.kstr("account_id", bg.truthID)
	e.endObj()
	e.b = append(e.b, '\n')
	if _, err := tw.Write(e.b); err != nil {
		return fmt.Errorf("simulate: writing truth: %w", err)
	}
	return nil
}

// container accumulates records for a shape that groups them: a Graph page
// or an Event Hubs payload.
type container struct {
	buf    []byte
	offs   []int // start of each record in buf
	target int
	opened time.Time
}

func (c *container) add(rec []byte) {
	c.offs = append(c.offs, len(c.buf))
	c.buf = append(c.buf, rec...)
}

func (c *container) reset() { c.buf, c.offs = c.buf[:0], c.offs[:0] }

// sink turns generated records into the bytes of one output shape.
type sink struct {
	g       *gen
	w       *bufio.Writer
	err     error
	bytes   int64
	units   int64
	e       enc
	line    []byte
	row     laRow
	csv     *csvLayout
	pages   [2]container // Graph sign-ins, Graph audits
	payload container
	started bool
}

const (
	pageSignIns = 0
	pageAudits  = 1
)

func newSink(g *gen, w io.Writer) *sink {
	s := &sink{g: g, w: bufio.NewWriterSize(w, 256<<10)}
	s.pages[0].target, s.pages[1].target = 100, 100
	s.payload.target = s.payloadSize()
	if g.o.Shape == ShapeLACSV {
		s.csv = g.csvLayoutFor()
	}
	return s
}

func (s *sink) write(b []byte) error {
	if s.err != nil {
		return s.err
	}
	n, err := s.w.Write(b)
	s.bytes += int64(n)
	if err != nil {
		s.err = fmt.Errorf("simulate: writing output: %w", err)
	}
	return s.err
}

func (s *sink) payloadSize() int {
	if s.g.r.IntN(10) < 3 {
		return 1 + s.g.r.IntN(10)
	}
	return 1 + s.g.r.IntN(200)
}

// subShape picks how the next record is written in the mixed shape.
func (s *sink) subShape(canGraph bool) string {
	switch n := s.g.r.IntN(100); {
	case n < 35 || (!canGraph && n >= 55):
		return ShapeStorage
	case n < 55:
		return ShapeEventHub
	case n < 75:
		return ShapeGraph
	default:
		return ShapeLANDJSON
	}
}

func (s *sink) signIn(si *signIn) error {
	shape := s.g.o.Shape
	if shape == ShapeMixed {
		shape = s.subShape(true)
	}
	switch shape {
	case ShapeStorage, ShapeEventHub:
		s.e.reset()
		s.g.writeDiagSignIn(&s.e, si)
		return s.diag(shape)
	case ShapeGraph:
		s.e.reset()
		s.g.writeSignInProps(&s.e, si, flavorGraph)
		return s.graph(pageSignIns)
	default:
		s.row.reset(shape == ShapeLACSV || s.g.r.IntN(10) == 0)
		s.g.laSignIn(&s.row, si)
		return s.la(shape)
	}
}

func (s *sink) audit(a *audit) error {
	shape := s.g.o.Shape
	if shape == ShapeMixed {
		shape = s.subShape(true)
	}
	switch shape {
	case ShapeStorage, ShapeEventHub:
		a.numResult = !a.failed && s.g.r.IntN(8) == 0
		s.e.reset()
		s.g.writeDiagAudit(&s.e, a)
		return s.diag(shape)
	case ShapeGraph:
		s.e.reset()
		s.g.writeAuditProps(&s.e, a, flavorGraph)
		return s.graph(pageAudits)
	default:
		s.row.reset(shape == ShapeLACSV || s.g.r.IntN(10) == 0)
		s.g.laAudit(&s.row, a)
		return s.la(shape)
	}
}

func (s *sink) other(cat string) error {
	shape := s.g.o.Shape
	if shape == ShapeMixed {
		shape = s.subShape(false)
	}
	s.e.reset()
	s.g.writeDiagOther(&s.e, cat)
	return s.diag(shape)
}

func (s *sink) diag(shape string) error {
	if shape == ShapeStorage {
		s.e.b = append(s.e.b, '\n')
		s.units++
		return s.write(s.e.b)
	}
	p := &s.payload
	if len(p.offs) == 0 && s.g.o.Rate > 0 {
		p.opened = time.Now()
	}
	p.add(s.e.b)
	if len(p.offs) >= p.target {
		return s.flushPayload()
	}
	return nil
}

func (s *sink) flushPayload() error {
	p := &s.payload
	if len(p.offs) == 0 {
		return nil
	}
	s.line = append(s.line[:0], `{"records":[`...)
	for i, off := range p.offs {
		end := len(p.buf)
		if i+1 < len(p.offs) {
			end = p.offs[i+1]
		}
		if i > 0 {
			s.line = append(s.line, ',')
		}
		s.line = append(s.line, p.buf[off:end]...)
	}
	s.line = append(s.line, "]}\n"...)
	p.reset()
	p.target = s.payloadSize()
	s.units++
	return s.write(s.line)
}

func (s *sink) graph(kind int) error {
	p := &s.pages[kind]
	if len(p.offs) == 0 && s.g.o.Rate > 0 {
		p.opened = time.Now()
	}
	p.add(s.e.b)
	if len(p.offs) >= p.target {
		return s.flushPage(kind, true)
	}
	return nil
}

// flushPage writes a Graph page newest record first, as Graph lists them.
// Every page but the last carries an @odata.nextLink.
func (s *sink) flushPage(kind int, more bool) error {
	p := &s.pages[kind]
	if len(p.offs) == 0 {
		return nil
	}
	ctx, link := "https://graph.microsoft.com/beta/$metadata#auditLogs/signIns", "https://graph.microsoft.com/beta/auditLogs/signIns?$top=100&$skiptoken="
	if kind == pageAudits {
		ctx, link = "https://graph.microsoft.com/beta/$metadata#auditLogs/directoryAudits", "https://graph.microsoft.com/beta/auditLogs/directoryAudits?$top=100&$skiptoken="
	}
	s.line = append(s.line[:0], `{"@odata.context":`...)
	s.line = appendJSONString(s.line, ctx)
	if more {
		s.line = append(s.line, `,"@odata.nextLink":"`...)
		s.line = append(s.line, link...)
		for i := 0; i < 4; i++ {
			s.line = strconv.AppendUint(s.line, s.g.r.Uint64()|1<<63, 16)
		}
		s.line = append(s.line, '"')
	}
	s.line = append(s.line, `,"value":[`...)
	for i := len(p.offs) - 1; i >= 0; i-- {
		end := len(p.buf)
		if i+1 < len(p.offs) {
			end = p.offs[i+1]
		}
		s.line = append(s.line, p.buf[p.offs[i]:end]...)
		if i > 0 {
			s.line = append(s.line, ',')
		}
	}
	s.line = append(s.line, "]}\n"...)
	p.reset()
	if s.g.o.Shape == ShapeMixed {
		p.target = 1 + s.g.r.IntN(100)
	}
	s.units++
	return s.write(s.line)
}

func (s *sink) la(shape string) error {
	switch shape {
	case ShapeLACSV:
		if !s.started {
			s.started = true
			if err := s.write(s.csv.header(s.line[:0])); err != nil {
				return err
			}
		}
		s.line = s.csv.row(s.line[:0], &s.row)
	case ShapeLAJSON:
		s.line = s.line[:0]
		if !s.started {
			s.started = true
			s.line = append(s.line, "[\n"...)
		} else {
			s.line = append(s.line, ",\n"...)
		}
		s.line = writeLAJSON(s.line, &s.row)
	default:
		s.line = writeLAJSON(s.line[:0], &s.row)
		s.line = append(s.line, '\n')
	}
	s.units++
	return s.write(s.line)
}

// idle is called before the generator sleeps to keep to its rate: records
// waiting in a page or payload for more than a second go out, so a slow
// stream is still a live one.
func (s *sink) idle(now time.Time) error {
	if len(s.payload.offs) > 0 && now.Sub(s.payload.opened) >= time.Second {
		if err := s.flushPayload(); err != nil {
			return err
		}
	}
	for k := range s.pages {
		if len(s.pages[k].offs) > 0 && now.Sub(s.pages[k].opened) >= time.Second {
			if err := s.flushPage(k, true); err != nil {
				return err
			}
		}
	}
	if s.err != nil {
		return s.err
	}
	if err := s.w.Flush(); err != nil {
		s.err = fmt.Errorf("simulate: writing output: %w", err)
	}
	return s.err
}

// finish closes whatever is open so the output is well-formed.
func (s *sink) finish() error {
	_ = s.flushPayload()
	_ = s.flushPage(pageSignIns, false)
	_ = s.flushPage(pageAudits, false)
	switch s.g.o.Shape {
	case ShapeLAJSON:
		if s.started {
			_ = s.write([]byte("\n]\n"))
		} else {
			_ = s.write([]byte("[]\n"))
		}
	case ShapeLACSV:
		if !s.started {
			_ = s.write(s.csv.header(nil))
		}
	}
	if s.err != nil {
		return s.err
	}
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("simulate: writing output: %w", err)
	}
	return nil
}

// csvLayoutFor fixes the CSV columns up front, from one sample row of each
// table the run may write, because a CSV file has one header.
func (g *gen) csvLayoutFor() *csvLayout {
	l := &csvLayout{index: map[string]int{}}
	probe := *g
	probe.r = rand.New(rand.NewPCG(1, 2))
	probe.resSP = g.resSP
	var r laRow
	for _, c := range g.cats {
		r.reset(true)
		if c == catAudit {
			probe.laAudit(&r, probe.newAudit(bgNone, nil))
		} else {
			probe.laSignIn(&r, probe.newSignIn(c, nil))
		}
		l.addRow(&r)
	}
	return l
}
