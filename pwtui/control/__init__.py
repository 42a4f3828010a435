"""The control socket of the stick owner: wire format, server, clients (attach, one-shots)."""
