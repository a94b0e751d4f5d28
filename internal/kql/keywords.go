// Keyword sets measured on Microsoft's parser (12.4.1): each of its keywords
// was tried as T | extend x = W, x = d.W, W = 1 and x = W(1). Hyphenated
// keywords are left out: they can never be one name here.

package kql

// reservedName holds the words that cannot be a plain name in an expression or after a dot: write ['word'] instead.
var reservedName = map[string]bool{
	"accumulate": true, "and": true, "anomalychart": true, "areachart": true, "as": true, "asc": true,
	"bagexpansion": true, "barchart": true, "between": true, "boolean": true, "by": true, "byte": true,
	"cachingpolicy": true, "callout": true, "cancel": true, "card": true, "char": true, "columnchart": true,
	"contains": true, "contains_cs": true, "containscs": true, "cycles": true, "dataexport": true,
	"datascope": true, "datatable": true, "date": true, "datetime": true, "decimal": true, "decodeblocks": true,
	"desc": true, "double": true, "dynamic": true, "earliest": true, "encodingpolicy": true, "endswith": true,
	"endswith_cs": true, "expandoutput": true, "extent_tags_retention": true, "external_data": true,
	"externaldata": true, "find": true, "first": true, "flags": true, "float": true, "force_remote": true,
	"harddelete": true, "hardretention": true, "has": true, "has_all": true, "has_any": true, "has_cs": true,
	"hasprefix": true, "hasprefix_cs": true, "hassuffix": true, "hassuffix_cs": true, "hotcache": true,
	"in": true, "int": true, "invoke": true, "isfuzzy": true, "journal": true, "ladderchart": true,
	"last": true, "latest": true, "like": true, "likecs": true, "linechart": true, "long": true,
	"materialize": true, "mdm": true, "missing": true, "nooptimization": true, "notcontains": true,
	"notcontainscs": true, "notlike": true, "notlikecs": true, "of": true, "or": true, "others": true,
	"pathformat": true, "piechart": true, "pivotchart": true, "print": true, "project": true, "queries": true,
	"query_results": true, "real": true, "relaxed": true, "restricted_view_access": true,
	"row_level_security": true, "rowstore": true, "rowstore_references": true, "rowstorepolicy": true,
	"rowstores": true, "sample": true, "scatterchart": true, "seal": true, "seals": true, "search": true,
	"set": true, "shards": true, "simple": true, "softdelete": true, "softretention": true, "sql": true,
	"stackedareachart": true, "startswith": true, "startswith_cs": true, "statistics": true,
	"storedqueryresultcontainers": true, "string": true, "tablepurge": true, "time": true, "timechart": true,
	"timeline": true, "timepivot": true, "timespan": true, "title": true, "to": true, "toscalar": true,
	"totable": true, "treemap": true, "uint": true, "ulong": true, "union": true, "uniqueid": true,
	"unrestrictedviewers": true, "verbose": true, "viewers": true, "views": true, "where": true,
	"with_match_id": true, "with_step_name": true, "writeaheadlog": true,
}

