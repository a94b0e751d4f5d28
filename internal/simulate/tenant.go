package simulate

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strings"

	"breakglass/internal/entra"
)

// demoTenantID is the tenant the demo accounts live in. It is fixed so that
// resourceId paths stay stable across runs and seeds.
const demoTenantID = "8f3c2d1e-5a4b-4c7d-9e0f-1a2b3c4d5e6f"

const demoDomain = "contoso.onmicrosoft.com"

// DemoAccounts returns two cloud-only break-glass accounts of the demo
// tenant, the way Microsoft recommends creating them: on the
// *.onmicrosoft.com domain, not synchronised, with stable object ids.
func DemoAccounts() []entra.Account {
	return []entra.Account{
		{ID: "6f1c9a2e-4b7d-4e39-9a51-2d8c3f0b7e14", UPN: "bg-admin01@" + demoDomain, Name: "Emergency Access 01"},
		{ID: "c2e8d3b5-91a4-4f6e-8b07-5a3d6e9f1c28", UPN: "bg-admin02@" + demoDomain, Name: "Emergency Access 02"},
	}
}

// guid is a random (version 4) GUID kept as bytes so that records can carry
// several without allocating.
type guid [16]byte

func newGUID(r *rand.Rand) guid {
	var g guid
	a, b := r.Uint64(), r.Uint64()
	for i := 0; i < 8; i++ {
		g[i] = byte(a >> (8 * i))
		g[8+i] = byte(b >> (8 * i))
	}
	g[6] = g[6]&0x0f | 0x40
	g[8] = g[8]&0x3f | 0x80
	return g
}

func (g guid) append(b []byte) []byte {
	for i, c := range g {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
	}
	return b
}

func (g guid) String() string { return string(g.append(make([]byte, 0, 36))) }

// stableGUID derives a GUID from a name, for accounts configured by UPN only:
// records always carry an object id, and it must not change between runs.
func stableGUID(name string) string {
	h := fnv.New128a()
	h.Write([]byte(strings.ToLower(name)))
	var g guid
	copy(g[:], h.Sum(nil))
	g[6] = g[6]&0x0f | 0x40
	g[8] = g[8]&0x3f | 0x80
	return g.String()
}

// weighted picks indexes with fixed relative weights.
type weighted struct {
	cum   []int
	total int
}

func newWeighted(ws ...int) weighted {
	w := weighted{cum: make([]int, len(ws))}
	for i, x := range ws {
		w.total += x
		w.cum[i] = w.total
	}
	return w
}

func (w weighted) pick(r *rand.Rand) int {
	if w.total == 0 {
		return -1
	}
	x := r.IntN(w.total)
	for i, c := range w.cum {
		if x < c {
			return i
		}
	}
	return len(w.cum) - 1
}

type device struct {
	id        string // empty for unregistered devices, as Entra writes it
	name      string
	os        string
	browser   string
	compliant bool
	managed   bool
	trust     string
	uaBrowser string
}

type user struct {
	id, upn, name string
	first, last   string
	guest, admin  bool
	home          *city
	ips           [3]string // office, home, mobile
	desk, mobile  device
}

type servicePrincipal struct {
	name, appID, spID string
	cred              string
	credKeyID         string
	thumb             string
	res               []*resource
	region            [2]byte
	mi                bool
	msiType           string
	msiResource       string
	ips               [4]string
}

// bgIdentity is a break-glass account as it appears in records, including
// the case variants Entra may write.
type bgIdentity struct {
	acct     entra.Account
	truthID  string // how ground truth names the account: its configured id, else UPN
	id, upn  string
	name     string
	idUpper  string
	upnMixed string
}

// tenant is the synthetic directory every record is drawn from.
type tenant struct {
	id, domain string
	users      []*user
	admins     []*user
	sps        []*servicePrincipal
	mis        []*servicePrincipal
	bg         []*bgIdentity
	policyIDs  []string
	roleObjIDs []string
	groupIDs   []string
	attackIPs  []string
}

