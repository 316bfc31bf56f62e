"""Test support: the deployed suite with a cast of members, revert assertions, and service runtime snapshots."""
