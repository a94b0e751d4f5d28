package membership

import (
	"testing"

	"breakglass/internal/entra"
)

// TestListMembersInheritExpect: a group member gets the group entry's
// expect:, so that its sign-ins are judged; a member who is also a
// configured user keeps the user's own.
func TestListMembersInheritExpect(t *testing.T) {
	own := &entra.Expect{Countries: []string{"SE"}}
	grp := &entra.Expect{PhishingResistant: true}
	users := []entra.Account{{ID: "11111111-1111-4111-8111-111111111111", Expect: own}}
	groups := []Group{{ID: "99999999-9999-4999-8999-999999999999", Expect: grp}}
	members := map[string][]Member{groups[0].ID: {
		{ID: "11111111-1111-4111-8111-111111111111", UPN: "bg1@contoso.com"},
		{ID: "22222222-2222-4222-8222-222222222222", UPN: "bg2@contoso.com"},
	}}
	list := List(users, groups, members)
	if len(list) != 3 {
		t.Fatalf("List = %+v, want the user, the member and the group id", list)
	}
	if list[0].Expect != own {
		t.Errorf("configured user's expect = %+v, want its own", list[0].Expect)
	}
	if list[1].ID != "22222222-2222-4222-8222-222222222222" || list[1].Expect != grp {
		t.Errorf("member = %+v, want the group's expect", list[1])
	}
}
