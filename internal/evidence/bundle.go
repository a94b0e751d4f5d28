package evidence

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"breakglass/internal/store"
)

// The files of an export bundle. Every file but the manifest is listed in
// the manifest, which is in sha256sum format, so `sha256sum -c SHA256SUMS`
// in the extracted bundle checks them all.
const (
	ManifestFile  = "SHA256SUMS"
	RecordsFile   = "records.ndjson" // the raw records, one per line, as received
	ChainFile     = "chain.json"     // the chain segment and its head
	StatementFile = "head.statement" // the exact text the head signature covers
	SignatureFile = "head.sig"       // the raw Ed25519 signature (signed heads only)
	PublicKeyFile = "head.pub.pem"   // the key that signed it (signed heads only)
	// RawDir holds records that contain a line break, byte for byte; their
	// line in RecordsFile is the same JSON without the breaks.
	RawDir = "records/"
)

// ChainFormat names the layout of ChainFile.
const ChainFormat = "breakglass-evidence-chain/1"

// Limits of ReadBundle: a bundle is untrusted input.
const (
	maxBundleFiles = 10000
	maxBundleFile  = 1 << 30 // one file, uncompressed
	maxBundleTotal = 4 << 30 // every file, uncompressed
	// maxRepacked bounds the compressed files of a repacked bundle, which
	// are read to say whether its files are intact.
	maxRepacked = 256 << 20
)

// BundleEntry is one log entry as a bundle carries it. Content is present
// for the entries of the exported incident and absent for the others in
// between, which are there only to link the chain to the head.
type BundleEntry struct {
	Seq           int64     `json:"seq"`
	Incident      string    `json:"incident"`
	Kind          string    `json:"kind"`
	Ref           string    `json:"ref"`
	At            time.Time `json:"at"`
	ContentSHA256 string    `json:"content_sha256"`
	Prev          string    `json:"prev"`
	Hash          string    `json:"hash"`
	Content       *[]byte   `json:"content,omitempty"` // base64
}

// Chain is ChainFile.
type Chain struct {
	Format   string        `json:"format"`
	Incident string        `json:"incident"`
	Exported time.Time     `json:"exported"`
	Entries  []BundleEntry `json:"entries"`
	Head     SignedHead    `json:"head"`
}

func (b BundleEntry) logEntry() store.LogEntry {
	e := store.LogEntry{Seq: b.Seq, Incident: b.Incident, Kind: b.Kind, Ref: b.Ref, At: b.At,
		ContentSHA256: b.ContentSHA256, Prev: b.Prev, Hash: b.Hash}
	if b.Content != nil {
		e.Content = *b.Content
		if e.Content == nil {
			e.Content = []byte{}
		}
	}
	return e
}

// SegmentLog is what Segment reads (store.EvidenceLog).
type SegmentLog interface {
	LogPager
	IncidentLog(ctx context.Context, incident string) ([]store.LogEntry, error)
}

// Segment reads the part of the chain an export of incident carries: every
// entry from the incident's first through the newest, so the incident's
// entries are linked, entry by entry, to the head. Entries of other
// incidents keep their headers only. ok is false when the incident has no
// entries in the log.
func Segment(ctx context.Context, log SegmentLog, incident string) (_ []store.LogEntry, ok bool, err error) {
	own, err := log.IncidentLog(ctx, incident)
	if err != nil {
		return nil, false, fmt.Errorf("reading the evidence of incident %s: %w", incident, err)
	}
	if len(own) == 0 {
		return nil, false, nil
	}
	var out []store.LogEntry
	after := own[0].Seq - 1
	for {
		page, err := log.LogEntries(ctx, after, PageSize)
		if err != nil {
			return nil, false, fmt.Errorf("reading the evidence log after entry %d: %w", after, err)
		}
		for _, e := range page {
			if e.Incident != incident {
				e.Content = nil
			}
			out = append(out, e)
		}
		if len(page) < PageSize || page[len(page)-1].Seq <= after {
			break
		}
		after = page[len(page)-1].Seq
	}
	return out, true, nil
}

