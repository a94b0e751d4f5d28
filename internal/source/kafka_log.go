package source

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"breakglass/internal/secret"
)

// redactor removes a secret, and the parts of it that are secrets on their
// own, from text that may reach a log or an alert: franz-go's log lines
// and errors, and whatever a broker echoes back in them.
type redactor struct {
	secrets []string // longest first, so a part never hides a longer match
}

// newRedactor redacts password and, when it is an Event Hubs connection
// string, its SharedAccessKey and SharedAccessSignature values, which are
// the secret parts and may be quoted alone.
func newRedactor(password string) *redactor {
	r := &redactor{}
	if password == "" {
		return r
	}
	r.secrets = append(r.secrets, password)
	for part := range strings.SplitSeq(password, ";") {
		k, v, ok := strings.Cut(part, "=")
		if !ok || len(v) < 8 {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "sharedaccesskey", "sharedaccesssignature":
			r.secrets = append(r.secrets, v)
		}
	}
	return r
}

func (r *redactor) string(s string) string {
	for _, sec := range r.secrets {
		s = strings.ReplaceAll(s, sec, secret.Redacted)
	}
	return s
}

// err returns err with its text redacted, keeping it matchable with
// errors.Is when nothing had to be removed.
func (r *redactor) err(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if red := r.string(msg); red != msg {
		return errors.New(red)
	}
	return err
}

// kgoLogger hands franz-go's log lines to slog, redacted. franz-go logs at
// debug what it does, at info and warn what goes wrong and recovers; its
// debug lines are kept at debug.
type kgoLogger struct {
	log *slog.Logger
	red *redactor
}

func (l *kgoLogger) Level() kgo.LogLevel {
	// Ask slog which levels it keeps, so that franz-go does not build
	// lines nobody reads.
	switch {
	case l.log.Enabled(context.Background(), slog.LevelDebug):
		return kgo.LogLevelDebug
	case l.log.Enabled(context.Background(), slog.LevelInfo):
		return kgo.LogLevelInfo
	case l.log.Enabled(context.Background(), slog.LevelWarn):
		return kgo.LogLevelWarn
	}
	return kgo.LogLevelError
}

func (l *kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	lv := slog.LevelDebug
	switch level {
	case kgo.LogLevelError:
		lv = slog.LevelError
	case kgo.LogLevelWarn:
		lv = slog.LevelWarn
	case kgo.LogLevelInfo:
		lv = slog.LevelInfo
	}
	args := make([]any, 0, len(keyvals)+2)
	for i := 0; i+1 < len(keyvals); i += 2 {
		k, _ := keyvals[i].(string)
		args = append(args, "kafka_"+k, l.red.string(fmt.Sprint(keyvals[i+1])))
	}
	l.log.Log(context.Background(), lv, "kafka: "+l.red.string(msg), args...)
}
