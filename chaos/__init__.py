"""Fault injection at scale (`make chaos`): avisa on PostgreSQL with four `avisa worker`
processes and one `avisa serve --no-worker`, while workers are killed, the database server
restarts, the provider goes down and the vault is sealed. Every scenario counts what was
expected, what was done, duplicates and losses, and fails on any loss.

The suite runs its own PostgreSQL server (it restarts it) and its own fake Twilio (it
stops it), both on loopback; see `python -m chaos --help`.
"""
