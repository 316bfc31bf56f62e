"""CreditRegistry: projects, verified issuance with unique serials, permissioned transfers,
retirement certificates, cancellation and surrender towards compliance obligations."""

from __future__ import annotations

from eth_abi import encode
from eth_utils import keccak

from tests.support.cast import ROLES
from tests.support.credits import (
    H1_2024,
    H2_2024,
    LOCATION,
    METHODOLOGY,
    PDD_HASH,
    PROJECT,
    STATEMENT,
    YEAR_2023,
    YEAR_2024,
    credits,
    issue,
    register_project,
    set_obligation,
    supply,
    verified_batch,
    verify,
    view_struct,
)
from tests.support.ledger import Ledger
from tests.support.reverts import reverts

ZERO_HASH = b"\x00" * 32
REASON = keccak(text="registry decision 2025-07")
OTHER_PROJECT = keccak(text="VCS-981-COOKSTOVES")
ACTIVE, SUSPENDED = 1, 2
ORG_A, ORG_B = 11, 12


def transfer(ledger: Ledger, sender: str, to: str, batch_id: int, amount: int, holder: str | None = None) -> None:
    source = ledger.address(holder or sender)
    ledger.tx(sender, "CreditRegistry", "safeTransferFrom", source, ledger.address(to), batch_id, amount, b"")


def retire(ledger: Ledger, holder: str, batch_id: int, amount: int) -> dict:
    receipt = ledger.tx(holder, "CreditRegistry", "retire", batch_id, amount, "Shanghai Metro Line 14",
                        "Carbon-neutral operation 2024", "CN", YEAR_2024[0], YEAR_2024[1])
    (event,) = ledger.events(receipt, "CreditRegistry", "CreditsRetired")
    return event


# ---------------------------------------------------------------------- projects


def test_regulator_registers_a_project(ledger: Ledger) -> None:
    receipt = ledger.tx("regulator", "CreditRegistry", "registerProject", PROJECT, ledger.address("enterprise_a"),
                        METHODOLOGY, PDD_HASH, LOCATION)

    assert ledger.events(receipt, "CreditRegistry", "ProjectRegistered") == [
        {"projectId": PROJECT, "owner": ledger.address("enterprise_a"), "methodology": METHODOLOGY,
         "documentHash": PDD_HASH, "location": LOCATION}
    ]
    assert view_struct(ledger, "CreditRegistry", "project", PROJECT) == {
        "owner": ledger.address("enterprise_a"), "status": ACTIVE, "lastPeriodEnd": 0, "documentHash": PDD_HASH,
        "methodology": METHODOLOGY, "location": LOCATION,
    }


def test_only_a_regulator_registers_projects(ledger: Ledger) -> None:
    with reverts("MissingRole", ledger.address("verifier"), ROLES["REGULATOR"]):
        ledger.tx("verifier", "CreditRegistry", "registerProject", PROJECT, ledger.address("enterprise_a"),
                  METHODOLOGY, PDD_HASH, LOCATION)


def test_a_project_is_registered_once(ledger: Ledger) -> None:
    register_project(ledger)
    with reverts("ProjectExists", PROJECT):
        register_project(ledger, owner="enterprise_b")


def test_a_project_owner_must_be_an_active_member(ledger: Ledger) -> None:
    with reverts("InactiveMember", ledger.address("stranger")):
        register_project(ledger, owner="stranger")


def test_a_project_needs_an_id(ledger: Ledger) -> None:
    with reverts("ZeroProjectId"):
        register_project(ledger, project_id=ZERO_HASH)


def test_unknown_project_is_reported(ledger: Ledger) -> None:
    with reverts("UnknownProject", OTHER_PROJECT):
        ledger.call("CreditRegistry", "project", OTHER_PROJECT)


def test_regulator_suspends_and_reinstates_a_project(ledger: Ledger) -> None:
    register_project(ledger)
    receipt = ledger.tx("regulator", "CreditRegistry", "suspendProject", PROJECT, REASON)
    assert ledger.events(receipt, "CreditRegistry", "ProjectSuspended") == [{"projectId": PROJECT,
                                                                              "reasonHash": REASON}]
    assert view_struct(ledger, "CreditRegistry", "project", PROJECT)["status"] == SUSPENDED
    with reverts("ProjectNotActive", PROJECT):
        ledger.tx("regulator", "CreditRegistry", "suspendProject", PROJECT, REASON)

    receipt = ledger.tx("regulator2", "CreditRegistry", "reinstateProject", PROJECT)
    assert ledger.events(receipt, "CreditRegistry", "ProjectReinstated") == [{"projectId": PROJECT}]
    assert view_struct(ledger, "CreditRegistry", "project", PROJECT)["status"] == ACTIVE
    with reverts("ProjectNotSuspended", PROJECT):
        ledger.tx("regulator", "CreditRegistry", "reinstateProject", PROJECT)


