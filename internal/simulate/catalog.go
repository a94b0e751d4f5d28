package simulate

// The tables below give the synthetic tenant its texture. App and resource
// ids are Microsoft's well-known first-party application ids, so records look
// like the ones a real tenant produces and lookups keyed on them behave the
// same way; everything tenant-specific is generated.

type resource struct {
	name string
	id   string // the resource's application id, as signIn.resourceId carries it
}

var (
	resGraph      = &resource{"Microsoft Graph", "00000003-0000-0000-c000-000000000000"}
	resExchange   = &resource{"Office 365 Exchange Online", "00000002-0000-0ff1-ce00-000000000000"}
	resSharePoint = &resource{"Office 365 SharePoint Online", "00000003-0000-0ff1-ce00-000000000000"}
	resAzureMgmt  = &resource{"Windows Azure Service Management API", "797f4846-ba00-4fd7-ba43-dac1f8f63013"}
	resTeamsSvc   = &resource{"Microsoft Teams Services", "cc15fd57-2c6c-4117-a88c-83b1d56b4bbe"}
	resAADGraph   = &resource{"Windows Azure Active Directory", "00000002-0000-0000-c000-000000000000"}
	resKeyVault   = &resource{"Azure Key Vault", "cfa8b339-82a2-471a-a3c9-0fc0be7a4093"}
	resStorage    = &resource{"Azure Storage", "e406a681-f3d4-42a8-90b6-c2b029497af1"}
	resSQL        = &resource{"Azure SQL Database", "022907d3-0f1b-48f7-badc-1ba6abab6d66"}
	resDRS        = &resource{"Device Registration Service", "01cb2876-7ebd-4aa4-9cc9-d28bd4d359a9"}
	resIntuneEnr  = &resource{"Microsoft Intune Enrollment", "d4ebce55-015a-49b5-a083-c84d1797ae8c"}
)

// clientKind selects user agents and clientAppUsed for an app.
type clientKind uint8

const (
	kindBrowser clientKind = iota
	kindDesktop
	kindMobile
	kindCLI
	kindBroker
)

type app struct {
	name      string
	id        string
	kind      clientKind
	resources []*resource
	weight    int // relative share of user sign-ins
	admin     bool
}

