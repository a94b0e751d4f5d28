// Package graph is a small typed client for the Microsoft Graph REST API:
// the few read-only endpoints breakglass needs, with paging, throttling,
// retries and errors that say which permission or licence is missing. It
// deliberately does not use the Graph SDK, and it can only read: the client
// issues GET requests to Graph and nothing else.
package graph

import (
	"context"
	"encoding/json"
)

// Version is the Graph API version of one call.
type Version string

const (
	V1   Version = "v1.0"
	Beta Version = "beta"
)

// Query holds OData query options. Zero values are left out.
type Query struct {
	Select  []string
	Filter  string
	Expand  string
	OrderBy string
	Search  string
	Top     int
	Count   bool // $count=true (needs Eventual on directory objects)
	// Eventual sends ConsistencyLevel: eventual, which Graph requires for
	// advanced queries ($count, $search, some $filter forms).
	Eventual bool
}

// Lister is the read interface consumers depend on (collect, the graph
// source); *Client implements it and tests may fake it.
type Lister interface {
	// Get fetches one object into out.
	Get(ctx context.Context, v Version, path string, q Query, out any) error
	// List fetches every page of a collection, following @odata.nextLink,
	// and calls fn with each page's items.
	List(ctx context.Context, v Version, path string, q Query, fn func(items []json.RawMessage) error) error
}