def test_only_a_regulator_suspends_projects(ledger: Ledger) -> None:
    register_project(ledger)
    with reverts("MissingRole", ledger.address("enterprise_a"), ROLES["REGULATOR"]):
        ledger.tx("enterprise_a", "CreditRegistry", "suspendProject", PROJECT, REASON)


# ---------------------------------------------------------------------- verification


def test_verifier_records_a_statement_for_a_monitoring_period(ledger: Ledger) -> None:
    register_project(ledger)
    receipt = ledger.tx("verifier", "CreditRegistry", "submitVerification", PROJECT, *YEAR_2024, 1_200, STATEMENT)

    assert ledger.events(receipt, "CreditRegistry", "VerificationSubmitted") == [
        {"projectId": PROJECT, "verifier": ledger.address("verifier"), "periodStart": YEAR_2024[0],
         "periodEnd": YEAR_2024[1], "verifiedTonnes": 1_200, "statementHash": STATEMENT}
    ]
    statement = view_struct(ledger, "CreditRegistry", "verification", PROJECT, *YEAR_2024)
    assert statement["verifier"] == ledger.address("verifier")
    assert statement["verifiedTonnes"] == 1_200
    assert statement["statementHash"] == STATEMENT
    assert statement["issued"] is False


def test_only_a_verifier_records_statements(ledger: Ledger) -> None:
    register_project(ledger)
    with reverts("MissingRole", ledger.address("regulator"), ROLES["VERIFIER"]):
        ledger.tx("regulator", "CreditRegistry", "submitVerification", PROJECT, *YEAR_2024, 1_000, STATEMENT)


def test_a_statement_needs_a_known_project_and_a_valid_period(ledger: Ledger) -> None:
    with reverts("UnknownProject", PROJECT):
        verify(ledger)
    register_project(ledger)
    with reverts("InvalidPeriod", YEAR_2024[1], YEAR_2024[0]):
        verify(ledger, (YEAR_2024[1], YEAR_2024[0]))


def test_one_statement_per_project_and_period(ledger: Ledger) -> None:
    register_project(ledger)
    verify(ledger)
    with reverts("VerificationExists", PROJECT, *YEAR_2024):
        verify(ledger, tonnes=2_000)


# ---------------------------------------------------------------------- issuance


def test_regulator_issues_a_verified_batch_to_the_project_owner(ledger: Ledger) -> None:
    register_project(ledger)
    verify(ledger, tonnes=1_000)
    receipt = ledger.tx("regulator", "CreditRegistry", "issueBatch", PROJECT, *YEAR_2024, 2024, 1_000, 5_001)

    assert ledger.events(receipt, "CreditRegistry", "BatchIssued") == [
        {"batchId": 1, "projectId": PROJECT, "owner": ledger.address("enterprise_a"), "vintage": 2024,
         "amount": 1_000, "serialStart": 5_001, "serialEnd": 6_000, "periodStart": YEAR_2024[0],
         "periodEnd": YEAR_2024[1], "statementHash": STATEMENT}
    ]
    assert credits(ledger, "enterprise_a", 1) == 1_000
    assert supply(ledger, 1) == 1_000
    assert ledger.call("CreditRegistry", "lastSerialEnd") == 6_000
    assert ledger.call("CreditRegistry", "batchCount") == 1
    assert view_struct(ledger, "CreditRegistry", "batch", 1) == {
        "projectId": PROJECT, "vintage": 2024, "periodStart": YEAR_2024[0], "periodEnd": YEAR_2024[1],
        "verifier": ledger.address("verifier"), "statementHash": STATEMENT, "amount": 1_000,
        "serialStart": 5_001, "serialEnd": 6_000, "nextSerial": 5_001, "retired": 0, "cancelled": 0,
        "surrendered": 0,
    }
    assert view_struct(ledger, "CreditRegistry", "verification", PROJECT, *YEAR_2024)["issued"] is True
    assert view_struct(ledger, "CreditRegistry", "project", PROJECT)["lastPeriodEnd"] == YEAR_2024[1]


