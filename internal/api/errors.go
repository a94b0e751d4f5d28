package api

import (
	"errors"
	"net/http"

	"breakglass/internal/apierr"
	"breakglass/internal/store"
)

// Error codes: stable, for programs (the message is for people and may
// change).
const (
	CodeBadRequest       = "bad_request"
	CodeUnauthorized     = "unauthorized"
	CodeForbidden        = "forbidden"
	CodeNotFound         = "not_found"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeConflict         = "conflict"
	CodeInvalidCursor    = "invalid_cursor"
	CodeInternal         = "internal"
	CodeUnavailable      = "unavailable"
)

// ErrorBody and ErrorDetail are the error shape (package apierr owns it).
type (
	ErrorBody   = apierr.ErrorBody
	ErrorDetail = apierr.ErrorDetail
)

// WriteError writes an error in the API's shape (for the authorizer and
// other handlers mounted beside the API).
func WriteError(w http.ResponseWriter, status int, code, msg string) {
	writeError(w, status, code, msg)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, ErrorBody{Error: ErrorDetail{Code: code, Message: msg}})
}

func fieldError(w http.ResponseWriter, field, msg string) {
	writeJSON(w, http.StatusBadRequest, ErrorBody{Error: ErrorDetail{Code: CodeBadRequest, Message: field + ": " + msg, Field: field}})
}

// storeError answers a store failure: not found and bad cursors are the
// caller's; anything else is ours, said without internals (a store path
// or SQL text is not the caller's business).
func (s *Server) storeError(w http.ResponseWriter, what string, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, CodeNotFound, what+" not found")
	case errors.Is(err, store.ErrInvalidCursor):
		writeJSON(w, http.StatusBadRequest, ErrorBody{Error: ErrorDetail{Code: CodeInvalidCursor, Message: "cursor: not one this API issued (start again without it)", Field: "cursor"}})
	default:
		writeError(w, http.StatusInternalServerError, CodeInternal, "reading "+what+" failed; the daemon's log says why")
	}
}