func newTenant(r *rand.Rand, accounts []entra.Account) *tenant {
	t := &tenant{id: demoTenantID, domain: demoDomain}
	for _, a := range accounts {
		if _, d, ok := strings.Cut(a.UPN, "@"); ok && d != "" {
			t.domain = strings.ToLower(d)
			break
		}
	}
	if t.domain != demoDomain {
		t.id = stableGUID("tenant:" + t.domain)
	}
	for i, a := range accounts {
		b := &bgIdentity{acct: a, id: strings.ToLower(a.ID), upn: a.UPN, name: a.Name}
		b.truthID = a.ID
		if b.truthID == "" {
			b.truthID = a.UPN
		}
		if b.upn == "" {
			b.upn = fmt.Sprintf("emergency-access%02d@%s", i+1, t.domain)
		}
		if b.id == "" {
			b.id = stableGUID(b.upn)
		}
		if b.name == "" {
			b.name = fmt.Sprintf("Emergency Access %02d", i+1)
		}
		b.idUpper = strings.ToUpper(b.id)
		b.upnMixed = mixCase(b.upn)
		t.bg = append(t.bg, b)
	}

	cityW := make([]int, len(cities))
	for i, c := range cities {
		cityW[i] = c.weight
	}
	cw := newWeighted(cityW...)
	seen := map[string]bool{}
	for _, b := range t.bg {
		seen[strings.ToLower(b.upn)] = true
	}
	const nUsers = 3200
	for i := 0; i < nUsers; i++ {
		u := &user{id: newGUID(r).String()}
		u.first = firstNames[r.IntN(len(firstNames))]
		u.last = lastNames[r.IntN(len(lastNames))]
		u.name = u.first + " " + u.last
		u.home = cities[cw.pick(r)]
		local := strings.ToLower(u.first + "." + strings.ReplaceAll(u.last, "'", ""))
		switch {
		case i%37 == 5: // guests invited from partner tenants
			u.guest = true
			gd := guestDomains[r.IntN(len(guestDomains))]
			local = strings.ReplaceAll(local+"@"+gd, "@", "_") + "#EXT#"
		case i < 20: // separate privileged admin accounts
			u.admin = true
			local = "adm-" + local
			u.name += " (Admin)"
		}
		upn := local + "@" + t.domain
		for n := 2; seen[upn]; n++ {
			upn = fmt.Sprintf("%s%d@%s", strings.TrimSuffix(local, "#EXT#"), n, t.domain)
			if u.guest {
				upn = strings.Replace(upn, "@", "#EXT#@", 1)
			}
		}
		seen[upn] = true
		if !u.guest && r.IntN(20) == 0 { // older accounts created with capitals
			upn = strings.ToUpper(upn[:1]) + upn[1:]
		}
		u.upn = upn
		u.ips = [3]string{
			fmt.Sprintf("%d.%d.%d.%d", u.home.prefix[0], u.home.prefix[1], u.home.prefix[2], 10+r.IntN(4)),
			homeIP(r, u.home),
			mobileIP(r),
		}
		u.desk = desktopDevice(r, u)
		u.mobile = mobileDevice(r)
		t.users = append(t.users, u)
		if u.admin {
			t.admins = append(t.admins, u)
		}
	}

	for _, n := range spNames {
		sp := &servicePrincipal{name: n, appID: newGUID(r).String(), spID: newGUID(r).String(),
			credKeyID: newGUID(r).String(), region: azureRegionIPs[r.IntN(len(azureRegionIPs))]}
		switch r.IntN(4) {
		case 0, 1:
			sp.cred = "clientSecret"
		case 2:
			sp.cred = "certificate"
			sp.thumb = strings.ToUpper(fmt.Sprintf("%016x%016x%08x", r.Uint64(), r.Uint64(), r.Uint32()))
		default:
			sp.cred = "federatedIdentityCredential"
		}
		sp.res = []*resource{resGraph, resGraph, resAzureMgmt, resKeyVault, resExchange, resSharePoint}[r.IntN(3+r.IntN(4)):]
		sp.ips = workloadIPs(r, sp.region)
		t.sps = append(t.sps, sp)
	}
	sub := newGUID(r).String()
	for _, n := range miNames {
		mi := &servicePrincipal{name: n, appID: newGUID(r).String(), spID: newGUID(r).String(), mi: true,
			region: azureRegionIPs[r.IntN(len(azureRegionIPs))]}
		mi.msiType = "SystemAssigned"
		provider := "Microsoft.Web/sites"
		switch {
		case strings.HasPrefix(n, "vm-"):
			provider = "Microsoft.Compute/virtualMachines"
		case strings.HasPrefix(n, "aks-"):
			provider = "Microsoft.ContainerService/managedClusters"
		case strings.HasPrefix(n, "logic-"):
			provider = "Microsoft.Logic/workflows"
		case strings.HasPrefix(n, "adf-"):
			provider = "Microsoft.DataFactory/factories"
		case strings.HasPrefix(n, "automation-"):
			provider = "Microsoft.Automation/automationAccounts"
		case strings.HasPrefix(n, "apim-"):
			provider = "Microsoft.ApiManagement/service"
		case strings.HasPrefix(n, "id-"):
			provider = "Microsoft.ManagedIdentity/userAssignedIdentities"
			mi.msiType = "UserAssigned"
		}
		mi.msiResource = fmt.Sprintf("/subscriptions/%s/resourcegroups/rg-%s/providers/%s/%s", sub, n, provider, n)
		mi.res = []*resource{resKeyVault, resStorage, resAzureMgmt, resGraph, resSQL}[r.IntN(3):]
		mi.ips = workloadIPs(r, mi.region)
		t.mis = append(t.mis, mi)
	}

	for range caPolicies {
		t.policyIDs = append(t.policyIDs, newGUID(r).String())
	}
	for range roles {
		t.roleObjIDs = append(t.roleObjIDs, newGUID(r).String())
	}
	for range groupNames {
		t.groupIDs = append(t.groupIDs, newGUID(r).String())
	}
	for i := 0; i < 400; i++ {
		c := hostileCities[r.IntN(len(hostileCities))]
		t.attackIPs = append(t.attackIPs, fmt.Sprintf("%d.%d.%d.%d", c.prefix[0], c.prefix[1], r.IntN(256), 1+r.IntN(254)))
	}
	return t
}