def test_issuance_may_be_less_than_verified(ledger: Ledger) -> None:
    register_project(ledger)
    verify(ledger, tonnes=1_000)
    batch = issue(ledger, 600, 1)
    assert (batch.serial_start, batch.serial_end) == (1, 600)


def test_issuance_beyond_the_verified_amount_is_refused(ledger: Ledger) -> None:
    register_project(ledger)
    verify(ledger, tonnes=1_000)
    with reverts("ExceedsVerifiedAmount", 1_001, 1_000):
        issue(ledger, 1_001, 1)


def test_only_a_regulator_issues(ledger: Ledger) -> None:
    register_project(ledger)
    verify(ledger)
    with reverts("MissingRole", ledger.address("verifier"), ROLES["REGULATOR"]):
        ledger.tx("verifier", "CreditRegistry", "issueBatch", PROJECT, *YEAR_2024, 2024, 1_000, 1)


def test_issuance_needs_a_verification_statement(ledger: Ledger) -> None:
    register_project(ledger)
    with reverts("NoVerification", PROJECT, *YEAR_2024):
        issue(ledger, 1_000, 1)


def test_zero_issuance_is_refused(ledger: Ledger) -> None:
    register_project(ledger)
    verify(ledger)
    with reverts("ZeroAmount"):
        issue(ledger, 0, 1)


def test_the_same_project_and_period_is_issued_once(ledger: Ledger) -> None:
    verified_batch(ledger, amount=1_000)
    with reverts("PeriodAlreadyIssued", PROJECT, *YEAR_2024):
        issue(ledger, 1_000, 1_001)


def test_overlapping_monitoring_periods_are_refused(ledger: Ledger) -> None:
    register_project(ledger)
    verify(ledger, H1_2024)
    verify(ledger, YEAR_2024)
    issue(ledger, 1_000, 1, H1_2024)
    with reverts("MonitoringPeriodOverlap", PROJECT, YEAR_2024[0], H1_2024[1]):
        issue(ledger, 1_000, 1_001, YEAR_2024)


def test_consecutive_monitoring_periods_are_issued_in_order(ledger: Ledger) -> None:
    register_project(ledger)
    verify(ledger, H1_2024)
    verify(ledger, H2_2024)
    verify(ledger, YEAR_2023)
    first = issue(ledger, 400, 1, H1_2024)
    second = issue(ledger, 500, 401, H2_2024)
    assert (first.batch_id, second.batch_id) == (1, 2)
    assert (second.serial_start, second.serial_end) == (401, 900)
    with reverts("MonitoringPeriodOverlap", PROJECT, YEAR_2023[0], H2_2024[1]):
        issue(ledger, 100, 901, YEAR_2023, vintage=2023)


def test_serial_ranges_never_overlap_across_projects(ledger: Ledger) -> None:
    verified_batch(ledger, amount=1_000, serial_start=1)  # serials 1..1000
    register_project(ledger, OTHER_PROJECT, owner="enterprise_b")
    verify(ledger, YEAR_2024, 500, OTHER_PROJECT)
    with reverts("SerialRangeOverlap", 1_000, 1_000):
        issue(ledger, 500, 1_000, project_id=OTHER_PROJECT)
    with reverts("SerialRangeOverlap", 1, 1_000):
        issue(ledger, 500, 1, project_id=OTHER_PROJECT)
    batch = issue(ledger, 500, 1_001, project_id=OTHER_PROJECT)
    assert (batch.serial_start, batch.serial_end) == (1_001, 1_500)


def test_serials_start_at_one(ledger: Ledger) -> None:
    register_project(ledger)
    verify(ledger)
    with reverts("SerialRangeOverlap", 0, 0):
        issue(ledger, 1_000, 0)


def test_serials_end_within_the_48_bit_serial_space(ledger: Ledger) -> None:
    register_project(ledger)
    verify(ledger)
    top = 2**48 - 1
    with reverts("SerialOutOfRange", top - 998, 1_000):
        issue(ledger, 1_000, top - 998)
    batch = issue(ledger, 1_000, top - 999)
    assert (batch.serial_start, batch.serial_end) == (top - 999, top)


