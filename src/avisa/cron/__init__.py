"""The scheduler: pg_cron's model (named jobs, schedules, commands, run history) in Python."""
