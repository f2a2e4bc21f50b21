"""Two-way messaging: delivery receipts, replies that confirm or cancel, STOP opt-outs.

- `keywords`: what a reply means (pure: accent, case and space folding).
- `signatures`: Twilio's and Meta's webhook signatures (pure).
- `receipts`: the order of delivery states (pure) and recording receipts.
- `inbound`: acting on a reply (confirm, cancel, opt out) and recording it.
- `answers`: the answer's text in the client's language (pure) and sending it.

The web edge is `avisa.web.webhooks`. Importing this package imports nothing.
"""