func workloadIPs(r *rand.Rand, p [2]byte) [4]string {
	var ips [4]string
	for i := range ips {
		ips[i] = fmt.Sprintf("%d.%d.%d.%d", p[0], p[1], r.IntN(256), 1+r.IntN(254))
	}
	return ips
}

func homeIP(r *rand.Rand, c *city) string {
	if r.IntN(8) == 0 {
		return fmt.Sprintf("2a02:%x:%x:%x::%x", 0xc000+r.IntN(0x3fff), r.IntN(0xffff), r.IntN(0xffff), 1+r.IntN(0xfff))
	}
	return fmt.Sprintf("%d.%d.%d.%d", c.prefix[0], (int(c.prefix[1])+37+r.IntN(60))%256, r.IntN(256), 1+r.IntN(254))
}

func mobileIP(r *rand.Rand) string {
	if r.IntN(4) == 0 {
		return fmt.Sprintf("2607:fb90:%x:%x:%x:%x:%x:%x", r.IntN(0xffff), r.IntN(0xffff), r.IntN(0xffff), r.IntN(0xffff), r.IntN(0xffff), r.IntN(0xffff))
	}
	return fmt.Sprintf("172.%d.%d.%d", 56+r.IntN(8), r.IntN(256), 1+r.IntN(254))
}

