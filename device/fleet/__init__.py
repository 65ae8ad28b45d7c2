"""The station's optional link to a fleet: MQTT messages to a broker, store and forward, Home
Assistant discovery (docs/fleet-station.md). Off unless `[fleet] enabled = true`."""
