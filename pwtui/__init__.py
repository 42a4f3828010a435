"""pwtui: the application (config, engine, storage, headless mode, CLI).

Imports `protocol`, the standard library and rich; never Textual."""

__version__ = "0.1.0"
