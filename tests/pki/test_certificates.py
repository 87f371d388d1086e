"""The pure PKI code: CSR checks, signing, CertificateHashData, the CA files, and how each OCPP version says the
certificate commands."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from hypothesis import example, given, settings
from hypothesis import strategies as st

from chargewatch.domain.model import CertificateSigningRequested, ChargerState
from chargewatch.ocpp import v16, v201
from chargewatch.ocpp.adapter import Environment
from chargewatch.pki import answers
from chargewatch.pki.authority import Authority, AuthorityConfig, AuthorityError, init_authority
from chargewatch.pki.certificates import CertificateHash, check_csr, hash_data, load_certificates
from pki.peers import make_csr, own_hash_data

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def _csr(name: str, key: object, algorithm: hashes.HashAlgorithm | None = None) -> str:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    request = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, algorithm or hashes.SHA256())
    return request.public_bytes(serialization.Encoding.PEM).decode()


def test_a_good_csr_is_accepted() -> None:
    csr, _ = make_csr("CP-1")
    verdict = check_csr(csr, "CP-1")
    assert verdict.accepted and verdict.reason is None and verdict.key == "EC secp256r1"
    assert check_csr(_csr("CP-1", rsa.generate_private_key(65537, 2048)), "CP-1").accepted


@pytest.mark.parametrize(("make", "reason"), [
    (lambda: "garbage", "not a PEM-encoded PKCS#10 certificate signing request"),
    (lambda: make_csr("CP-2")[0], "commonName 'CP-2' is not the charger's identity 'CP-1'"),
    (lambda: _csr("CP-1", rsa.generate_private_key(65537, 1024)), "RSA key of 1024 bits (at least 2048)"),
    (lambda: _csr("CP-1", ec.generate_private_key(ec.SECP256K1())), "EC curve secp256k1"),
    (lambda: "x" * 5501, "csr longer than 5500 characters"),
])
def test_a_bad_csr_is_refused_with_its_reason(make, reason) -> None:  # type: ignore[no-untyped-def]
    verdict = check_csr(make(), "CP-1")
    assert not verdict.accepted
    assert verdict.reason is not None and verdict.reason.startswith(reason)


def test_a_tampered_csr_does_not_verify() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    other = ec.generate_private_key(ec.SECP256R1())
    good = x509.load_pem_x509_csr(_csr("CP-1", key).encode())
    # the same request signed, then its public key swapped: the signature no longer matches the key
    der = bytearray(good.public_bytes(serialization.Encoding.DER))
    mine = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    theirs = other.public_key().public_bytes(serialization.Encoding.X962,
                                             serialization.PublicFormat.UncompressedPoint)
    start = bytes(der).index(mine)
    der[start:start + len(mine)] = theirs
    tampered = x509.load_der_x509_csr(bytes(der)).public_bytes(serialization.Encoding.PEM).decode()
    assert check_csr(tampered, "CP-1").reason == "the request's signature does not verify"


def test_the_ca_signs_a_chain_the_charger_can_verify(tmp_path: Path) -> None:
    cert_path, key_path = init_authority(tmp_path / "ca", "CPO CA", NOW)
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    with pytest.raises(AuthorityError, match="exists"):
        init_authority(tmp_path / "ca", "CPO CA", NOW)
    authority = Authority(AuthorityConfig.from_env({"CHARGEWATCH_CA_DIR": str(tmp_path / "ca")}))
    assert authority.available()
    loaded = authority.load()
    csr, key = make_csr("CP-1")
    leaf, chain = loaded.sign(csr, NOW, 30)
    certificates = load_certificates(chain)
    assert certificates[0] == leaf and certificates[1] == loaded.certificate
    leaf.verify_directly_issued_by(loaded.certificate)
    assert leaf.public_key() == key.public_key()
    assert leaf.not_valid_after_utc == NOW + timedelta(days=30)
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    # the issuer key hash of a leaf is the CA's key, as the charger computes it for the root
    assert hash_data(leaf, loaded.certificate).issuer_key_hash == own_hash_data(loaded.certificate)["issuerKeyHash"]


def test_a_key_of_another_ca_is_refused(tmp_path: Path) -> None:
    init_authority(tmp_path / "a", "A", NOW)
    init_authority(tmp_path / "b", "B", NOW)
    authority = Authority(AuthorityConfig(tmp_path / "a" / "ca.pem", tmp_path / "b" / "ca.key"))
    with pytest.raises(AuthorityError, match="does not belong") as raised:
        authority.load()
    assert "PRIVATE KEY" not in str(raised.value)
    assert not Authority(AuthorityConfig.from_env({})).available()


def test_hash_data_of_a_root_matches_an_independent_computation(tmp_path: Path) -> None:
    cert_path, _ = init_authority(tmp_path / "ca", "CPO CA", NOW)
    root = load_certificates(cert_path.read_text())[0]
    ours = hash_data(root).to_ocpp()
    theirs = own_hash_data(root)
    assert ours == theirs
    assert CertificateHash.from_ocpp({**theirs, "issuerNameHash": theirs["issuerNameHash"].upper(),
                                      "serialNumber": "00" + theirs["serialNumber"]}) == hash_data(root)


def _env(can_sign: bool) -> Environment:
    return Environment(now=NOW, id_tag_info=lambda tag: {"status": "Accepted"}, allocate_transaction_id=lambda: 1,
                       can_sign_certificates=can_sign)


def test_sign_certificate_is_a_charger_message_in_both_versions() -> None:
    assert "SignCertificate" in v16.CHARGER_ACTIONS and "SignCertificate" not in v16.CENTRAL_ACTIONS
    assert "SignCertificate" in v201.core.HANDLED
    csr, _ = make_csr("CP-1")
    outcome = v16.handle("SignCertificate", {"csr": csr}, ChargerState("CP-1"), _env(True))
    assert outcome.reply == {"status": "Accepted"}
    change = outcome.changes[0]
    assert isinstance(change, CertificateSigningRequested) and change.accepted
    assert change.certificate_type == "ChargingStationCertificate"
    refused = v201.core.handle("SignCertificate", {"csr": csr}, ChargerState("CP-9"), _env(True))
    assert refused.reply["status"] == "Rejected"
    assert refused.reply["statusInfo"]["reasonCode"] == "InvalidCSR"
    no_ca = v201.core.handle("SignCertificate", {"csr": csr}, ChargerState("CP-1"), _env(False))
    assert no_ca.reply["statusInfo"]["reasonCode"] == "NoCA"


def test_certificate_commands_in_each_versions_words() -> None:
    state = ChargerState("CP-1")
    renew16 = v16.ADAPTER.render("TriggerMessage", {"requestedMessage": "SignChargingStationCertificate"}, state)
    assert (renew16.action, renew16.payload) == ("ExtendedTriggerMessage",
                                                 {"requestedMessage": "SignChargePointCertificate"})
    renew201 = v201.ADAPTER.render("ExtendedTriggerMessage", {"requestedMessage": "SignChargePointCertificate"},
                                   state)
    assert (renew201.action, renew201.payload) == ("TriggerMessage",
                                                   {"requestedMessage": "SignChargingStationCertificate"})
    install16 = v16.ADAPTER.render("InstallCertificate", {"certificateType": "CSMSRootCertificate",
                                                          "certificate": "PEM"}, state)
    assert install16.payload["certificateType"] == "CentralSystemRootCertificate"
    install201 = v201.ADAPTER.render("InstallCertificate", {"certificateType": "CentralSystemRootCertificate",
                                                            "certificate": "PEM"}, state)
    assert install201.payload["certificateType"] == "CSMSRootCertificate"
    listing = v201.ADAPTER.render("GetInstalledCertificateIds", {"certificateType": "CSMSRootCertificate"}, state)
    assert listing.payload == {"certificateType": ["CSMSRootCertificate"]}
    signed16 = v16.ADAPTER.render("CertificateSigned", {"certificateChain": "PEM",
                                                        "certificateType": "ChargingStationCertificate"}, state)
    assert signed16.payload == {"certificateChain": "PEM"}
    with pytest.raises(ValueError, match="OCPP 1.6 knows only"):
        v16.ADAPTER.render("InstallCertificate", {"certificateType": "V2GRootCertificate", "certificate": "P"}, state)
    with pytest.raises(ValueError, match="OCPP 1.6 has only the charge point certificate"):
        v16.ADAPTER.render("CertificateSigned", {"certificateChain": "P", "certificateType": "V2GCertificate"}, state)


def test_listing_answers_of_both_versions() -> None:
    h = {"hashAlgorithm": "SHA256", "issuerNameHash": "AA", "issuerKeyHash": "bb", "serialNumber": "0f"}
    one = answers.listed({"certificateType": "CentralSystemRootCertificate"},
                         {"status": "Accepted", "certificateHashData": [h]})
    assert one == {"CSMSRootCertificate": [CertificateHash("SHA256", "aa", "bb", "f")]}
    chain = answers.listed({"certificateType": ["V2GCertificateChain"]}, {"status": "Accepted",
                           "certificateHashDataChain": [{"certificateType": "V2GCertificateChain",
                                                         "certificateHashData": h,
                                                         "childCertificateHashData": [h]}]})
    assert len(chain["V2GCertificateChain"]) == 2
    assert answers.listed({"certificateType": "ManufacturerRootCertificate"}, {"status": "NotFound"}) == {
        "ManufacturerRootCertificate": []}
    assert answers.deleted({"certificateHashData": h}, {"status": "Failed"}) is None


@settings(max_examples=200, deadline=None)
@example("\ud800")  # a lone surrogate, which JSON allows in a string
@given(st.text(max_size=300) | st.builds(lambda body: f"-----BEGIN CERTIFICATE REQUEST-----\n{body}\n"
                                                       "-----END CERTIFICATE REQUEST-----", st.text(max_size=200)))
def test_any_text_as_csr_is_refused_never_raises(text: str) -> None:
    verdict = check_csr(text, "CP-1")
    assert not verdict.accepted and verdict.reason
