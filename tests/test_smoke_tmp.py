from tests.support.reverts import reverts
from tests.support.cast import ROLES

def test_smoke(ledger):
    assert ledger.call("Membership", "isActive", ledger.address("verifier"))
    with reverts("AlreadyMember", ledger.address("verifier")):
        ledger.tx("regulator", "Membership", "admit", ledger.address("verifier"), 20, [])
    with reverts("AccessControlUnauthorizedAccount", ledger.address("stranger"), ROLES["REGULATOR"]):
        ledger.tx("stranger", "Membership", "admit", ledger.address("stranger"), 20, [])
    with reverts("UnknownOrganisation", 999):
        ledger.call("Membership", "organisation", 999)
