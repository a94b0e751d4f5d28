package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
)

// Headers of a webhook request.
//
// A receiver verifies a signed request like this (any language):
//
//  1. Read X-Breakglass-Timestamp (Unix seconds) and reject the request if
//     it is more than 5 minutes from the receiver's clock: a captured
//     request cannot be replayed later.
//  2. Compute HMAC-SHA256 with the configured hmac_secret as the key over
//     the bytes  <timestamp> "." <raw request body>  (the body exactly as
//     received, before any JSON parsing), hex-encoded in lower case.
//  3. Compare "sha256=" + that hex with X-Breakglass-Signature in constant
//     time (hmac.compare_digest, crypto.timingSafeEqual, hmac.Equal).
//     Reject on mismatch.
//  4. Dedupe on Idempotency-Key: retries of one message carry the same key,
//     and another channel's delivery of it (another group's webhook to the
//     same receiver) carries another (DeliveryKey).
//
// The timestamp is inside the signed bytes, so changing it breaks the
// signature.
const (
	IdempotencyHeader = "Idempotency-Key"
	TimestampHeader   = "X-Breakglass-Timestamp"
	SignatureHeader   = "X-Breakglass-Signature"
)

// Sign is the value of SignatureHeader for body sent at timestamp ts (the
// value of TimestampHeader): "sha256=" + hex(HMAC-SHA256(key, ts + "." + body)).
func Sign(key []byte, ts string, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}