def test_a_period_beyond_48_bit_seconds_is_not_issued(ledger: Ledger) -> None:
    register_project(ledger)
    far = (YEAR_2024[0], 2**48)
    verify(ledger, far)
    with reverts("InvalidPeriod", *far):
        issue(ledger, 1_000, 1, far)


def test_a_batch_supply_is_its_serials_not_yet_consumed(ledger: Ledger) -> None:
    batch = verified_batch(ledger, amount=1_000, serial_start=101)
    retire(ledger, "enterprise_a", batch.batch_id, 30)
    assert supply(ledger, batch.batch_id) == 970
    assert view_struct(ledger, "CreditRegistry", "batch", batch.batch_id)["nextSerial"] == 131
    assert ledger.call("CreditRegistry", "exists", batch.batch_id) is True
    assert (supply(ledger, 99), ledger.call("CreditRegistry", "exists", 99)) == (0, False)


def test_a_suspended_project_gets_no_issuance(ledger: Ledger) -> None:
    register_project(ledger)
    verify(ledger)
    ledger.tx("regulator", "CreditRegistry", "suspendProject", PROJECT, REASON)
    with reverts("ProjectNotActive", PROJECT):
        issue(ledger, 1_000, 1)
    ledger.tx("regulator", "CreditRegistry", "reinstateProject", PROJECT)
    assert issue(ledger, 1_000, 1).batch_id == 1


def test_issuance_to_a_frozen_owner_is_refused(ledger: Ledger) -> None:
    register_project(ledger)
    verify(ledger)
    ledger.tx("regulator", "Membership", "freeze", ledger.address("enterprise_a"), REASON)
    with reverts("AccountCannotTransact", ledger.address("enterprise_a")):
        issue(ledger, 1_000, 1)


def test_unknown_batch_is_reported(ledger: Ledger) -> None:
    with reverts("UnknownBatch", 7):
        ledger.call("CreditRegistry", "batch", 7)


# ---------------------------------------------------------------------- transfers


def test_members_transfer_credits(ledger: Ledger) -> None:
    batch = verified_batch(ledger)
    transfer(ledger, "enterprise_a", "trader", batch.batch_id, 300)
    assert credits(ledger, "enterprise_a", batch.batch_id) == 700
    assert credits(ledger, "trader", batch.batch_id) == 300


def test_credits_cannot_go_to_a_non_member(ledger: Ledger) -> None:
    batch = verified_batch(ledger)
    with reverts("AccountCannotTransact", ledger.address("stranger")):
        transfer(ledger, "enterprise_a", "stranger", batch.batch_id, 1)


def test_a_frozen_holder_cannot_move_credits(ledger: Ledger) -> None:
    batch = verified_batch(ledger)
    ledger.tx("regulator", "Membership", "freeze", ledger.address("enterprise_a"), REASON)
    with reverts("AccountCannotTransact", ledger.address("enterprise_a")):
        transfer(ledger, "enterprise_a", "trader", batch.batch_id, 1)


def test_credits_cannot_go_to_a_frozen_or_suspended_member(ledger: Ledger) -> None:
    batch = verified_batch(ledger)
    ledger.tx("regulator", "Membership", "freeze", ledger.address("trader"), REASON)
    ledger.tx("regulator", "Membership", "suspend", ledger.address("trader2"), REASON)
    with reverts("AccountCannotTransact", ledger.address("trader")):
        transfer(ledger, "enterprise_a", "trader", batch.batch_id, 1)
    with reverts("AccountCannotTransact", ledger.address("trader2")):
        transfer(ledger, "enterprise_a", "trader2", batch.batch_id, 1)


def test_a_suspended_holder_cannot_move_credits(ledger: Ledger) -> None:
    batch = verified_batch(ledger)
    ledger.tx("regulator", "Membership", "suspend", ledger.address("enterprise_a"), REASON)
    with reverts("AccountCannotTransact", ledger.address("enterprise_a")):
        transfer(ledger, "enterprise_a", "trader", batch.batch_id, 1)


def test_a_non_member_operator_cannot_move_credits(ledger: Ledger) -> None:
    batch = verified_batch(ledger)
    ledger.tx("enterprise_a", "CreditRegistry", "setApprovalForAll", ledger.address("stranger"), True)
    with reverts("AccountCannotTransact", ledger.address("stranger")):
        transfer(ledger, "stranger", "trader", batch.batch_id, 1, holder="enterprise_a")


