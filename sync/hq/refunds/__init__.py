"""The refund feed and its webhooks at HQ (docs/sync.md, "Refund feed", "Webhooks").

- models.py: HQ's tables for them, in one place (the feed, its progress, webhooks, deliveries);
- feed.py: the feed, projected from the benches' `refund_decided` events, paged by cursor;
- webhooks.py: signing (Standard Webhooks), the delivery queue and its dispatcher;
- routes.py: `GET /api/v1/refunds` for reader tokens with the `refunds` scope;
- sync/hq/cli/webhooks.py: `hq add-webhook`, `hq webhooks`, `hq remove-webhook`.
"""
