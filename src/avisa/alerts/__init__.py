"""Alerts to the operator: a failed run, a failed execution, a red `verify`, and recovery.

- `rules.decide` is the pure state machine (at most one alert per subject per period,
  a recovery only for an announced failure);
- `observe` reads what is failing now from the database and `verify`;
- `store` keeps one `alert_state` row per subject and claims transitions;
- `senders` deliver by email (SMTP) and webhook (URL in vault secret ALERT_WEBHOOK_URL);
- `check.check_alerts(services)` ties them together; the built-in cron function
  `check_alerts` (job `check-alerts`, every minute, scheduled by `avisa init`) calls it.
"""
