"""The Plugwise wire protocol: framing, messages, units, schedules, the sans-I/O link core,
the Stick driver (a thin I/O shell around it), the Circle API and the virtual network.
Imports only the standard library and pyserial."""
