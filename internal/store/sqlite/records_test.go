package sqlite_test

import (
	"testing"

	"breakglass/internal/store"
	"breakglass/internal/store/storetest"
)

func TestRecordsSuite(t *testing.T) {
	storetest.Records(t, func(t *testing.T, path string) store.Records { return open(t, path) })
}
