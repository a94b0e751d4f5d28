// Azure Monitor alert rules and action groups written by `breakglass rules export`.
// Deploy: az deployment group create -g RG -f FILE -p workspaceId=WORKSPACE_RESOURCE_ID

@description('Resource id of the Log Analytics workspace the rules query (/subscriptions/…/providers/Microsoft.OperationalInsights/workspaces/NAME).')
param workspaceId string

@description('Region of the alert rules (the workspace\'s region).')
param location string = resourceGroup().location

resource rule_bg_signin 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = {
  name: 'bg-signin'
  location: location
  kind: 'LogAlert'
  properties: {
    displayName: 'bg-signin'
    severity: 0
    enabled: true
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    scopes: [
      workspaceId
    ]
    criteria: {
      allOf: [
        {
          query: 'SigninLogs\n| project UserId\n| where UserId == "00aa00aa-bb11-cc22-dd33-44ee44ee44ee" or UserId == "11bb11bb-cc22-dd33-ee44-55ff55ff55ff"\n'
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: false
    actions: {
      actionGroups: []
    }
  }
}
