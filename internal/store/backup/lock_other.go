//go:build !unix

package backup

// heldOpen cannot tell on this platform; InUse relies on server.listen.
func heldOpen(string) (bool, error) { return false, nil }