// Export is what goes into a bundle.
type Export struct {
	Incident string
	// Entries is the Segment of the incident; the last one is the head.
	Entries []store.LogEntry
	// Head is the head the bundle is bound to: the last entry's, signed
	// when the daemon signs heads.
	Head SignedHead
	// Files are further files (the reports), by name.
	Files map[string][]byte
	Now   time.Time
}

// recordKinds are the entries whose content is a raw record.
func isRecord(kind string) bool { return kind == store.LogRecord || kind == store.LogPull }

// recordFiles derives RecordsFile (and RawDir files) from the incident's
// record entries; ReadBundle derives them again and compares.
func recordFiles(incident string, entries []store.LogEntry) (ndjson []byte, raw map[string][]byte) {
	raw = map[string][]byte{}
	var b bytes.Buffer
	for _, e := range entries {
		if e.Incident != incident || !isRecord(e.Kind) || e.Content == nil {
			continue
		}
		c := e.Content
		if bytes.ContainsAny(c, "\r\n") {
			raw[fmt.Sprintf("%s%d.json", RawDir, e.Seq)] = c
			var cb bytes.Buffer
			if json.Compact(&cb, c) != nil {
				continue // not JSON: only the exact copy can carry it
			}
			c = cb.Bytes()
		}
		b.Write(c)
		b.WriteByte('\n')
	}
	return b.Bytes(), raw
}

// WriteBundle writes the bundle of ex to w as a zip.
func WriteBundle(w io.Writer, ex Export) error {
	if len(ex.Entries) == 0 {
		return errors.New("nothing to export: the incident has no evidence")
	}
	last := ex.Entries[len(ex.Entries)-1]
	if ex.Head.Seq != last.Seq || ex.Head.Hash != last.Hash {
		return fmt.Errorf("the head %s is not the last entry of the segment (%d)", ex.Head.Ref(), last.Seq)
	}
	files := map[string][]byte{}
	for k, v := range ex.Files {
		files[k] = v
	}
	ch := Chain{Format: ChainFormat, Incident: ex.Incident, Exported: ex.Now.UTC(), Head: ex.Head}
	for _, e := range ex.Entries {
		be := BundleEntry{Seq: e.Seq, Incident: e.Incident, Kind: e.Kind, Ref: e.Ref, At: e.At.UTC(),
			ContentSHA256: e.ContentSHA256, Prev: e.Prev, Hash: e.Hash}
		if e.Content != nil {
			c := e.Content
			be.Content = &c
		}
		ch.Entries = append(ch.Entries, be)
	}
	chain, err := json.MarshalIndent(ch, "", "  ")
	if err != nil {
		return err
	}
	files[ChainFile] = append(chain, '\n')
	ndjson, raw := recordFiles(ex.Incident, ex.Entries)
	files[RecordsFile] = ndjson
	for k, v := range raw {
		files[k] = v
	}
	files[StatementFile] = ex.Head.Statement()
	if ex.Head.Signed() {
		sig, err := base64.StdEncoding.DecodeString(ex.Head.Sig)
		if err != nil {
			return fmt.Errorf("head signature: %w", err)
		}
		files[SignatureFile] = sig
		key, err := base64.StdEncoding.DecodeString(ex.Head.Key)
		if err != nil || len(key) != ed25519.PublicKeySize {
			return errors.New("head key is not an Ed25519 public key")
		}
		pemKey, err := PublicKeyPEM(ed25519.PublicKey(key))
		if err != nil {
			return err
		}
		files[PublicKeyFile] = pemKey
	}
	names := make([]string, 0, len(files))
	for k := range files {
		if k == ManifestFile || !validName(k) {
			return fmt.Errorf("bundle file name %q not allowed", k)
		}
		names = append(names, k)
	}
	slices.Sort(names)
	var manifest bytes.Buffer
	for _, n := range names {
		fmt.Fprintf(&manifest, "%s  %s\n", store.ContentHash(files[n]), n)
	}
	ordered := append([]string{ManifestFile}, names...)
	files[ManifestFile] = manifest.Bytes()
	return writeZip(w, ordered, files, ex.Now)
}

