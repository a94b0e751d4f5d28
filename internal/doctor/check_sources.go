package doctor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"breakglass/internal/config"
	"breakglass/internal/daemon"
	"breakglass/internal/source"
)

func init() { register(30, "sources", true, checkSources) }

// maxFilesChecked bounds how many files of a file source are opened.
const maxFilesChecked = 10000

// checkSources checks each source as serve will use it: files readable,
// listen addresses free, brokers reachable with the topic. Graph sources
// are the graph check's.
func checkSources(ctx context.Context, e *Env) []Result {
	var out []Result
	for i, sc := range e.Cfg.Sources {
		item := fmt.Sprintf("sources[%d] %s (%s)", i, sc.Name, sc.Type)
		r := Result{Check: "sources", Item: item}
		switch sc.Type {
		case config.SourceTypeFile:
			r.Status, r.Detail, r.Fix = checkFileSource(sc, i)
		case config.SourceTypeHTTP:
			r.Status, r.Detail, r.Fix = checkListen(ctx, e, sc.Listen, fmt.Sprintf("sources[%d].listen", i))
		case config.SourceTypeEventHubs, config.SourceTypeKafka:
			e.progress("connecting to %s", strings.Join(sc.Brokers(), ","))
			r.Status, r.Detail, r.Fix = checkKafka(ctx, e, sc, i)
		case config.SourceTypeGraph:
			continue // check_graph.go probes what it reads
		default:
			r.Status, r.Detail = Fail, fmt.Sprintf("source type %q is not known to doctor", sc.Type)
			r.Fix = "upgrade breakglass, or remove the source"
		}
		out = append(out, r)
	}
	st, detail, fix := checkListen(ctx, e, e.Cfg.Server.Listen, "server.listen")
	out = append(out, Result{Check: "sources", Item: "server.listen (health, metrics, dashboard)", Status: st, Detail: detail, Fix: fix})
	return out
}

