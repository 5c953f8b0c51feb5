"""`pymeet bench`: how fast the relay is, and what media costs.

The bench runs a real `pymeet server` subprocess and, beside it, a minimal bare
forwarder (no auth, no crypto) as a yardstick; worker processes play the participants.
Modules, one job each:

- `cli`: the subcommand; orchestrates the runs and prints the table.
- `server_process`: starts and stops the server, reads its CPU and memory from /proc.
- `control`: a minimal raw control client (TLS 1.3, PROTOCOL.md §1–§3) for logins.
- `load`: the load-generator worker process (senders and receivers of sealed media).
- `forwarder`: the bare forwarder process.
- `histogram`: latency histograms that merge across processes.
- `ipc`: commands between the coordinator and its processes.
- `probe`: how late a nearly idle thread gets the CPU: the machine's share of latency.
- `e2e`: capture-to-playout and capture-to-display latency through the real engine.
- `codec`: JPEG cost and bit rate per video preset.
- `report`: the table, the targets and the JSON file.

Nothing here sends anything anywhere but 127.0.0.1.
"""
