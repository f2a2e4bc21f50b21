"""Delivery: the worker that sends due notifications through the configured channels.

- `worker.DeliveryWorker` claims due notifications (a lease, fenced by the attempt count),
  re-checks the appointment, renders, sends under a per-provider rate limit and records
  the outcome; transient errors are retried with backoff, permanent ones fail at once.
- `channels/` holds one transport per provider behind one interface (`Transport`).
- `render` turns a notification into text in the client's language and the
  appointment's time zone, from Jinja2 templates (`templates/`, or a user folder).
- `runtime.build_delivery_worker(services)` wires it to a running avisa.
"""
