package graph

// PermissionsFor names the application permission a GET of endpoint (a
// path under the version, such as /auditLogs/signIns) with rawQuery
// needs, from the one table the client's 403 hints use: "A and B" means
// both, "A (or B)" either. Empty when the endpoint is not in the table.
func PermissionsFor(endpoint, rawQuery string) string {
	perms := ""
	for _, p := range permissions {
		if matchPrefix(endpoint, p.prefix) {
			perms = p.perms
			break
		}
	}
	if perms == "User.Read.All" && selects(rawQuery, "signInActivity") {
		perms = "User.Read.All and AuditLog.Read.All"
	}
	return perms
}
