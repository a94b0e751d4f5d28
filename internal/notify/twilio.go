package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"breakglass/internal/secret"
)

// DefaultTwilioURL is the Twilio REST API base; `url` overrides it for a
// Twilio-compatible provider, a proxy or a test.
const DefaultTwilioURL = "https://api.twilio.com"

// twilioAPI posts to the Twilio REST API (Messages and Calls):
// POST {base}/2010-04-01/Accounts/{sid}/{resource}.json, a form body and
// HTTP basic auth account_sid:auth_token.
//
// Twilio has no idempotency key: a request whose answer was lost (a
// timeout after Twilio accepted it) is retried and the person gets the SMS
// or the call twice. That is the at-least-once contract; a lost page is
// worse than a repeated one.
type twilioAPI struct {
	base  string
	sid   string
	token secret.Secret
	http  *HTTPClient
}

func newTwilioAPI(label, base, sid string, token secret.Secret, env BuildEnv) *twilioAPI {
	secrets := append(BasicAuthSecrets(sid, token.Reveal()), token.Reveal())
	return &twilioAPI{
		base:  strings.TrimRight(base, "/"),
		sid:   sid,
		token: token,
		http:  NewHTTPClient(label, env.HTTP, env.Timeout, secrets...),
	}
}

// twilioResource is the part of a created Message or Call resource that
// proves Twilio accepted it.
type twilioResource struct {
	SID    string `json:"sid"`
	Status string `json:"status"`
}

// twilioError is Twilio's error body.
type twilioError struct {
	Code     int    `json:"code"`
	Message  string `json:"message"`
	MoreInfo string `json:"more_info"`
}

// create POSTs form to resource ("Messages", "Calls") and returns the new
// resource's sid. Twilio answers 201 Created with the resource; any other
// answer, or a 2xx without a sid, is not an accepted message.
func (t *twilioAPI) create(ctx context.Context, resource string, form url.Values) (string, error) {
	endpoint := t.base + "/2010-04-01/Accounts/" + url.PathEscape(t.sid) + "/" + resource + ".json"
	req, _ := http.NewRequest(http.MethodPost, endpoint, nil)
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Accept": {"application/json"}}
	if req != nil {
		req.SetBasicAuth(t.sid, t.token.Reveal())
		h.Set("Authorization", req.Header.Get("Authorization"))
	}
	resp, err := t.http.Do(ctx, HTTPRequest{URL: endpoint, Header: h, Body: []byte(form.Encode())})
	if err != nil {
		return "", err
	}
	return twilioVerdict(t.http, endpoint, resource, resp)
}

// twilioVerdict reads Twilio's answer to a create: the new resource's sid,
// or the classified error.
func twilioVerdict(c *HTTPClient, endpoint, resource string, resp *HTTPResponse) (string, error) {
	if !resp.OK() {
		detail := ""
		var te twilioError
		if json.Unmarshal(resp.Body, &te) == nil && (te.Code != 0 || te.Message != "") {
			detail = "Twilio error: " + te.Message
			if te.Code != 0 {
				detail = "Twilio error " + strconv.Itoa(te.Code) + ": " + te.Message
			}
		}
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			detail += " (check account_sid and auth_token)"
		}
		return "", c.StatusError("", endpoint, resp, strings.TrimSpace(detail))
	}
	var r twilioResource
	if err := json.Unmarshal(resp.Body, &r); err != nil || r.SID == "" {
		// A 2xx that is not a resource (a captive proxy's page): the
		// message is not known to exist, so it is retried.
		return "", c.Errorf("", endpoint, "HTTP %d without a %s sid in the answer: not known to be accepted", resp.StatusCode, strings.TrimSuffix(strings.ToLower(resource), "s"))
	}
	if r.Status == "failed" || r.Status == "canceled" {
		return "", c.Errorf("", endpoint, "%s %s created with status %q", strings.TrimSuffix(strings.ToLower(resource), "s"), r.SID, r.Status)
	}
	return r.SID, nil
}

// e164 is the one rule for a phone number: + then up to 15 digits, the
// first not 0 (ITU-T E.164, the form Twilio requires).
var e164 = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)

// validatePhones reports each number of list that is not E.164.
func validatePhones(report func(field, msg string), key string, list []string) {
	if len(list) == 0 {
		report(key, "at least one phone number is required (E.164, such as +4712345678)")
	}
	seen := map[string]bool{}
	for i, p := range list {
		f := key + "[" + strconv.Itoa(i) + "]"
		switch {
		case !e164.MatchString(p):
			report(f, fmt.Sprintf("%q is not an E.164 phone number: + and the country code, digits only, no spaces (such as +4712345678)", printable([]byte(p), 40)))
		case seen[p]:
			report(f, fmt.Sprintf("%s is listed twice", p))
		}
		seen[p] = true
	}
}

