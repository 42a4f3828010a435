"""The Textual console: screens and widgets.  Imports `pwtui` and `protocol`."""
