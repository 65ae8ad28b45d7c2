"""The hub of a gym chain: stations publish over MQTT, the hub keeps their data in PostgreSQL
and serves the chain's trainer and owner pages (docs/fleet.md).

    hub/db.py          connection and schema (ordered migrations, a version table)
    hub/ingest.py      one parsed message -> one transaction (idempotent upserts)
    hub/subscriber.py  the MQTT subscriber: persistent session, ack after commit
    hub/store.py       the read side the pages use
    hub/app.py         the Flask app (login as on a station)
    hub/cli.py         `ohsa hub run | migrate | password`

Nothing in `device/` or `web/` imports this package; it imports the wire format from
`device.fleet.messages` and the login machinery from `web.auth`.
"""
