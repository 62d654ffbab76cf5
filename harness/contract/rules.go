package contract

// Rule IDs this package records. They come from CONTRACT.md, except
// RuleSchema, which is ours: spec/README.md defines it.
const (
	RuleAPIVersion   = "FUL-API-01" // api-version=2018-08-31 on every call
	RuleV1           = "FUL-API-02" // no v1 (2017-04-15) calls or shapes
	RuleBackendOnly  = "FUL-API-03" // calls come from the backend, not a browser
	RuleRequestIDs   = "FUL-API-04" // x-ms-requestid / x-ms-correlationid GUIDs
	RuleSchema       = "FUL-API-05" // the request matches a documented operation and its schema
	RuleResolveToken = "FUL-RESOLVE-01"
	RuleActivateBody = "FUL-ACTIVATE-01"
	RuleUpdateBody   = "FUL-UPDATE-01"
	RuleOperation    = "FUL-OP-01"
	RuleAuthToken    = "AUTH-03"
)
