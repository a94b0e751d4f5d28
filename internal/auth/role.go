package auth

import (
	"fmt"
	"strings"
)

// Role is what a user or token may do. Each role may do everything the
// roles below it may.
type Role int

// The roles, in increasing power. The zero Role is none: it may do nothing.
const (
	RoleNone      Role = iota
	RoleViewer         // read
	RoleResponder      // acknowledge, review, run drills
	RoleAdmin          // users, tokens, settings
)

// Roles lists the roles' names, in increasing power.
var Roles = []string{"viewer", "responder", "admin"}

func (r Role) String() string {
	if r >= RoleViewer && r <= RoleAdmin {
		return Roles[r-1]
	}
	return "none"
}

// ParseRole reads a role name (case-insensitively).
func ParseRole(s string) (Role, error) {
	for i, n := range Roles {
		if strings.EqualFold(strings.TrimSpace(s), n) {
			return Role(i + 1), nil
		}
	}
	return RoleNone, fmt.Errorf("unknown role %q: use viewer, responder or admin", s)
}

// Allows reports whether r may do what needs need.
func (r Role) Allows(need Role) bool { return need > RoleNone && r >= need }