var userApps = []*app{
	{"Microsoft Office", "d3590ed6-52b3-4102-aeff-aad2292ab01c", kindDesktop, []*resource{resExchange, resSharePoint, resGraph}, 14, false},
	{"Microsoft Teams", "1fec8e78-bce4-4aaf-ab1b-5451cc387264", kindDesktop, []*resource{resTeamsSvc, resGraph, resExchange, resSharePoint}, 16, false},
	{"Microsoft Teams Web Client", "5e3ce6c0-2b1f-4285-8d4b-75ee78787346", kindBrowser, []*resource{resTeamsSvc, resGraph}, 3, false},
	{"One Outlook Web", "9199bf20-a13f-4107-85dc-02114787ef48", kindBrowser, []*resource{resExchange, resGraph}, 7, false},
	{"Office 365 Exchange Online", "00000002-0000-0ff1-ce00-000000000000", kindBrowser, []*resource{resExchange}, 4, false},
	{"Microsoft Outlook", "5d661950-3475-41cd-a2c3-d671a3162bc1", kindDesktop, []*resource{resExchange, resGraph}, 8, false},
	{"Outlook Mobile", "27922004-5251-4030-b22d-91ecd9a37ea4", kindMobile, []*resource{resExchange, resGraph}, 5, false},
	{"OneDrive SyncEngine", "ab9b8c07-8f02-4f72-87fa-80105867a763", kindDesktop, []*resource{resSharePoint}, 10, false},
	{"Office 365 SharePoint Online", "00000003-0000-0ff1-ce00-000000000000", kindBrowser, []*resource{resSharePoint}, 4, false},
	{"Microsoft Authentication Broker", "29d9ed98-a469-4536-ade2-f981bc1d605e", kindBroker, []*resource{resDRS, resAADGraph, resGraph}, 8, false},
	{"Windows Sign In", "38aa3b87-a06d-4817-b275-7a316988d93b", kindBroker, []*resource{resDRS, resAADGraph}, 5, false},
	{"Microsoft Edge", "ecd6b820-32c2-49b6-98a6-444530e5a77a", kindBrowser, []*resource{resGraph}, 3, false},
	{"Office365 Shell WCSS-Client", "89bee1f7-5e6e-4d8a-9f3d-ecd601259da7", kindBrowser, []*resource{resGraph, resSharePoint}, 4, false},
	{"My Signins", "19db86c3-b2b9-44cc-b339-36da233a3be2", kindBrowser, []*resource{resGraph}, 1, false},
	{"Microsoft Intune Company Portal", "9ba1a5c7-f17a-4de9-a1f1-6178c8d51223", kindMobile, []*resource{resIntuneEnr, resGraph}, 1, false},
	{"Azure Portal", "c44b4083-3bb0-49c1-b47d-974e53cbdf3c", kindBrowser, []*resource{resAzureMgmt, resGraph}, 3, true},
	{"Microsoft Azure CLI", "04b07795-8ddb-461a-bbee-02f9e1bf7b46", kindCLI, []*resource{resAzureMgmt, resGraph, resKeyVault}, 1, true},
	{"Microsoft Azure PowerShell", "1950a258-227b-4e31-a9cf-717495945fc2", kindCLI, []*resource{resAzureMgmt, resGraph}, 1, true},
	{"Microsoft Graph PowerShell", "14d82eec-204b-4c2f-b7e8-296a70dab67e", kindCLI, []*resource{resGraph}, 1, true},
	{"Visual Studio Code", "aebc6443-996d-45c2-90f0-388ff96faa56", kindDesktop, []*resource{resAzureMgmt, resGraph}, 1, false},
}

// bgApps are what an administrator reaches for in an emergency.
var bgApps = []*app{appByName("Azure Portal"), appByName("Azure Portal"), appByName("Microsoft Graph PowerShell"),
	appByName("Microsoft Azure CLI"), appByName("My Signins"), appByName("Microsoft Office")}

func appByName(n string) *app {
	for _, a := range userApps {
		if a.name == n {
			return a
		}
	}
	panic("simulate: unknown app " + n)
}

// failure is an Entra sign-in error code with the texts the logs carry.
type failure struct {
	code    int
	text    string
	detail  string // status.additionalDetails
	stepMsg string // authenticationStepResultDetail of the failing step
	weight  int
}

var (
	failPassword = &failure{50126, "Error validating credentials due to invalid username or password.",
		"The user didn't enter the right credentials. It's expected to see some number of these errors in your logs due to users making mistakes.",
		"Invalid username or password or Invalid on-premise username or password.", 24}
	failMFARequired = &failure{50074, "Strong Authentication is required.",
		"The user didn't complete the MFA prompt. They may have decided not to authenticate, timed out while doing other work, or has an issue with their authentication setup.",
		"MFA required in Azure AD", 18}
	failMFAReauth = &failure{50076, "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access the resource.",
		"", "MFA required in Azure AD", 10}
	failKMSI = &failure{50140, "This error occurred due to 'Keep me signed in' interrupt when the user was signing-in.",
		"The user is being asked whether to stay signed in. This is an expected part of the login flow.",
		"Redirected to external provider", 15}
	failCABlock = &failure{53003, "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.",
		"", "Blocked by Conditional Access", 8}
	failMFADenied = &failure{500121, "Authentication failed during strong authentication request.",
		"The user didn't complete the MFA prompt. They may have decided not to authenticate, timed out while doing other work, or has an issue with their authentication setup.",
		"Authentication failed during strong authentication request.", 10}
	failExternal = &failure{50158, "External security challenge was not satisfied.", "", "External security challenge was not satisfied.", 4}
	failSIF      = &failure{70044, "The session has expired or is invalid due to sign-in frequency checks by conditional access.",
		"", "The session has expired or is invalid due to sign-in frequency checks by conditional access.", 3}
	failLocked = &failure{50053, "Account is locked because user tried to sign in too many times with an incorrect user ID or password.",
		"", "Account is locked", 1}
	failSecret = &failure{7000215, "Invalid client secret is provided.", "", "", 3}
	failExpSec = &failure{7000222, "The provided client secret keys are expired. Visit the Azure Portal to create new keys for your app, or consider using certificate credentials for added security.", "", "", 1}
	failMIRes  = &failure{500011, "The resource principal named was not found in the tenant.", "", "", 1}
)

