"""The relational store: declarative base, engine and sessions, models, migrations."""