// reservedCall holds the words that cannot name a function call.
var reservedCall = map[string]bool{
	"accumulate": true, "and": true, "anomalychart": true, "areachart": true, "as": true, "asc": true,
	"bagexpansion": true, "barchart": true, "between": true, "boolean": true, "by": true, "byte": true,
	"cachingpolicy": true, "callout": true, "cancel": true, "card": true, "char": true, "columnchart": true,
	"contains": true, "contains_cs": true, "containscs": true, "cycles": true, "dataexport": true,
	"datascope": true, "datatable": true, "decodeblocks": true, "desc": true, "earliest": true,
	"encodingpolicy": true, "endswith": true, "endswith_cs": true, "expandoutput": true,
	"extent_tags_retention": true, "external_data": true, "externaldata": true, "find": true, "first": true,
	"flags": true, "float": true, "force_remote": true, "harddelete": true, "hardretention": true, "has": true,
	"has_all": true, "has_any": true, "has_cs": true, "hasprefix": true, "hasprefix_cs": true,
	"hassuffix": true, "hassuffix_cs": true, "hotcache": true, "in": true, "invoke": true, "isfuzzy": true,
	"journal": true, "kind": true, "ladderchart": true, "last": true, "latest": true, "like": true,
	"likecs": true, "linechart": true, "materialize": true, "mdm": true, "missing": true,
	"nooptimization": true, "notcontains": true, "notcontainscs": true, "notlike": true, "notlikecs": true,
	"of": true, "or": true, "others": true, "pathformat": true, "piechart": true, "pivotchart": true,
	"print": true, "project": true, "queries": true, "query_results": true, "relaxed": true,
	"restricted_view_access": true, "row_level_security": true, "rowstore": true, "rowstore_references": true,
	"rowstorepolicy": true, "rowstores": true, "sample": true, "scatterchart": true, "seal": true,
	"seals": true, "search": true, "set": true, "shards": true, "simple": true, "softdelete": true,
	"softretention": true, "sql": true, "stackedareachart": true, "startswith": true, "startswith_cs": true,
	"statistics": true, "storedqueryresultcontainers": true, "string": true, "tablepurge": true,
	"timechart": true, "timeline": true, "timepivot": true, "title": true, "to": true, "treemap": true,
	"typeof": true, "uint": true, "ulong": true, "union": true, "uniqueid": true, "unrestrictedviewers": true,
	"verbose": true, "viewers": true, "views": true, "where": true, "with_match_id": true, "with_source": true,
	"with_step_name": true, "withsource": true, "writeaheadlog": true,
}

// reservedAssign holds the words that cannot be the name on the left of =.
var reservedAssign = map[string]bool{
	"and": true, "anomalychart": true, "areachart": true, "asc": true, "bagexpansion": true, "barchart": true,
	"between": true, "boolean": true, "byte": true, "cachingpolicy": true, "callout": true, "cancel": true,
	"card": true, "char": true, "columnchart": true, "contains_cs": true, "containscs": true, "cycles": true,
	"dataexport": true, "datascope": true, "date": true, "datetime": true, "decimal": true,
	"decodeblocks": true, "desc": true, "double": true, "dynamic": true, "encodingpolicy": true,
	"endswith": true, "endswith_cs": true, "expandoutput": true, "extent_tags_retention": true,
	"external_data": true, "first": true, "flags": true, "float": true, "force_remote": true,
	"harddelete": true, "hardretention": true, "has_all": true, "has_any": true, "has_cs": true,
	"hasprefix": true, "hasprefix_cs": true, "hassuffix": true, "hassuffix_cs": true, "hotcache": true,
	"int": true, "isfuzzy": true, "journal": true, "kind": true, "ladderchart": true, "last": true,
	"like": true, "likecs": true, "linechart": true, "long": true, "missing": true, "nooptimization": true,
	"notcontains": true, "notcontainscs": true, "notlike": true, "notlikecs": true, "or": true, "others": true,
	"pathformat": true, "piechart": true, "pivotchart": true, "project": true, "queries": true,
	"query_results": true, "real": true, "relaxed": true, "restricted_view_access": true,
	"row_level_security": true, "rowstore": true, "rowstore_references": true, "rowstorepolicy": true,
	"rowstores": true, "scatterchart": true, "seal": true, "seals": true, "shards": true, "simple": true,
	"softdelete": true, "softretention": true, "stackedareachart": true, "startswith": true,
	"startswith_cs": true, "statistics": true, "storedqueryresultcontainers": true, "string": true,
	"tablepurge": true, "time": true, "timechart": true, "timeline": true, "timepivot": true, "timespan": true,
	"treemap": true, "uint": true, "ulong": true, "union": true, "uniqueid": true, "unrestrictedviewers": true,
	"views": true, "with_match_id": true, "with_source": true, "with_step_name": true, "withsource": true,
	"writeaheadlog": true,
}