var interactiveFailures = []*failure{failPassword, failMFARequired, failMFAReauth, failKMSI, failCABlock, failMFADenied, failExternal, failSIF, failLocked}
var nonInteractiveFailures = []*failure{failMFAReauth, failSIF, failCABlock, failMFARequired, failExternal}
var spFailures = []*failure{failSecret, failExpSec}

// city is a sign-in location. Office cities have a named network.
type city struct {
	name, state, country string
	lat, lon             float64
	network              string // named location covering the office, if any
	prefix               [3]byte
	weight               int
}

var cities = []*city{
	{"Seattle", "Washington", "US", 47.6062, -122.3321, "HQ Seattle", [3]byte{131, 107, 147}, 18},
	{"Redmond", "Washington", "US", 47.674, -122.1215, "HQ Seattle", [3]byte{131, 107, 159}, 8},
	{"New York", "New York", "US", 40.7128, -74.006, "Office New York", [3]byte{207, 46, 13}, 10},
	{"Chicago", "Illinois", "US", 41.8781, -87.6298, "", [3]byte{73, 45, 112}, 5},
	{"Austin", "Texas", "US", 30.2672, -97.7431, "", [3]byte{70, 112, 4}, 4},
	{"Toronto", "Ontario", "CA", 43.6532, -79.3832, "Office Toronto", [3]byte{99, 226, 17}, 4},
	{"London", "England", "GB", 51.5072, -0.1276, "Office London", [3]byte{81, 2, 69}, 10},
	{"Manchester", "England", "GB", 53.4808, -2.2426, "", [3]byte{86, 151, 200}, 2},
	{"Dublin", "Dublin", "IE", 53.3498, -6.2603, "Office Dublin", [3]byte{89, 101, 44}, 4},
	{"Amsterdam", "Noord-Holland", "NL", 52.3676, 4.9041, "", [3]byte{145, 53, 70}, 3},
	{"Berlin", "Berlin", "DE", 52.52, 13.405, "", [3]byte{85, 214, 133}, 3},
	{"Munich", "Bayern", "DE", 48.1351, 11.582, "Office Munich", [3]byte{62, 156, 160}, 4},
	{"Paris", "Paris", "FR", 48.8566, 2.3522, "", [3]byte{90, 102, 4}, 3},
	{"Madrid", "Madrid", "ES", 40.4168, -3.7038, "", [3]byte{83, 56, 12}, 2},
	{"Stockholm", "Stockholms Lan", "SE", 59.3293, 18.0686, "", [3]byte{78, 72, 188}, 2},
	{"Warsaw", "Mazowieckie", "PL", 52.2297, 21.0122, "", [3]byte{83, 24, 208}, 2},
	{"Bengaluru", "Karnataka", "IN", 12.9716, 77.5946, "Office Bengaluru", [3]byte{49, 207, 52}, 6},
	{"Hyderabad", "Telangana", "IN", 17.385, 78.4867, "", [3]byte{183, 82, 114}, 2},
	{"Singapore", "Singapore", "SG", 1.3521, 103.8198, "Office Singapore", [3]byte{116, 87, 34}, 3},
	{"Sydney", "New South Wales", "AU", -33.8688, 151.2093, "Office Sydney", [3]byte{1, 145, 33}, 3},
	{"Tokyo", "Tokyo", "JP", 35.6762, 139.6503, "", [3]byte{126, 51, 218}, 2},
	{"Sao Paulo", "Sao Paulo", "BR", -23.5505, -46.6333, "", [3]byte{177, 92, 58}, 2},
	{"Johannesburg", "Gauteng", "ZA", -26.2041, 28.0473, "", [3]byte{41, 13, 198}, 1},
}

