// Package apierr is the one definition of the JSON API's error shape,
// {"error": {"code", "message", "field", "line", "col"}}, shared by the API
// (internal/api) and the authentication in front of it (internal/auth), so
// a client reads one shape whichever of them refused the request.
package apierr

// ErrorBody is every API error's shape.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the error itself: a stable code for programs and a
// message for people. Field names the query parameter or body field at
// fault, when one is; Line and Col place a query error in the query's
// text (1-based).
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
	Line    int    `json:"line,omitempty"`
	Col     int    `json:"col,omitempty"`
}
