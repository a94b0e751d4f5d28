package store

import "fmt"

// SchemaTooNewMessage is what every backend says of a store whose schema
// is newer than the binary's (its SchemaTooNewError): its tables may mean
// things this binary does not know, so it is never opened, and the
// operator must learn which binary can open it and how to get back.
func SchemaTooNewMessage(database, known int) string {
	return fmt.Sprintf("database schema version %d is newer than this breakglass supports (%d): "+
		"the store was written by a newer breakglass; upgrade breakglass to that version (or newer), "+
		"or restore a backup made by this version (breakglass store restore --from FILE)", database, known)
}