// hostileCities are where password sprays against the tenant come from.
var hostileCities = []*city{
	{"Lagos", "Lagos", "NG", 6.5244, 3.3792, "", [3]byte{105, 112, 31}, 1},
	{"Moscow", "Moscow", "RU", 55.7558, 37.6173, "", [3]byte{95, 165, 131}, 1},
	{"Shenzhen", "Guangdong", "CN", 22.5431, 114.0579, "", [3]byte{113, 88, 162}, 1},
	{"Bucharest", "Bucuresti", "RO", 44.4268, 26.1025, "", [3]byte{86, 105, 9}, 1},
	{"Ho Chi Minh City", "Ho Chi Minh", "VN", 10.8231, 106.6297, "", [3]byte{14, 161, 20}, 1},
}

// azureRegionIPs are egress prefixes for workloads running in Azure.
var azureRegionIPs = [][2]byte{{20, 50}, {20, 61}, {40, 74}, {52, 169}, {52, 233}, {13, 69}, {51, 104}, {20, 103}}

type caPolicy struct {
	name     string
	grant    []string
	session  []string
	weight   int // how often the policy shows up in a sign-in's list
	blocking bool
}

var caPolicies = []*caPolicy{
	{"CA001: Require MFA for administrators", []string{"Mfa"}, nil, 6, false},
	{"CA002: Block legacy authentication", []string{"Block"}, nil, 9, true},
	{"CA003: Require MFA for all users", []string{"Mfa"}, nil, 9, false},
	{"CA004: Require compliant or hybrid joined device", []string{"RequireCompliantDevice", "RequireDomainJoinedDevice"}, nil, 7, false},
	{"CA005: Block access from untrusted countries", []string{"Block"}, nil, 6, true},
	{"CA006: Require MFA for Azure management", []string{"Mfa"}, nil, 4, false},
	{"CA007: Sign-in frequency 12h on unmanaged devices", nil, []string{"SignInFrequency", "PersistentBrowserSessionMode"}, 5, false},
	{"CA008: Require password change for high user risk", []string{"Mfa", "PasswordChange"}, nil, 3, false},
	{"CA009: Require app protection policy on mobile", []string{"RequireApprovedApp", "RequireCompliantApp"}, nil, 3, false},
	{"CA010: Block device code flow", []string{"Block"}, nil, 4, true},
	{"CA011: Phishing-resistant MFA for privileged roles", []string{"AuthenticationStrength"}, nil, 3, false},
}

type role struct {
	name, templateID, wellKnown string
}

var roles = []role{
	{"Global Administrator", "62e90394-69f5-4237-9190-012177145e10", "TenantAdmins"},
	{"Privileged Role Administrator", "e8611ab8-c189-46e8-94e1-60213ab1f814", ""},
	{"User Administrator", "fe930be7-5e62-47db-91af-98c3a49a38b1", "UserAccountAdmins"},
	{"Security Administrator", "194ae4cb-b126-40b2-bd5b-6091b380977d", ""},
	{"Exchange Administrator", "29232cdf-9323-42fd-ade2-1d097af3e4de", ""},
	{"Helpdesk Administrator", "729827e3-9c14-49f7-bb1b-9608f156bbb8", "HelpdeskAdmins"},
	{"Conditional Access Administrator", "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9", ""},
	{"Application Administrator", "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3", ""},
	{"Global Reader", "f2ef992c-3afb-46b9-b7cf-a126ee74c451", ""},
	{"Intune Administrator", "3a2c62db-5318-420d-8d74-23affee5d9d5", ""},
}

var groupNames = []string{
	"All Employees", "Sales EMEA", "Sales Americas", "Finance", "HR Business Partners", "Engineering",
	"Platform Team", "SG-Azure-Contributors", "SG-M365-E5-Licensing", "SG-Intune-Pilot", "Project Falcon",
	"Marketing", "Legal", "Service Desk", "SG-VPN-Users", "SG-PAW-Users", "Executive Assistants",
	"SG-CA-Exclusion-EmergencyAccess", "Contractors", "SG-Defender-Pilot",
}