func desktopDevice(r *rand.Rand, u *user) device {
	d := device{}
	switch n := r.IntN(10); {
	case n < 7:
		d.os = "Windows10"
		d.name = fmt.Sprintf("LT-%s%04d", strings.ToUpper(u.last[:min(3, len(u.last))]), r.IntN(10000))
		d.id = newGUID(r).String()
		d.managed, d.compliant = true, r.IntN(12) != 0
		d.trust = []string{"Azure AD joined", "Hybrid Azure AD joined"}[r.IntN(2)]
		if r.IntN(2) == 0 {
			d.browser = "Edge 125.0.0"
			d.uaBrowser = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Safari/537.36 Edg/125.0.0.0"
		} else {
			d.browser = "Chrome 125.0.0"
			d.uaBrowser = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Safari/537.36"
		}
	case n < 9:
		d.os = "MacOs"
		d.name = fmt.Sprintf("MBP-%s", strings.ToUpper(u.first[:min(4, len(u.first))]))
		if r.IntN(3) != 0 {
			d.id = newGUID(r).String()
			d.managed, d.compliant, d.trust = true, r.IntN(10) != 0, "Azure AD registered"
		}
		d.browser = "Safari 17.4"
		d.uaBrowser = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15"
	default: // personal machine, unregistered
		d.os = "Windows10"
		d.browser = "Firefox 126.0"
		d.uaBrowser = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:126.0) Gecko/20100101 Firefox/126.0"
	}
	return d
}

func mobileDevice(r *rand.Rand) device {
	if r.IntN(3) == 0 {
		d := device{os: "Android", browser: "Chrome Mobile 125.0.6422",
			uaBrowser: "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.6422.113 Mobile Safari/537.36"}
		if r.IntN(2) == 0 {
			d.id, d.name, d.trust = newGUID(r).String(), "SM-S918B", "Azure AD registered"
		}
		return d
	}
	d := device{os: "Ios", browser: "Mobile Safari 17.5",
		uaBrowser: "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"}
	if r.IntN(2) == 0 {
		d.id, d.name, d.trust = newGUID(r).String(), "iPhone", "Azure AD registered"
		d.managed, d.compliant = true, true
	}
	return d
}

// mixCase capitalises the start of every word of a UPN, the way people type
// them into the portal; Entra stores and compares them case-insensitively.
func mixCase(s string) string {
	b := []byte(s)
	up := true
	for i, c := range b {
		if up && c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
		up = c == '.' || c == '-' || c == '_' || c == '@'
	}
	out := string(b)
	if out == s {
		return strings.ToUpper(s)
	}
	return out
}

// appUA is the user agent a rich client sends; browser apps use the
// device's browser instead.
var appUA = map[string]string{
	"Microsoft Office":                "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17628; Pro)",
	"Microsoft Outlook":               "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17628; Pro)",
	"Microsoft Teams":                 "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0 Teams/24124.2315.2911.3357/49",
	"OneDrive SyncEngine":             "Microsoft SkyDriveSync 24.086.0428.0003 ship; Windows NT 10.0 (22631)",
	"Microsoft Authentication Broker": "Windows-AzureAD-Authentication-Provider/1.0",
	"Windows Sign In":                 "Windows-AzureAD-Authentication-Provider/1.0",
	"Outlook Mobile":                  "Outlook-iOS/2.0",
	"Microsoft Intune Company Portal": "CompanyPortal/5.0.6096.0 (iOS 17.5)",
	"Microsoft Azure CLI":             "python/3.11.8 (Windows-10-10.0.22631-SP0) AZURECLI/2.61.0 (MSI)",
	"Microsoft Azure PowerShell":      "Mozilla/5.0 (Windows NT 10.0; Microsoft Windows 10.0.22631; en-US) PowerShell/7.4.2",
	"Microsoft Graph PowerShell":      "Mozilla/5.0 (Windows NT 10.0; Microsoft Windows 10.0.22631; en-US) PowerShell/7.4.2",
	"Visual Studio Code":              "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Code/1.89.1 Chrome/120.0.6099.291 Electron/28.2.8 Safari/537.36",
}
