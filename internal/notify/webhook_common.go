package notify

import (
	"strings"
	"time"

	"breakglass/internal/store"
)

// Webhook body schemas (the webhook channel's schema key).
const (
	// SchemaCommon is the Azure Monitor Common Alert Schema, so receivers
	// written for Azure action groups (Logic Apps, Functions) work
	// unchanged. It is the configuration's default.
	SchemaCommon = "common"
	// SchemaBreakglass is breakglass's own body, Payload.
	SchemaBreakglass = "breakglass"
)

// WebhookSchemas lists the schema values config accepts.
var WebhookSchemas = []string{SchemaCommon, SchemaBreakglass}

// Values of the Common Alert Schema that breakglass fixes.
const (
	CommonAlertSchemaID = "azureMonitorCommonAlertSchema"
	// CommonAlertMonitoringService tells a receiver that switches on
	// essentials.monitoringService (as Azure's samples do) that
	// alertContext is breakglass's, not a Log Alerts V2 condition.
	CommonAlertMonitoringService = "breakglass"
	// CommonAlertConditionType is alertContext.conditionType.
	CommonAlertConditionType = "BreakglassAlert"
	commonEssentialsVersion  = "1.0"
	commonContextVersion     = "1.0"
)

// CommonAlert is the webhook body in the Azure Monitor Common Alert Schema:
//
//	{
//	  "schemaId": "azureMonitorCommonAlertSchema",
//	  "data": {
//	    "essentials": {
//	      "alertId": "/tenants/contoso.onmicrosoft.com/providers/breakglass/alerts/4f1c…",
//	      "alertRule": "bg.signin",
//	      "severity": "Sev0",
//	      "signalType": "Log",
//	      "monitorCondition": "Fired",          // or "Resolved"
//	      "monitoringService": "breakglass",
//	      "alertTargetIDs": ["/tenants/…/users/<object id>"],
//	      "configurationItems": ["bg1@contoso.com"],
//	      "originAlertId": "4f1c…",
//	      "firedDateTime": "2026-07-01T12:00:04.5Z",
//	      "resolvedDateTime": "…",              // resolved only
//	      "description": "Break-glass account signed in",
//	      "essentialsVersion": "1.0",
//	      "alertContextVersion": "1.0"
//	    },
//	    "alertContext": { "conditionType": "BreakglassAlert", …Payload }
//	  }
//	}
//
// essentials.alertId is the same for an alert's Fired and Resolved
// notifications and on every retry, as Azure's is: dedupe and correlate on
// it (with monitorCondition). firedDateTime is when breakglass detected the
// alert; resolvedDateTime is when the resolution was sent (this attempt).
// alertContext is the breakglass body (see Payload) with a conditionType.
type CommonAlert struct {
	SchemaID string          `json:"schemaId"`
	Data     CommonAlertData `json:"data"`
}

// CommonAlertData is the data object of the Common Alert Schema.
type CommonAlertData struct {
	Essentials   CommonEssentials   `json:"essentials"`
	AlertContext CommonAlertContext `json:"alertContext"`
	// CustomProperties is the action group's custom properties: none
	// (null), as Azure sends when none are set.
	CustomProperties map[string]string `json:"customProperties"`
}

// CommonEssentials is data.essentials.
type CommonEssentials struct {
	AlertID           string `json:"alertId"`
	AlertRule         string `json:"alertRule"`
	Severity          string `json:"severity"`
	SignalType        string `json:"signalType"`
	MonitorCondition  string `json:"monitorCondition"`
	MonitoringService string `json:"monitoringService"`
	// AlertTargetIDs and ConfigurationItems are always arrays, empty for
	// an alert about no account: Microsoft's samples always carry both,
	// and receivers' schemas (Logic Apps' Parse JSON) require them.
	AlertTargetIDs      []string `json:"alertTargetIDs"`
	ConfigurationItems  []string `json:"configurationItems"`
	OriginAlertID       string   `json:"originAlertId"`
	FiredDateTime       string   `json:"firedDateTime"`
	ResolvedDateTime    string   `json:"resolvedDateTime,omitempty"`
	Description         string   `json:"description"`
	EssentialsVersion   string   `json:"essentialsVersion"`
	AlertContextVersion string   `json:"alertContextVersion"`
}

// CommonAlertContext is data.alertContext: breakglass's own body.
type CommonAlertContext struct {
	ConditionType string `json:"conditionType"`
	Payload
}

// NewCommonAlert builds the Common Alert Schema body for n.
func NewCommonAlert(n Notification, now time.Time) CommonAlert {
	p := NewPayload(n, now)
	a := n.Alert
	prefix := "/"
	if t := a.Labels["tenant"]; t != "" && !strings.ContainsAny(t, "/ ") {
		prefix = "/tenants/" + t + "/"
	}
	e := CommonEssentials{
		AlertID:             prefix + "providers/breakglass/alerts/" + a.ID,
		AlertRule:           a.Rule,
		Severity:            p.SeverityLabel,
		SignalType:          "Log",
		MonitorCondition:    "Fired",
		MonitoringService:   CommonAlertMonitoringService,
		OriginAlertID:       a.ID,
		FiredDateTime:       p.Detected,
		Description:         a.Title,
		EssentialsVersion:   commonEssentialsVersion,
		AlertContextVersion: commonContextVersion,
	}
	if n.Status == store.StatusResolved {
		e.MonitorCondition = "Resolved"
		e.ResolvedDateTime = p.Sent
	}
	e.AlertTargetIDs, e.ConfigurationItems = []string{}, []string{}
	if a.AccountID != "" {
		e.AlertTargetIDs = []string{prefix + "users/" + a.AccountID}
	}
	if a.AccountUPN != "" {
		e.ConfigurationItems = []string{a.AccountUPN}
	}
	return CommonAlert{
		SchemaID: CommonAlertSchemaID,
		Data:     CommonAlertData{Essentials: e, AlertContext: CommonAlertContext{ConditionType: CommonAlertConditionType, Payload: p}},
	}
}