// writeZip writes files in the canonical form ReadBundle expects: stored
// (not compressed), in the given order, every header field fixed by the
// file's name, content and the export time. Because nothing in the zip is
// left to chance, ReadBundle can write it again and compare byte for byte,
// so a change to the zip's own structure (headers, timestamps, a comment,
// bytes appended) is detected as well as a change to a file.
func writeZip(w io.Writer, order []string, files map[string][]byte, mod time.Time) error {
	zw := zip.NewWriter(w)
	date, clock := dosTime(mod.UTC())
	for _, n := range order {
		data := files[n]
		fh := &zip.FileHeader{Name: n, Method: zip.Store, ModifiedDate: date, ModifiedTime: clock,
			CRC32: crc32.ChecksumIEEE(data), CompressedSize64: uint64(len(data)), UncompressedSize64: uint64(len(data))}
		fw, err := zw.CreateRaw(fh)
		if err != nil {
			return err
		}
		if _, err := fw.Write(data); err != nil {
			return err
		}
	}
	return zw.Close()
}

// dosTime is t as the MS-DOS date and time of a zip header (2 s steps).
func dosTime(t time.Time) (date, clock uint16) {
	if t.Year() < 1980 {
		return 1<<5 | 1, 0 // 1980-01-01
	}
	if t.Year() > 2107 {
		t = time.Date(2107, 12, 31, 23, 59, 58, 0, time.UTC)
	}
	date = uint16((t.Year()-1980)<<9 | int(t.Month())<<5 | t.Day())
	clock = uint16(t.Hour()<<11 | t.Minute()<<5 | t.Second()/2)
	return date, clock
}

