"""Chain access: compiler pipeline, contract registry, deployment, signers and revert decoding."""
