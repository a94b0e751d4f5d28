// Package notify delivers alerts to people and systems. Channels (console,
// webhook; later email, SMS, Teams, Slack, PagerDuty) implement Notifier; the
// Dispatcher drains the store's durable outbox under leases, one queue per
// named target, retrying with exponential backoff and jitter, so an alert
// that was stored is delivered at least once even across crashes. What
// cannot be delivered (target gone, failing past the give-up time) is
// dead-lettered and reported as a bg.notify alert through the other
// targets, never dropped in silence.
package notify

import (
	"context"
	"errors"
	"time"

	"breakglass/internal/alert"
	"breakglass/internal/store"
)

// Notification is one alert in one status, as sent to a channel.
type Notification struct {
	// ID is stable across retries and restarts and the same on every
	// channel; the keys receivers dedupe on are made from it (DeliveryKey,
	// or the alert id for PagerDuty and Opsgenie).
	ID     string
	Status string // "firing" or "resolved"
	Alert  alert.Alert
	// Attempt counts from 1.
	Attempt int
	Sent    time.Time
	// Coalesced is set when a rate limit held deliveries to a channel back
	// (see Limited): every notification this one message carries, oldest
	// first, at least two, this one's Alert among them. Alert is then the
	// lead (the most severe, firing before resolved), Status is firing if
	// any carried one is, and ID is stable for the set carried. Only
	// channels that implement Limited ever see it.
	Coalesced []Notification
}

// Notifier sends one notification. A returned error means "not delivered";
// the dispatcher retries it later (a Permanent error at the longest
// backoff) until the give-up time. A Notifier that bounds its own sends
// should also implement Bounded.
type Notifier interface {
	Notify(ctx context.Context, n Notification) error
}

// NotificationID is the ID the keys receivers dedupe on are made from
// (Notification.ID). The firing notification
// reuses the alert ID, which is itself stable per (record, rule), so a
// rescan or a retry after a crash is recognisable as the same message; the
// resolution is a different message and so gets its own ID.
func NotificationID(alertID, status string) string {
	if status == store.StatusResolved {
		return alertID + "-resolved"
	}
	return alertID
}

// DeliveryKey is the idempotency key of one notification on one channel
// (target "group/channel"): the same on every retry and restart of that
// delivery, different on each channel the notification goes to, so a
// receiver that dedupes on it never drops another channel's delivery of
// the same alert (another group's webhook into the same endpoint, or the
// escalation to it). It is what email's Message-ID is made of, before the
// @domain; the webhook's Idempotency-Key header and the SMS gateway's .ID
// are it. Keys that name the alert in the provider (PagerDuty's dedup_key,
// Opsgenie's alias, the common schema's alertId) stay per alert: see
// README, "Idempotency keys". Both parts are kept when they are a safe
// dot-atom and replaced by a digest otherwise, so the key is printable
// ASCII whatever the names.
func DeliveryKey(notificationID, target string) string {
	return msgIDPart(notificationID) + "." + msgIDPart(target)
}

// permanent wraps errors that retrying cannot fix (a 400 from a webhook
// that rejects our payload).
type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

// Permanent marks err as not worth retrying. Permanent(nil) is nil, so a
// channel can wrap its result unconditionally.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanent{err}
}

// IsPermanent reports whether err, or any error it wraps, was marked
// Permanent.
func IsPermanent(err error) bool {
	var p permanent
	return errors.As(err, &p)
}

// retryAfter carries the delay a receiver asked for (HTTP Retry-After), so
// the dispatcher backs off exactly as long as a throttling receiver wants
// instead of guessing.
type retryAfter struct {
	error
	after time.Duration
}

func (r *retryAfter) Unwrap() error { return r.error }

// WithRetryAfter attaches the delay a receiver requested before the next
// attempt. A delay of zero or less is ignored (err is returned as is), so a
// receiver cannot make the dispatcher spin.
func WithRetryAfter(err error, d time.Duration) error {
	if err == nil || d <= 0 {
		return err
	}
	return &retryAfter{err, d}
}

// RetryAfter returns the delay attached to err by WithRetryAfter, if any.
func RetryAfter(err error) (time.Duration, bool) {
	var r *retryAfter
	if errors.As(err, &r) {
		return r.after, true
	}
	return 0, false
}