# ---------------------------------------------------------------------- retirement


def test_a_holder_retires_credits_and_gets_a_certificate_record(ledger: Ledger) -> None:
    batch = verified_batch(ledger, amount=1_000, serial_start=101)
    transfer(ledger, "enterprise_a", "trader", batch.batch_id, 400)

    event = retire(ledger, "trader", batch.batch_id, 250)

    assert event == {
        "retirementId": 1, "batchId": batch.batch_id, "holder": ledger.address("trader"), "projectId": PROJECT,
        "vintage": 2024, "amount": 250, "serialStart": 101, "serialEnd": 350,
        "beneficiary": "Shanghai Metro Line 14", "purpose": "Carbon-neutral operation 2024", "jurisdiction": "CN",
        "consumptionStart": YEAR_2024[0], "consumptionEnd": YEAR_2024[1],
    }
    # The registry keeps the hash of the record the certificate states; the record is in the event.
    record = (batch.batch_id, ledger.address("trader"), 250, 101, 350, "Shanghai Metro Line 14",
              "Carbon-neutral operation 2024", "CN", YEAR_2024[0], YEAR_2024[1])
    commitment = ledger.call("CreditRegistry", "retirement", 1)
    types = "(uint256,address,uint256,uint256,uint256,string,string,string,uint64,uint64)"
    assert commitment == keccak(encode([types], [record]))
    assert commitment == ledger.call("CreditRegistry", "retirementHash", record)
    assert credits(ledger, "trader", batch.batch_id) == 150
    assert supply(ledger, batch.batch_id) == 750
    assert view_struct(ledger, "CreditRegistry", "batch", batch.batch_id)["retired"] == 250
    assert ledger.call("CreditRegistry", "retirementCount") == 1


def test_retirements_consume_serials_first_in_first_out(ledger: Ledger) -> None:
    batch = verified_batch(ledger, amount=1_000, serial_start=101)
    first = retire(ledger, "enterprise_a", batch.batch_id, 10)
    second = retire(ledger, "enterprise_a", batch.batch_id, 5)
    assert (first["serialStart"], first["serialEnd"]) == (101, 110)
    assert (second["retirementId"], second["serialStart"], second["serialEnd"]) == (2, 111, 115)
    assert view_struct(ledger, "CreditRegistry", "batch", batch.batch_id)["nextSerial"] == 116


def test_retiring_more_than_held_is_refused(ledger: Ledger) -> None:
    batch = verified_batch(ledger, amount=1_000)
    transfer(ledger, "enterprise_a", "trader", batch.batch_id, 100)
    with reverts("ERC1155InsufficientBalance", ledger.address("trader"), 100, 101, batch.batch_id):
        retire(ledger, "trader", batch.batch_id, 101)
    assert view_struct(ledger, "CreditRegistry", "batch", batch.batch_id)["nextSerial"] == 1


def test_retired_credits_can_never_move_again(ledger: Ledger) -> None:
    batch = verified_batch(ledger, amount=1_000)
    retire(ledger, "enterprise_a", batch.batch_id, 1_000)
    assert credits(ledger, "enterprise_a", batch.batch_id) == 0
    with reverts("ERC1155InsufficientBalance", ledger.address("enterprise_a"), 0, 1, batch.batch_id):
        transfer(ledger, "enterprise_a", "trader", batch.batch_id, 1)
    with reverts("ERC1155InsufficientBalance", ledger.address("enterprise_a"), 0, 1, batch.batch_id):
        retire(ledger, "enterprise_a", batch.batch_id, 1)


def test_a_frozen_holder_cannot_retire(ledger: Ledger) -> None:
    batch = verified_batch(ledger)
    ledger.tx("regulator", "Membership", "freeze", ledger.address("enterprise_a"), REASON)
    with reverts("AccountCannotTransact", ledger.address("enterprise_a")):
        retire(ledger, "enterprise_a", batch.batch_id, 1)


def test_a_non_member_cannot_retire(ledger: Ledger) -> None:
    batch = verified_batch(ledger)
    with reverts("AccountCannotTransact", ledger.address("stranger")):
        retire(ledger, "stranger", batch.batch_id, 1)