// twilioSID is the shape of an Account or Messaging Service SID.
var twilioSID = regexp.MustCompile(`^[A-Z]{2}[0-9a-fA-F]{32}$`)

// validateTwilio checks the keys shared by Twilio SMS and voice and
// applies the url default.
func validateTwilio(report func(field, msg string), base *string, sid string, token secret.Secret) {
	if *base == "" {
		*base = DefaultTwilioURL
	} else if err := ValidateWebhookURL(*base); err != nil {
		report("url", err.Error())
	}
	switch {
	case sid == "":
		report("account_sid", "required: the Account SID from the Twilio console (AC followed by 32 hex digits)")
	case !twilioSID.MatchString(sid) || !strings.HasPrefix(sid, "AC"):
		report("account_sid", "must be AC followed by 32 hex digits, as the Twilio console shows it")
	}
	if token == "" {
		report("auth_token", "required (use ${VAR} to keep it out of the file)")
	}
}

// fanOut sends to every recipient at once, so one slow number delays no
// other, and remembers per notification which recipients accepted it: a
// retry after a partial failure goes only to the ones that did not, and a
// person is paged twice only when an answer was lost or the daemon
// restarted. The result is nil only when every recipient accepted; it is
// Permanent only when every failure is, and carries the longest
// Retry-After of the failures.
type fanOut struct {
	mu   sync.Mutex
	done map[string]map[string]bool // notification id -> recipient -> accepted
	ids  []string                   // insertion order, to bound done
}

// maxRemembered bounds the partial-success memory. Forgetting only means
// a retry may page an already-paged number again.
const maxRemembered = 1024

func (f *fanOut) send(ctx context.Context, id string, recipients []string, one func(ctx context.Context, to string) error) error {
	f.mu.Lock()
	if f.done == nil {
		f.done = map[string]map[string]bool{}
	}
	accepted := f.done[id]
	var todo []string
	for _, r := range recipients {
		if !accepted[r] {
			todo = append(todo, r)
		}
	}
	f.mu.Unlock()

	errs := make([]error, len(todo))
	var wg sync.WaitGroup
	for i, to := range todo {
		wg.Go(func() { errs[i] = one(ctx, to) })
	}
	wg.Wait()

	f.mu.Lock()
	defer f.mu.Unlock()
	var failed []error
	allPermanent := true
	var after time.Duration
	for i, err := range errs {
		if err == nil {
			if f.done[id] == nil {
				f.done[id] = map[string]bool{}
				f.ids = append(f.ids, id)
				if len(f.ids) > maxRemembered {
					delete(f.done, f.ids[0])
					f.ids = f.ids[1:]
				}
			}
			f.done[id][todo[i]] = true
			continue
		}
		failed = append(failed, err)
		allPermanent = allPermanent && IsPermanent(err)
		if d, ok := RetryAfter(err); ok && d > after {
			after = d
		}
	}
	if len(failed) == 0 {
		// Delivered to everyone: the memory is no longer needed.
		f.forget(id)
		return nil
	}
	msgs := make([]string, len(failed))
	var retryable []error
	for i, e := range failed {
		msgs[i] = e.Error()
		if !IsPermanent(e) {
			retryable = append(retryable, e)
		}
	}
	msg := strings.Join(msgs, "; ")
	if n := len(recipients) - len(failed); n > 0 {
		msg = fmt.Sprintf("%d of %d recipients not reached (the others were): %s", len(failed), len(recipients), msg)
	}
	if allPermanent {
		return Permanent(&fanOutError{msg, failed})
	}
	// Only the retryable causes are wrapped: IsPermanent looks through
	// every wrapped error, and one bad number must not stop the retries
	// for a number that was merely busy.
	return WithRetryAfter(&fanOutError{msg, retryable}, after)
}

func (f *fanOut) forget(id string) {
	delete(f.done, id)
	for i, v := range f.ids {
		if v == id {
			f.ids = append(f.ids[:i], f.ids[i+1:]...)
			break
		}
	}
}

// fanOutError is the failure of some recipients of one notification.
type fanOutError struct {
	msg  string
	errs []error
}

func (e *fanOutError) Error() string   { return e.msg }
func (e *fanOutError) Unwrap() []error { return e.errs }
