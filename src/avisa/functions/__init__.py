"""HTTP functions (`POST /functions/v1/{name}`), their execution log and the default jobs."""