func checkFileSource(sc config.SourceConfig, i int) (Status, string, string) {
	key := fmt.Sprintf("sources[%d].path", i)
	user := serviceUser()
	readFix := fmt.Sprintf("the user that runs breakglass serve (%s) must read them: grant it, e.g. `setfacl -R -m u:%s:rX %s`, or add it to the files' group", user, user, globBase(sc.Path))
	var paths []string
	var unreadable []string
	note := func(p string, err error) {
		if len(unreadable) < 3 {
			unreadable = append(unreadable, fmt.Sprintf("%s (%v)", p, rootCause(err)))
		} else if len(unreadable) == 3 {
			unreadable = append(unreadable, "...")
		}
	}
	if fi, err := os.Stat(sc.Path); err == nil && fi.IsDir() {
		n := 0
		err := filepath.WalkDir(sc.Path, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				note(p, err)
				if d != nil && d.IsDir() && p != sc.Path {
					return filepath.SkipDir
				}
				return nil
			}
			if n++; n > maxFilesChecked {
				return filepath.SkipAll
			}
			if !d.IsDir() {
				paths = append(paths, p)
			}
			return nil
		})
		if err != nil {
			return Fail, fmt.Sprintf("cannot list %s: %v", sc.Path, rootCause(err)), readFix
		}
	} else {
		if !strings.ContainsAny(sc.Path, `*?[\`) {
			if err != nil {
				return Fail, fmt.Sprintf("%s: %v", sc.Path, rootCause(err)),
					fmt.Sprintf("correct %s, or mount or create what it names: serve alerts (bg.source) while it is missing", key)
			}
		}
		dir := globBase(sc.Path)
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			why := "is not a directory"
			if err != nil {
				why = rootCause(err).Error()
			}
			return Fail, fmt.Sprintf("the directory %s of %s: %s", dir, sc.Path, why),
				fmt.Sprintf("correct %s, or mount or create %s: serve alerts (bg.source) while it is missing", key, dir)
		}
		if _, err := os.ReadDir(dir); err != nil {
			return Fail, fmt.Sprintf("cannot list %s: %v", dir, rootCause(err)), readFix
		}
		paths, _ = filepath.Glob(sc.Path) // config checked the pattern
	}
	readable := 0
	for _, p := range paths {
		if len(paths) > maxFilesChecked {
			break
		}
		f, err := os.Open(p)
		if err == nil {
			_, err = f.Read(make([]byte, 1))
			f.Close()
			if errors.Is(err, io.EOF) {
				err = nil
			}
		}
		if err != nil {
			note(p, err)
			continue
		}
		readable++
	}
	switch {
	case len(unreadable) > 0:
		return Fail, fmt.Sprintf("%s of %s cannot be read: %s", plural(len(paths)-readable, "file"), sc.Path, strings.Join(unreadable, ", ")), readFix
	case len(paths) == 0:
		return Warn, fmt.Sprintf("%s matches no file yet: serve reads files as they appear", sc.Path),
			fmt.Sprintf("if logs should be there already, check that the export writes where %s points", key)
	}
	return OK, fmt.Sprintf("%s readable under %s", plural(readable, "file"), sc.Path), ""
}

// checkListen binds addr as serve will. An address in use is a failure
// unless a breakglass answers there (serve running, as expected on a
// live host): a warning then.
func checkListen(ctx context.Context, e *Env, addr, key string) (Status, string, string) {
	if addr == "" {
		return Skip, key + " is not set", ""
	}
	l, err := net.Listen("tcp", addr)
	if err == nil {
		l.Close()
		return OK, addr + " is free for serve to listen on", ""
	}
	_, port, _ := net.SplitHostPort(addr)
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		if who := answersHealth(ctx, e, addr); who != "" {
			return Warn, fmt.Sprintf("%s is in use, by a server that answers %s: breakglass serve is probably running", addr, who),
				fmt.Sprintf("nothing to do if serve runs; otherwise see who holds it: `ss -ltnp 'sport = :%s'`", port)
		}
		return Fail, fmt.Sprintf("%s is in use by another program: serve could not start", addr),
			fmt.Sprintf("find it with `ss -ltnp 'sport = :%s'` and stop it, or change %s", port, key)
	case errors.Is(err, syscall.EACCES):
		return Fail, fmt.Sprintf("not allowed to listen on %s (ports below 1024 need privilege)", addr),
			fmt.Sprintf("use a port above 1023 in %s, or give the unit AmbientCapabilities=CAP_NET_BIND_SERVICE", key)
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return Fail, fmt.Sprintf("%s is not an address of this machine", addr),
			fmt.Sprintf("use an address this machine has (`ip -br addr`), or 0.0.0.0, in %s", key)
	}
	return Fail, fmt.Sprintf("cannot listen on %s: %v", addr, rootCause(err)), "correct " + key
}

// answersHealth reports which health endpoint of a breakglass answers at
// addr ("" if none): /healthz on server.listen; the ingest listener
// answers 405 to a GET of /ingest.
func answersHealth(ctx context.Context, e *Env, addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	base := "http://" + net.JoinHostPort(host, port)
	for _, path := range []string{"/healthz", source.DefaultHTTPPath} {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		req, err := http.NewRequestWithContext(cctx, http.MethodGet, base+path, nil)
		if err != nil {
			cancel()
			return ""
		}
		resp, err := e.Opts.HTTP.Do(req)
		cancel()
		if err != nil {
			continue
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		if (path == "/healthz" && resp.StatusCode == http.StatusOK) ||
			(path == source.DefaultHTTPPath && resp.StatusCode == http.StatusMethodNotAllowed) {
			return path
		}
	}
	return ""
}

func checkKafka(ctx context.Context, e *Env, sc config.SourceConfig, i int) (Status, string, string) {
	k, err := daemon.KafkaSource(sc, nil)
	if err != nil {
		return Fail, err.Error(), fmt.Sprintf("correct sources[%d]", i)
	}
	pctx, cancel := e.timeout(ctx)
	defer cancel()
	brokers := strings.Join(sc.Brokers(), ",")
	if err := k.Probe(pctx); err != nil {
		if errors.Is(err, source.ErrNoTopic) {
			what := "the topic"
			if sc.Type == config.SourceTypeEventHubs {
				what = "the event hub (Event Hubs namespace → Entities → Event Hubs lists them)"
			}
			return Fail, err.Error(), fmt.Sprintf("correct sources[%d].topic to the name of %s, or create it", i, what)
		}
		fix := fmt.Sprintf("check sources[%d].bootstrap, tls and sasl, and that this machine reaches the brokers (`nc -vz HOST PORT`)", i)
		if sc.Type == config.SourceTypeEventHubs {
			fix = fmt.Sprintf("check sources[%d].bootstrap (<namespace>.servicebus.windows.net:9093), that this machine reaches port 9093 "+
				"(`nc -vz HOST 9093`), and sasl.password: the connection string of a shared access policy with Listen on the event hub", i)
		}
		return Fail, err.Error(), fix
	}
	return OK, fmt.Sprintf("signed in to %s; topic %s exists (the consumer group was not joined)", brokers, sc.Topic), ""
}

// globBase is the directory part of a pattern before its first wildcard.
func globBase(p string) string {
	i := strings.IndexAny(p, `*?[\`)
	if i < 0 {
		return filepath.Dir(p)
	}
	return filepath.Dir(p[:i+1])
}

// rootCause is a path error's cause, so that the path is named once.
func rootCause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err
	}
	return err
}

// serviceUser names the user doctor runs as, which should be serve's.
func serviceUser() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return fmt.Sprintf("uid %d", os.Getuid())
}
