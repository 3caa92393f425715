"""The head-office server (HQ): its HTTP API, database, manifest import, KPIs and command line.

A package of its own beside the station client (`sync.client`, `sync.loop`, `sync.pull`,
`sync.station_store`) and the protocol both sides share (`sync.protocol`, `sync.bundle`).
The bench never imports anything from here at run time.
"""
