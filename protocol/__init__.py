"""The Plugwise wire protocol: framing, messages, units, schedules, the Stick
driver, the Circle API and the virtual network.  Imports only the standard
library and pyserial."""
