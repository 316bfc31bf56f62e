"""`python -m ledger_service ...`: the same as the `carbonledger` command."""

from ledger_service.cli import main

if __name__ == "__main__":
    main()