// WriteBundleFile writes the bundle to path atomically: into a temporary
// file beside it, synced, then renamed over path, so a crash or a full disk
// never leaves a half bundle under the name.
func WriteBundleFile(path string, ex Export) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("creating the bundle: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	bw := bufio.NewWriter(f)
	if err := WriteBundle(bw, ex); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing the bundle: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("writing the bundle: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing the bundle: %w", err)
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("writing the bundle: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// validName accepts the relative, clean, forward-slash names a bundle uses.
func validName(n string) bool {
	if n == "" || strings.HasPrefix(n, "/") || strings.Contains(n, "\\") || path.Clean(n) != n || n == "." ||
		strings.HasPrefix(n, "../") || n == ".." || strings.ContainsFunc(n, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return false
	}
	return true
}

// BundleResult is what ReadBundle found.
type BundleResult struct {
	Incident string     `json:"incident"`
	Files    int        `json:"files"` // files checked against the manifest
	Exported time.Time  `json:"exported"`
	Head     SignedHead `json:"head"`
	Chain    Result     `json:"chain"`
	// Signed: the head carries a signature that verifies; KeyTrusted: with
	// the trusted key given (else only with the key the bundle names).
	Signed     bool `json:"signed"`
	KeyTrusted bool `json:"key_trusted"`
	// Problem is the first thing wrong with the bundle's files (nil when
	// none); Chain.Break the first broken entry.
	Problem *BundleProblem `json:"problem,omitempty"`
}

// OK reports whether the bundle is intact.
func (r BundleResult) OK() bool { return r.Problem == nil && r.Chain.OK() }

// BundleProblem is a file of a bundle that is missing, extra, changed or
// malformed.
type BundleProblem struct {
	File   string `json:"file"`
	Detail string `json:"detail"`
}

func (p *BundleProblem) Error() string { return p.File + ": " + p.Detail }

// BundleOptions are what ReadBundle checks beyond the bundle itself.
type BundleOptions struct {
	// Trusted is the public key the head must be signed with; nil accepts
	// the key the bundle names (and says so).
	Trusted ed25519.PublicKey
	// RequireSigned fails an unsigned head.
	RequireSigned bool
	// Heads are published heads the chain must agree with where it covers
	// them (and reach, when they are newer).
	Heads []HeadRef
	// CheckFiles, when set, checks the bundle's other files (the reports)
	// against the chain once everything else is intact; it returns the
	// file that is wrong and why, or "" (report.CheckBundle).
	CheckFiles func(files map[string][]byte, incident string, entries []store.LogEntry) (file, detail string)
}

// ReadBundle checks a bundle: every file against the manifest and the
// manifest against the files, the chain segment entry by entry up to its
// head, the head's signature, and that the raw records are exactly the
// ones the chain holds. The error is for a bundle that cannot be read at
// all (not a zip, over the limits); what is wrong inside is in the result.
func ReadBundle(r io.ReaderAt, size int64, o BundleOptions) (BundleResult, error) {
	var res BundleResult
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return res, fmt.Errorf("not a zip bundle: %w", err)
	}
	if len(zr.File) > maxBundleFiles {
		return res, fmt.Errorf("bundle has %d files, more than %d", len(zr.File), maxBundleFiles)
	}
	files := map[string][]byte{}
	var order []string
	var total, compressed uint64
	for _, zf := range zr.File {
		if !validName(zf.Name) || strings.HasSuffix(zf.Name, "/") {
			res.Problem = &BundleProblem{zf.Name, "not an allowed file name in a bundle"}
			return res, nil
		}
		if _, dup := files[zf.Name]; dup {
			res.Problem = &BundleProblem{zf.Name, "appears twice in the zip"}
			return res, nil
		}
		if zf.Method != zip.Store {
			// breakglass stores files; a compressed one was repacked, and
			// its declared size may hide a decompression bomb.
			compressed += zf.UncompressedSize64
			if compressed > maxRepacked {
				return res, fmt.Errorf("bundle holds more than %d bytes of compressed files: not a bundle breakglass wrote", maxRepacked)
			}
		}
		if zf.UncompressedSize64 > maxBundleFile {
			return res, fmt.Errorf("%s: %d bytes, more than %d", zf.Name, zf.UncompressedSize64, maxBundleFile)
		}
		total += zf.UncompressedSize64
		if total > maxBundleTotal {
			return res, fmt.Errorf("bundle holds more than %d bytes", maxBundleTotal)
		}
		rc, err := zf.Open()
		if err != nil {
			res.Problem = &BundleProblem{zf.Name, "cannot be read: " + err.Error()}
			return res, nil
		}
		// The declared size may lie; read at most one byte past it.
		data, err := io.ReadAll(io.LimitReader(rc, int64(zf.UncompressedSize64)+1))
		rc.Close()
		if err != nil {
			res.Problem = &BundleProblem{zf.Name, "cannot be read: " + err.Error()}
			return res, nil
		}
		if uint64(len(data)) != zf.UncompressedSize64 {
			res.Problem = &BundleProblem{zf.Name, "is not the size the zip declares"}
			return res, nil
		}
		files[zf.Name] = data
		order = append(order, zf.Name)
	}
	if p := checkManifest(files, order); p != nil {
		res.Problem = p
		return res, nil
	}
	res.Files = len(files) - 1
	var ch Chain
	dec := json.NewDecoder(bytes.NewReader(files[ChainFile]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ch); err != nil {
		res.Problem = &BundleProblem{ChainFile, "not a chain: " + jsonErr(err, files[ChainFile])}
		return res, nil
	}
	if ch.Format != ChainFormat {
		res.Problem = &BundleProblem{ChainFile, fmt.Sprintf("format %q, want %q", ch.Format, ChainFormat)}
		return res, nil
	}
	res.Incident, res.Exported, res.Head = ch.Incident, ch.Exported, ch.Head
	entries := make([]store.LogEntry, len(ch.Entries))
	for i, be := range ch.Entries {
		entries[i] = be.logEntry()
		if be.Incident == ch.Incident && be.Content == nil {
			res.Problem = &BundleProblem{ChainFile, fmt.Sprintf("entry %d belongs to incident %s but its content is missing", be.Seq, ch.Incident)}
			return res, nil
		}
	}
	if len(entries) == 0 {
		res.Problem = &BundleProblem{ChainFile, "holds no entries"}
		return res, nil
	}
	if entries[0].Incident != ch.Incident {
		res.Problem = &BundleProblem{ChainFile, fmt.Sprintf("the segment starts with entry %d of another incident, not with the first of %s", entries[0].Seq, ch.Incident)}
		return res, nil
	}
	// The first entry's link to the one before it cannot be checked in a
	// bundle, so without this the incident's first entries (its opening,
	// the triggering record, its alert) could be cut off and the rest
	// would still link to the head. The builder logs the opening before
	// the incident's records and alerts.
	if !slices.ContainsFunc(entries, func(e store.LogEntry) bool {
		return e.Incident == ch.Incident && e.Kind == store.LogIncident && e.Ref == OpeningRef
	}) {
		res.Problem = &BundleProblem{ChainFile, fmt.Sprintf("the segment does not hold the opening of incident %s (kind %s, ref %s): its first entries were cut off; ask for the bundle again or verify the store", ch.Incident, store.LogIncident, OpeningRef)}
		return res, nil
	}
	if _, err := ParseHead(mustJSON(ch.Head)); err != nil {
		res.Problem = &BundleProblem{ChainFile, "head: " + err.Error()}
		return res, nil
	}
	res.Chain = VerifySegment(entries, 0, append([]HeadRef{ch.Head.Ref()}, o.Heads...))
	if !res.Chain.OK() {
		return res, nil
	}
	if last := entries[len(entries)-1]; last.Seq != ch.Head.Seq {
		res.Chain.Break = &Break{Kind: BrokenTruncated, Seq: last.Seq + 1, Detail: fmt.Sprintf("the segment ends at entry %d, before its head %d", last.Seq, ch.Head.Seq)}
		return res, nil
	}
	if !bytes.Equal(files[StatementFile], ch.Head.Statement()) {
		res.Problem = &BundleProblem{StatementFile, "is not the statement of the head in " + ChainFile}
		return res, nil
	}
	if p := checkSignature(&res, ch.Head, files, o); p != nil {
		res.Problem = p
		return res, nil
	}
	ndjson, raw := recordFiles(ch.Incident, entries)
	if !bytes.Equal(files[RecordsFile], ndjson) {
		res.Problem = &BundleProblem{RecordsFile, "does not hold exactly the records of the chain: " + firstDiff(files[RecordsFile], ndjson)}
		return res, nil
	}
	for name := range files {
		if strings.HasPrefix(name, RawDir) {
			if _, ok := raw[name]; !ok {
				res.Problem = &BundleProblem{name, "is not a record of the chain"}
				return res, nil
			}
		}
	}
	for name, want := range raw {
		if !bytes.Equal(files[name], want) {
			res.Problem = &BundleProblem{name, "is missing or not the record of the chain"}
			return res, nil
		}
	}
	if o.CheckFiles != nil {
		if file, detail := o.CheckFiles(files, ch.Incident, entries); file != "" {
			res.Problem = &BundleProblem{file, detail}
			return res, nil
		}
	}
	// Every file is intact; the zip around them must be too.
	// Compared as it is written: the bundle is not held in memory twice.
	canon := &cmpWriter{r: r, size: size, same: true}
	if err := writeZip(canon, order, files, ch.Exported); err != nil {
		return res, err
	}
	if !canon.same || canon.off != size {
		res.Problem = &BundleProblem{"(zip)", "every file is intact, but the zip file itself is not byte for byte the one breakglass wrote: it was repacked or edited (headers, timestamps, comment or appended data)"}
	}
	return res, nil
}

// cmpWriter compares what is written to it with r from offset 0.
type cmpWriter struct {
	r    io.ReaderAt
	size int64
	off  int64
	same bool
	buf  []byte
}

func (c *cmpWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 && c.same {
		k := min(len(p), 64<<10)
		if c.off+int64(k) > c.size {
			c.same = false
			break
		}
		if cap(c.buf) < k {
			c.buf = make([]byte, 64<<10)
		}
		if _, err := c.r.ReadAt(c.buf[:k], c.off); err != nil || !bytes.Equal(c.buf[:k], p[:k]) {
			c.same = false
			break
		}
		c.off += int64(k)
		p = p[k:]
	}
	if !c.same {
		c.off += int64(len(p))
	}
	return n, nil
}

func checkSignature(res *BundleResult, h SignedHead, files map[string][]byte, o BundleOptions) *BundleProblem {
	if !h.Signed() {
		for _, f := range []string{SignatureFile, PublicKeyFile} {
			if _, ok := files[f]; ok {
				return &BundleProblem{f, "present, but the head in " + ChainFile + " is not signed"}
			}
		}
		if o.RequireSigned || o.Trusted != nil {
			return &BundleProblem{ChainFile, "the head is not signed, but a signed head was required"}
		}
		return nil
	}
	if err := h.CheckSignature(o.Trusted); err != nil {
		return &BundleProblem{ChainFile, err.Error()}
	}
	if sig, _ := base64.StdEncoding.DecodeString(h.Sig); !bytes.Equal(files[SignatureFile], sig) {
		return &BundleProblem{SignatureFile, "is missing or not the signature of the head in " + ChainFile}
	}
	if pub, err := ParsePublicKey(files[PublicKeyFile]); err != nil || KeyText(pub) != h.Key {
		return &BundleProblem{PublicKeyFile, "is missing or not the key that signed the head"}
	}
	res.Signed, res.KeyTrusted = true, o.Trusted != nil
	return nil
}

// checkManifest checks every file against the manifest and back.
func checkManifest(files map[string][]byte, order []string) *BundleProblem {
	m, ok := files[ManifestFile]
	if !ok {
		return &BundleProblem{ManifestFile, "missing: this is not a breakglass evidence bundle"}
	}
	listed := map[string]bool{}
	for i, line := range strings.SplitAfter(string(m), "\n") {
		if line == "" {
			continue
		}
		where := fmt.Sprintf("%s:%d", ManifestFile, i+1)
		if !strings.HasSuffix(line, "\n") {
			return &BundleProblem{where, "the last line does not end in a newline"}
		}
		sum, name, ok := strings.Cut(strings.TrimSuffix(line, "\n"), "  ")
		if !ok || len(sum) != 64 || !isLowerHex(sum) || !validName(name) {
			return &BundleProblem{where, "not a sha256sum line (<64 hex digits>, two spaces, a file name)"}
		}
		if listed[name] {
			return &BundleProblem{where, name + " is listed twice"}
		}
		listed[name] = true
		data, ok := files[name]
		if !ok || name == ManifestFile {
			return &BundleProblem{name, "listed in the manifest but not in the bundle (deleted)"}
		}
		if got := store.ContentHash(data); got != sum {
			return &BundleProblem{name, fmt.Sprintf("changed: its SHA-256 is %s, the manifest says %s", short(got), short(sum))}
		}
	}
	for _, n := range order {
		if n != ManifestFile && !listed[n] {
			return &BundleProblem{n, "in the bundle but not in the manifest (added)"}
		}
	}
	for _, n := range []string{ChainFile, RecordsFile, StatementFile} {
		if !listed[n] {
			return &BundleProblem{n, "missing from the bundle"}
		}
	}
	return nil
}

func isLowerHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil && strings.ToLower(s) == s
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// jsonErr names the offset of a JSON error.
func jsonErr(err error, data []byte) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("invalid JSON at byte %d: %v", se.Offset, err)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("field %s at byte %d: expected %s, got %s", te.Field, te.Offset, te.Type, te.Value)
	}
	return err.Error()
}

// firstDiff says where two files part.
func firstDiff(got, want []byte) string {
	line := 1
	for i := 0; i < len(got) && i < len(want); i++ {
		if got[i] != want[i] {
			return fmt.Sprintf("line %d differs (byte %d)", line, i)
		}
		if got[i] == '\n' {
			line++
		}
	}
	if len(got) > len(want) {
		return fmt.Sprintf("extra data from line %d", line)
	}
	return fmt.Sprintf("records missing from line %d", line)
}

// OpeningRef is the Ref of an incident's opening transition (kind
// store.LogIncident), which the incident builder logs before the incident's
// records and alerts; internal/incident writes it (a test keeps the two
// equal).
const OpeningRef = "state:open"
