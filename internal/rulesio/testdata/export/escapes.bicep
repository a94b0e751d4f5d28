// Azure Monitor alert rules and action groups written by `breakglass rules export`.
// Deploy: az deployment group create -g RG -f FILE -p workspaceId=WORKSPACE_RESOURCE_ID

@description('Resource id of the Log Analytics workspace the rules query (/subscriptions/…/providers/Microsoft.OperationalInsights/workspaces/NAME).')
param workspaceId string

@description('Region of the alert rules (the workspace\'s region).')
param location string = resourceGroup().location

resource ag_on_call_s_team 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: 'on call\'s team'
  location: 'Global'
  properties: {
    groupShortName: 'on call\'s te'
    enabled: true
    emailReceivers: [
      {
        name: 'email'
        emailAddress: 'soc@contoso.example'
        useCommonAlertSchema: true
      }
    ]
  }
}

resource rule_escapes_rule_1 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = {
  name: 'escapes.rule-1'
  location: location
  kind: 'LogAlert'
  properties: {
    displayName: 'escapes.rule-1'
    description: '[bracketed] \${not interpolation} it\'s. Backslash \\ dollar \$ quote \' tab\tend'
    severity: 3
    enabled: true
    evaluationFrequency: 'PT15M'
    windowSize: 'PT30M'
    scopes: [
      workspaceId
    ]
    criteria: {
      allOf: [
        {
          query: 'AuditLogs\n| where OperationName matches regex @"^Add .*\\\$"\n| extend X = strcat(\'\${\', "[x]")\n| summarize Ratio = avg(todouble(1)) by Category'
          timeAggregation: 'Maximum'
          metricMeasureColumn: 'Ratio'
          operator: 'GreaterThanOrEqual'
          threshold: json('1.5')
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    muteActionsDuration: 'PT5M'
    autoMitigate: false
    actions: {
      actionGroups: [
        ag_on_call_s_team.id
      ]
      customProperties: {
        owner: 'a\'b \${x}'
        x: '[y]'
      }
    }
  }
}
