// Azure Monitor alert rules and action groups written by `breakglass rules export`.
// Deploy: az deployment group create -g RG -f FILE -p workspaceId=WORKSPACE_RESOURCE_ID

@description('Resource id of the Log Analytics workspace the rules query (/subscriptions/…/providers/Microsoft.OperationalInsights/workspaces/NAME).')
param workspaceId string

@description('Region of the alert rules (the workspace\'s region).')
param location string = resourceGroup().location

@description('URL of webhook channel oncall/logic-app (a secret: pass it at deployment).')
@secure()
param webhookUri_oncall_logic_app string

@description('URL of webhook channel security-leads/webhook (a secret: pass it at deployment).')
@secure()
param webhookUri_security_leads_webhook string

resource ag_oncall 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: 'oncall'
  location: 'Global'
  properties: {
    groupShortName: 'oncall'
    enabled: true
    emailReceivers: [
      {
        name: 'email-1'
        emailAddress: 'soc@contoso.example'
        useCommonAlertSchema: true
      }
      {
        name: 'email-2'
        emailAddress: 'secops@contoso.example'
        useCommonAlertSchema: true
      }
    ]
    smsReceivers: [
      {
        name: 'sms-1'
        countryCode: '47'
        phoneNumber: '12345678'
      }
      {
        name: 'sms-2'
        countryCode: '1'
        phoneNumber: '4155550100'
      }
    ]
    voiceReceivers: [
      {
        name: 'voice'
        countryCode: '44'
        phoneNumber: '7700900123'
      }
    ]
    webhookReceivers: [
      {
        name: 'logic-app'
        serviceUri: webhookUri_oncall_logic_app
        useCommonAlertSchema: true
      }
    ]
  }
}

resource ag_security_leads 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: 'security-leads'
  location: 'Global'
  properties: {
    groupShortName: 'security-lea'
    enabled: true
    webhookReceivers: [
      {
        name: 'webhook'
        serviceUri: webhookUri_security_leads_webhook
        useCommonAlertSchema: true
      }
    ]
  }
}

resource rule_bg_signin_recipe 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = {
  name: 'bg-signin-recipe'
  location: location
  kind: 'LogAlert'
  properties: {
    displayName: 'bg-signin-recipe'
    description: 'Any sign-in of a break-glass account (Microsoft\'s recipe).'
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
          query: 'SigninLogs\n| project UserId\n| where UserId == "00aa00aa-bb11-cc22-dd33-44ee44ee44ee"\n'
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
      actionGroups: [
        ag_oncall.id
        ag_security_leads.id
      ]
    }
  }
}

resource rule_failures_by_ip 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = {
  name: 'failures-by-ip'
  location: location
  kind: 'LogAlert'
  properties: {
    displayName: 'failures-by-ip'
    severity: 2
    enabled: true
    evaluationFrequency: 'PT5M'
    windowSize: 'PT1H'
    scopes: [
      workspaceId
    ]
    criteria: {
      allOf: [
        {
          query: 'SigninLogs\n| where ResultType != "0"\n| summarize Failures = count() by IPAddress, bin(TimeGenerated, 5m)\n'
          timeAggregation: 'Maximum'
          metricMeasureColumn: 'Failures'
          operator: 'GreaterThan'
          threshold: 5
          dimensions: [
            {
              name: 'IPAddress'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          failingPeriods: {
            numberOfEvaluationPeriods: 3
            minFailingPeriodsToAlert: 2
          }
        }
      ]
    }
    muteActionsDuration: 'PT1H'
    autoMitigate: true
    actions: {
      actionGroups: [
        ag_oncall.id
      ]
      customProperties: {
        team: 'identity'
      }
    }
  }
}

resource rule_watchlist_signin 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = {
  name: 'watchlist-signin'
  location: location
  kind: 'LogAlert'
  properties: {
    displayName: 'watchlist-signin'
    severity: 1
    enabled: true
    evaluationFrequency: 'PT1M'
    windowSize: 'PT7M'
    scopes: [
      workspaceId
    ]
    criteria: {
      allOf: [
        {
          query: 'SigninLogs\n| where UserPrincipalName in (_GetWatchlist(\'breakGlassAccounts\') | project AccountUPN)\n'
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
      actionGroups: [
        ag_security_leads.id
      ]
    }
  }
}
