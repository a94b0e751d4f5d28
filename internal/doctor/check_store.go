package doctor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"breakglass/internal/config"
	"breakglass/internal/evidence"
	"breakglass/internal/store/backend"
	"breakglass/internal/store/postgres"
	"breakglass/internal/store/sqlite"
	"breakglass/internal/version"
)

func init() { register(20, "store", true, checkStore) }

// checkStore inspects the schema without migrating it; only a store at
// this binary's schema is opened (opening migrates), then written to
// (Writable) and its evidence chain verified.
func checkStore(ctx context.Context, e *Env) []Result {
	cfg := e.Cfg
	res := func(item string, st Status, detail, fix string) Result {
		return Result{Check: "store", Item: item, Status: st, Detail: detail, Fix: fix}
	}
	skipRest := func(why string) []Result {
		return []Result{res("writable", Skip, why, ""), res("evidence chain", Skip, why, "")}
	}
	var applied, known []int
	var err error
	where := cfg.Store.Describe()
	if cfg.Store.Driver == config.StorePostgres {
		ictx, cancel := e.timeout(ctx)
		applied, known, err = postgres.Inspect(ictx, cfg.Store.ConnString().Reveal())
		cancel()
		if err != nil {
			return append([]Result{res("schema", Fail, err.Error(),
				"check store.dsn (or store.dsn_file): host, port, database, user and sslmode; that PostgreSQL runs and this "+
					"machine reaches it (`pg_isready -h HOST -p PORT`); and that the role may read the database")}, skipRest("the store cannot be read")...)
		}
	} else {
		path := cfg.Store.Path
		applied, known, err = sqlite.Inspect(ctx, path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if werr := dirWritable(filepath.Dir(path)); werr != nil {
				return append([]Result{res("schema", Fail, fmt.Sprintf("no store at %s yet, and serve could not create it: %v", path, werr),
					fmt.Sprintf("create the directory %s and give it to the user that runs breakglass (mode 0700), or set store.path", filepath.Dir(path)))},
					skipRest("no store yet")...)
			}
			return append([]Result{res("schema", Warn, fmt.Sprintf("no store at %s yet: serve creates it at its first start", path),
				"if serve has run before, store.path names the wrong file (it is relative to the working directory): correct it before starting serve")},
				skipRest("no store yet")...)
		case errors.Is(err, sqlite.ErrEmptyFile):
			return append([]Result{res("schema", Fail, err.Error(),
				fmt.Sprintf("restore %s from a backup; delete it only to start fresh knowingly (every input is read and every alert sent again)", path))},
				skipRest("the store is empty")...)
		case err != nil:
			return append([]Result{res("schema", Fail, err.Error(),
				fmt.Sprintf("the user that runs breakglass must read and write %s and its directory (`ls -l %s`); if it is not an SQLite file, store.path names the wrong file", path, path))},
				skipRest("the store cannot be read")...)
		}
	}

	last := func(vs []int) int {
		if len(vs) == 0 {
			return 0
		}
		return vs[len(vs)-1]
	}
	var pending, unknown []string
	for _, v := range known {
		if !slices.Contains(applied, v) {
			pending = append(pending, fmt.Sprintf("%04d", v))
		}
	}
	for _, v := range applied {
		if !slices.Contains(known, v) {
			unknown = append(unknown, fmt.Sprintf("%04d", v))
		}
	}
	switch {
	case len(unknown) > 0:
		return append([]Result{res("schema", Fail,
			fmt.Sprintf("ahead: the store (%s) has %s this binary does not know (%s): a newer breakglass has opened it, and this one (%s) would misread it",
				where, plural(len(unknown), "migration"), strings.Join(unknown, ", "), version.Version),
			"run the newer breakglass binary here (`breakglass version` shows this one); never run an older binary on a newer store: serve refuses to")},
			skipRest("the store is newer than this binary")...)
	case len(applied) == 0:
		return append([]Result{res("schema", Warn, fmt.Sprintf("the store (%s) has no schema yet: serve creates it at its first start", where),
			"if serve has run before, the configuration names the wrong database: check store.path or store.dsn (search_path)")},
			skipRest("no schema yet")...)
	case len(pending) > 0:
		return append([]Result{res("schema", Fail,
			fmt.Sprintf("stale: %s pending (%s): the store (%s) is at schema %04d, this binary at %04d; an older breakglass last opened it",
				plural(len(pending), "migration"), strings.Join(pending, ", "), where, last(applied), last(known)),
			"back the store up first (SQLite: stop serve, then `cp` the file; PostgreSQL: `pg_dump`), then start this binary's "+
				"`breakglass serve` once: it applies the pending migrations at start. doctor does not migrate")},
			skipRest("the store is stale")...)
	}
	out := []Result{res("schema", OK, fmt.Sprintf("current: %s at schema %04d (%s)", where, last(known), plural(len(known), "migration")), "")}

	e.progress("opening the store (an integrity check reads the whole file)")
	st, err := backend.Open(ctx, cfg.Store)
	if err != nil {
		return append(out, res("writable", Fail, err.Error(),
			"fix what the error names; a read-only or full disk must be freed, a corrupted file restored from a backup"),
			res("evidence chain", Skip, "the store cannot be opened", ""))
	}
	defer st.Close()
	if err := st.Writable(ctx); err != nil {
		out = append(out, res("writable", Fail, err.Error(),
			"free disk space or fix the permissions the error names: serve cannot store an alert it cannot write, and refuses to start"))
	} else {
		out = append(out, res("writable", OK, "a test write committed, and there is room for more", ""))
	}

	e.progress("verifying the evidence chain")
	heads, herr := evidence.LoadHeads(cfg.Evidence.HeadsFile)
	var refs []evidence.HeadRef
	for _, h := range heads {
		refs = append(refs, h.Ref())
	}
	r, err := evidence.Verify(ctx, st, refs)
	verifyFix := fmt.Sprintf("run `breakglass evidence verify -c %s` for the full report; treat a break as tampering: "+
		"keep this copy for investigation and restore the store from a backup taken before the break", cfg.Path)
	switch {
	case err != nil:
		out = append(out, res("evidence chain", Fail, err.Error(), verifyFix))
	case !r.OK():
		out = append(out, res("evidence chain", Fail, "broken: "+r.Break.Error(), verifyFix))
	default:
		detail := fmt.Sprintf("intact: %d log entries verify", r.Entries)
		switch {
		case herr == nil:
			detail += fmt.Sprintf(", against %s", plural(r.HeadsChecked, "published head"))
		case errors.Is(herr, fs.ErrNotExist):
			detail += " (no published heads yet: serve writes them to evidence.heads_file)"
		default:
			out = append(out, res("evidence chain", Warn, detail+"; the heads file cannot be read: "+herr.Error(),
				fmt.Sprintf("run `breakglass evidence verify -c %s`: it names the damaged line of %s", cfg.Path, cfg.Evidence.HeadsFile)))
			return out
		}
		out = append(out, res("evidence chain", OK, detail, ""))
	}
	return out
}

// dirWritable says whether serve could create a file in dir (or the
// directories up to it): a file is created and removed in the nearest
// directory that exists.
func dirWritable(dir string) error {
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err == nil {
			if !fi.IsDir() {
				return fmt.Errorf("%s is not a directory", d)
			}
			f, err := os.CreateTemp(d, ".breakglass-doctor-*")
			if err != nil {
				return fmt.Errorf("cannot write in %s: %w", d, errors.Unwrap(err))
			}
			f.Close()
			return os.Remove(f.Name())
		}
		if !errors.Is(err, fs.ErrNotExist) || filepath.Dir(d) == d {
			return err
		}
	}
}