var firstNames = []string{
	"James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
	"William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Charles", "Karen",
	"Daniel", "Lisa", "Matthew", "Nancy", "Anthony", "Sandra", "Mark", "Ashley", "Priya", "Rahul",
	"Aisha", "Mohammed", "Wei", "Mei", "Hiroshi", "Yuki", "Lars", "Ingrid", "Pierre", "Camille",
	"Jan", "Anna", "Lukas", "Sofia", "Mateo", "Lucia", "Olumide", "Chioma", "Sean", "Siobhan",
	"Noah", "Emma", "Liam", "Olivia", "Ethan", "Ava", "Arjun", "Ananya", "Tomasz", "Zofia",
}

var lastNames = []string{
	"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
	"Hernandez", "Lopez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee",
	"Thompson", "White", "Harris", "Clark", "Lewis", "Walker", "Hall", "Young", "King", "Wright",
	"Patel", "Sharma", "Khan", "Chen", "Wang", "Tanaka", "Sato", "Nilsson", "Andersson", "Dubois",
	"Moreau", "Kowalski", "Nowak", "Schmidt", "Muller", "Fischer", "Rossi", "Bianchi", "Okafor", "Adeyemi",
	"Murphy", "O'Brien", "Kelly", "Silva", "Santos", "Novak", "Jensen", "Larsen", "Kumar", "Singh",
}

var departments = []string{"Sales", "Finance", "Engineering", "Marketing", "HR", "Legal", "IT", "Operations", "Support", "Research"}

var guestDomains = []string{"fabrikam.com", "northwindtraders.com", "adatum.com", "tailspintoys.com", "gmail.com", "outlook.com"}

// Tenant workloads that sign in as service principals.
var spNames = []string{
	"HR-Sync-Connector", "Backup Automation", "Terraform CI", "ServiceNow Integration", "Sentinel Playbook - Enrich",
	"Splunk Add-on for Microsoft Cloud Services", "Veeam Backup for Microsoft 365", "GitHub Actions Deploy",
	"Payroll Export", "Jira Cloud Connector", "Power BI Gateway", "Intune Reporting Export", "SCIM Provisioning Bridge",
	"Monitoring - Graph Poller", "Zscaler Connector", "Okta Inbound Federation Test", "Mail Archiver", "Ticket Bot",
}

var miNames = []string{
	"func-invoice-prod", "func-invoice-dev", "logic-sentinel-ingest", "vm-build-agent-01", "vm-build-agent-02",
	"aks-agentpool-weu", "app-intranet-prod", "adf-warehouse-prod", "automation-runbooks", "id-deploy-pipeline",
	"func-graph-reports", "apim-gateway-prod",
}

// Apps that initiate audit events on their own.
var auditApps = []struct{ name, appID string }{
	{"Microsoft Substrate Management", "98db8bd6-0cc0-4e67-9de5-f187f1cd1b41"},
	{"Microsoft Azure AD Group-Based Licensing", ""},
	{"MS-PIM", "01fc33a7-78ba-4d2f-a4b7-768e336e890e"},
	{"Azure AD Cloud Sync", "1a4721b3-e57f-4451-ae87-ef078703ec94"},
	{"Device Registration Service", "01cb2876-7ebd-4aa4-9cc9-d28bd4d359a9"},
	{"Microsoft Intune", "0000000a-0000-0000-c000-000000000000"},
}

var mfaMethods = []string{
	"Mobile app notification", "Mobile app notification", "Passkey (Microsoft Authenticator)",
	"OATH verification code", "Text message", "Windows Hello for Business",
}

var securityInfoReasons = []string{
	"User registered Authenticator App with Notification and Code",
	"User registered Mobile Phone SMS",
	"User registered Passkey (device-bound)",
	"User registered Password",
	"User changed default security info",
}