def test_retirement_refuses_nothing_and_unknown_batches(ledger: Ledger) -> None:
    batch = verified_batch(ledger)
    with reverts("ZeroAmount"):
        retire(ledger, "enterprise_a", batch.batch_id, 0)
    with reverts("UnknownBatch", 9):
        retire(ledger, "enterprise_a", 9, 1)


def test_retirement_consumption_period_must_be_ordered(ledger: Ledger) -> None:
    batch = verified_batch(ledger)
    with reverts("InvalidPeriod", YEAR_2024[1], YEAR_2024[0]):
        ledger.tx("enterprise_a", "CreditRegistry", "retire", batch.batch_id, 1, "Beneficiary", "Purpose", "CN",
                  YEAR_2024[1], YEAR_2024[0])


def test_unknown_retirement_is_reported(ledger: Ledger) -> None:
    with reverts("UnknownRetirement", 1):
        ledger.call("CreditRegistry", "retirement", 1)


# ---------------------------------------------------------------------- cancellation


def test_regulator_cancels_invalidated_credits(ledger: Ledger) -> None:
    batch = verified_batch(ledger, amount=1_000, serial_start=1)
    retire(ledger, "enterprise_a", batch.batch_id, 100)  # serials 1..100

    receipt = ledger.tx("regulator", "CreditRegistry", "cancelCredits", ledger.address("enterprise_a"),
                        batch.batch_id, 40, REASON)

    assert ledger.events(receipt, "CreditRegistry", "CreditsCancelled") == [
        {"batchId": batch.batch_id, "holder": ledger.address("enterprise_a"), "amount": 40, "serialStart": 101,
         "serialEnd": 140, "reasonHash": REASON}
    ]
    assert credits(ledger, "enterprise_a", batch.batch_id) == 860
    state = view_struct(ledger, "CreditRegistry", "batch", batch.batch_id)
    assert (state["retired"], state["cancelled"], state["nextSerial"]) == (100, 40, 141)


def test_frozen_holdings_can_still_be_cancelled(ledger: Ledger) -> None:
    batch = verified_batch(ledger)
    ledger.tx("regulator", "Membership", "freeze", ledger.address("enterprise_a"), REASON)
    ledger.tx("regulator", "CreditRegistry", "cancelCredits", ledger.address("enterprise_a"), batch.batch_id, 1_000,
              REASON)
    assert credits(ledger, "enterprise_a", batch.batch_id) == 0


def test_only_a_regulator_cancels(ledger: Ledger) -> None:
    batch = verified_batch(ledger)
    with reverts("MissingRole", ledger.address("enterprise_a"), ROLES["REGULATOR"]):
        ledger.tx("enterprise_a", "CreditRegistry", "cancelCredits", ledger.address("enterprise_a"), batch.batch_id,
                  1, REASON)


def test_cancelling_more_than_held_is_refused(ledger: Ledger) -> None:
    batch = verified_batch(ledger, amount=1_000)
    with reverts("ERC1155InsufficientBalance", ledger.address("trader"), 0, 1, batch.batch_id):
        ledger.tx("regulator", "CreditRegistry", "cancelCredits", ledger.address("trader"), batch.batch_id, 1, REASON)


def test_escrowed_credits_cannot_be_cancelled(ledger: Ledger) -> None:
    batch = verified_batch(ledger)
    market = ledger.contract("CarbonMarket").address
    with reverts("CannotCancelEscrow", market):
        ledger.tx("regulator", "CreditRegistry", "cancelCredits", market, batch.batch_id, 1, REASON)


# ---------------------------------------------------------------------- surrender for compliance


def test_an_enterprise_surrenders_credits_towards_its_obligation(ledger: Ledger) -> None:
    batch = verified_batch(ledger, amount=1_000, serial_start=1)
    set_obligation(ledger, ORG_A, 2024, 10_000)  # cap: 5% = 500 t

    receipt = ledger.tx("enterprise_a", "CreditRegistry", "surrender", batch.batch_id, 300, 2024)

    assert ledger.events(receipt, "CreditRegistry", "CreditsSurrendered") == [
        {"batchId": batch.batch_id, "holder": ledger.address("enterprise_a"), "orgId": ORG_A, "year": 2024,
         "amount": 300, "serialStart": 1, "serialEnd": 300}
    ]
    assert ledger.events(receipt, "ComplianceLedger", "SurrenderRecorded") == [
        {"orgId": ORG_A, "year": 2024, "kind": 2, "registry": ledger.contract("CreditRegistry").address,
         "tonnes": 300}
    ]
    obligation, allowances, credit_total, shortfall, _ = ledger.call("ComplianceLedger", "complianceStatus", ORG_A,
                                                                      2024)
    assert (obligation, allowances, credit_total, shortfall) == (10_000, 0, 300, 9_700)
    assert credits(ledger, "enterprise_a", batch.batch_id) == 700
    assert view_struct(ledger, "CreditRegistry", "batch", batch.batch_id)["surrendered"] == 300


