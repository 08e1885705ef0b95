// The alert on the daily sync (issue 12): a log search alert rule on the Log Analytics workspace
// of monitoring.bicep that fires when no run has succeeded in the last 26 hours: a run that failed
// and was not retried to success, a run held by the mass-deletion guard, or a run that never
// happened (the app stopped, the schedule or a deployment broke). 26 hours: a daily schedule plus
// room for a slow run and the host's retries. It resolves by itself after the next good run.
//
// A run counts as successful when either of its two records says so: its sync.run span (the
// worker's OpenTelemetry, table AppDependencies: internal spans land there, with Success and the
// attributes in Properties), or its plain summary line "[run <id>] Sync finished (...)" (AppTraces),
// which the host also sends without the worker's OpenTelemetry. union isfuzzy=true: a table not
// created yet (a new workspace) does not fail the query.
//
// With an e-mail address an action group is created for it; without one the alert still shows in
// Monitor > Alerts and can be routed with an alert processing rule.
param location string
param tags object

@description('Resource id of the Log Analytics workspace the app\'s telemetry lands in (monitoring.bicep).')
param logAnalyticsWorkspaceId string

@description('Name of the alert rule.')
param alertRuleName string

@description('Name of the action group (created only with alertEmail).')
param actionGroupName string

@description('E-mail address to notify; empty: no action group.')
param alertEmail string

var successfulRuns = '''
let since = ago(26h);
union isfuzzy=true
  (AppDependencies
    | where TimeGenerated > since and Name == "sync.run" and Success == true
    | where tostring(Properties["sync.outcome"]) == "completed"),
  (AppTraces
    | where TimeGenerated > since and Message has "Sync finished")
| project TimeGenerated
'''

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (!empty(alertEmail)) {
  name: actionGroupName
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'graphsync'
    enabled: true
    emailReceivers: [
      {
        name: 'operator'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

resource missedRun 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: alertRuleName
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'graph-user-sync: no successful run in 26 hours'
    description: 'No sync run has completed in the last 26 hours (a failed, held or missing daily run). See infra/README.md, "Monitoring": the failed runs query gives the error codes.'
    severity: 1
    enabled: true
    scopes: [logAnalyticsWorkspaceId]
    evaluationFrequency: 'PT1H'
    // The query filters on the last 26 hours itself; the window only has to cover them.
    windowSize: 'P2D'
    criteria: {
      allOf: [
        {
          query: successfulRuns
          timeAggregation: 'Count'
          operator: 'LessThan'
          threshold: 1
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    // The tables may not exist yet when the rule is created (before the first run).
    skipQueryValidation: true
    autoMitigate: true
    actions: {
      actionGroups: empty(alertEmail) ? [] : [actionGroup!.id]
    }
  }
}

output alertRuleId string = missedRun.id
