package accountlist

// The Zero Trust Assessment's zt-config.json takes Maester's shape
// (globalsettings.go); its Get-ZtEmergencyAccessAccounts skips an entry
// without a Type, so the import insists on one.
func init() {
	Register(Format{
		Name:   "zta",
		Title:  "Microsoft Zero Trust Assessment zt-config.json (GlobalSettings.EmergencyAccessAccounts)",
		Export: exportGlobalSettings,
		Import: func(name string, data []byte) (*Imported, error) { return importGlobalSettings(name, data, true) },
	})
}