def test_surrender_beyond_the_credit_cap_is_refused(ledger: Ledger) -> None:
    batch = verified_batch(ledger, amount=1_000)
    set_obligation(ledger, ORG_A, 2024, 10_000)  # cap: 500 t
    ledger.tx("enterprise_a", "CreditRegistry", "surrender", batch.batch_id, 300, 2024)
    with reverts("CreditCapExceeded", ORG_A, 2024, 201, 200):
        ledger.tx("enterprise_a", "CreditRegistry", "surrender", batch.batch_id, 201, 2024)
    assert credits(ledger, "enterprise_a", batch.batch_id) == 700
    assert view_struct(ledger, "CreditRegistry", "batch", batch.batch_id)["nextSerial"] == 301


def test_surrender_needs_an_open_compliance_window(ledger: Ledger) -> None:
    batch = verified_batch(ledger)
    set_obligation(ledger, ORG_A, 2024, 10_000, open_window=False)
    with reverts("ComplianceWindowNotOpen", 2024):
        ledger.tx("enterprise_a", "CreditRegistry", "surrender", batch.batch_id, 10, 2024)


def test_only_enterprises_surrender(ledger: Ledger) -> None:
    batch = verified_batch(ledger)
    transfer(ledger, "enterprise_a", "trader", batch.batch_id, 10)
    with reverts("MissingRole", ledger.address("trader"), ROLES["ENTERPRISE"]):
        ledger.tx("trader", "CreditRegistry", "surrender", batch.batch_id, 10, 2024)


def test_a_frozen_enterprise_cannot_surrender(ledger: Ledger) -> None:
    batch = verified_batch(ledger)
    set_obligation(ledger, ORG_A, 2024, 10_000)
    ledger.tx("regulator", "Membership", "freeze", ledger.address("enterprise_a"), REASON)
    with reverts("AccountCannotTransact", ledger.address("enterprise_a")):
        ledger.tx("enterprise_a", "CreditRegistry", "surrender", batch.batch_id, 10, 2024)


def test_a_suspended_enterprise_cannot_surrender(ledger: Ledger) -> None:
    batch = verified_batch(ledger)
    set_obligation(ledger, ORG_A, 2024, 10_000)
    ledger.tx("regulator", "Membership", "suspend", ledger.address("enterprise_a"), REASON)
    with reverts("MissingRole", ledger.address("enterprise_a"), ROLES["ENTERPRISE"]):
        ledger.tx("enterprise_a", "CreditRegistry", "surrender", batch.batch_id, 10, 2024)


def test_retirement_cancellation_and_surrender_share_the_serial_cursor(ledger: Ledger) -> None:
    batch = verified_batch(ledger, amount=1_000, serial_start=2_001)
    set_obligation(ledger, ORG_B, 2024, 10_000)
    transfer(ledger, "enterprise_a", "enterprise_b", batch.batch_id, 500)

    retired = retire(ledger, "enterprise_a", batch.batch_id, 100)
    receipt = ledger.tx("enterprise_b", "CreditRegistry", "surrender", batch.batch_id, 200, 2024)
    (surrendered,) = ledger.events(receipt, "CreditRegistry", "CreditsSurrendered")
    receipt = ledger.tx("regulator", "CreditRegistry", "cancelCredits", ledger.address("enterprise_b"),
                        batch.batch_id, 50, REASON)
    (cancelled,) = ledger.events(receipt, "CreditRegistry", "CreditsCancelled")

    assert (retired["serialStart"], retired["serialEnd"]) == (2_001, 2_100)
    assert (surrendered["orgId"], surrendered["serialStart"], surrendered["serialEnd"]) == (ORG_B, 2_101, 2_300)
    assert (cancelled["serialStart"], cancelled["serialEnd"]) == (2_301, 2_350)
    assert supply(ledger, batch.batch_id) == 650
