// Package accountlist writes the break-glass list for the other tools that
// need it, and reads their lists back.
//
// Every posture tool wants the emergency-access accounts in its own place
// (Maester's and the Zero Trust Assessment's GlobalSettings, ScubaGear's
// per-policy exclusions, a Sentinel watchlist), and their users keep them
// in sync by hand. breakglass keeps the one list in its config; this
// package turns that list into each tool's format and back.
//
// Formats are a registry: each one lives in its own file and registers an
// exporter, an importer or both. Nothing is dropped silently: an entry a
// format cannot hold (a UPN where ScubaGear needs an object id, a group a
// watchlist cannot expand) fails the export naming the entry, and every
// problem in an imported file is reported with its file and position.
package accountlist
