"""The beta testers' own way in: personal links, their sessions, the beta page and the problem
intake API that `quarterdeck serve` answers.

The path a request takes: settings (the [portal] table and the link secret) -> links (signed
values, pure) -> access (which contact or token they name, in the ledger) -> page (what the
beta page shows, read from the ledger) -> web (the HTTP layer: Starlette, loaded only by
`serve`). Sign-offs and problem reports go through channels.gates.beta, as the CLI's do.
"""
