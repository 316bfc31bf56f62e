"""Test support: the deployed suite with a cast of members, and revert assertions."""
