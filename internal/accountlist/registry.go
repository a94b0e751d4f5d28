package accountlist

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"

	"breakglass/internal/entra"
)

// Format is one tool's way of writing the break-glass list.
type Format struct {
	// Name is what --format and --from take, e.g. "maester".
	Name string
	// Title says what the output is, for help text.
	Title string
	// Export writes the list; nil when the format cannot be written.
	// accounts is the configured list, users and groups, in order; an
	// error names an entry as accounts[i]. dir may be nil.
	Export func(w io.Writer, accounts []entra.Account, dir Directory) error
	// Import reads a list; nil when the format cannot be read. name is the
	// file name used in error messages.
	Import func(name string, data []byte) (*Imported, error)
}

// Imported is a list read back from another tool's file.
type Imported struct {
	// Accounts are the entries in file order, each checked (ids are GUIDs,
	// UPNs have the shape user@domain) and none listed twice.
	Accounts []entra.Account
	// Notes are what a person must check before adopting the list, one
	// sentence each, e.g. an account that only some policies exclude.
	// Notes[i] concerns Accounts[NoteFor[i]], or the whole file when -1.
	Notes   []string
	NoteFor []int
}

func (im *Imported) note(i int, format string, args ...any) {
	im.Notes = append(im.Notes, fmt.Sprintf(format, args...))
	im.NoteFor = append(im.NoteFor, i)
}

var (
	mu      sync.RWMutex
	formats = map[string]Format{}
)

// Register adds a format. It panics on an empty or duplicate name or a
// format that can neither export nor import: programming errors any test
// finds.
func Register(f Format) {
	mu.Lock()
	defer mu.Unlock()
	switch _, dup := formats[f.Name]; {
	case f.Name == "":
		panic("accountlist: format without a name")
	case dup:
		panic("accountlist: format " + f.Name + " registered twice")
	case f.Export == nil && f.Import == nil:
		panic("accountlist: format " + f.Name + " can neither export nor import")
	}
	formats[f.Name] = f
}

// Lookup returns the format with the name.
func Lookup(name string) (Format, bool) {
	mu.RLock()
	defer mu.RUnlock()
	f, ok := formats[name]
	return f, ok
}

// Exporters lists the formats that can be written, sorted.
func Exporters() []string { return names(func(f Format) bool { return f.Export != nil }) }

// Importers lists the formats that can be read, sorted.
func Importers() []string { return names(func(f Format) bool { return f.Import != nil }) }

func names(keep func(Format) bool) []string {
	mu.RLock()
	defer mu.RUnlock()
	var out []string
	for n, f := range formats {
		if keep(f) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// entryName names a configured entry in an export error the way config
// errors do, with what identifies it.
func entryName(i int, a entra.Account) string {
	var what string
	switch {
	case a.IsGroup():
		what = "group " + a.Group
	case a.ID != "" && a.UPN != "":
		what = a.UPN + ", id " + a.ID
	case a.UPN != "":
		what = a.UPN
	default:
		what = "id " + a.ID
	}
	return "accounts[" + strconv.Itoa(i) + "] (" + what + ")"
}

// oneLine makes a label safe for a one-line comment or cell: a name from
// the environment may hold line breaks.
func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || r == 0x85 || r == 0x2028 || r == 0x2029 }), " ")
}
