import base64

from chargewatch.feedback.tokens import issue_token, token_digest, token_matches


def test_token_carries_at_least_128_random_bits():
    raw = issue_token().raw
    assert len(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))) * 8 >= 128


def test_tokens_are_unique():
    assert len({issue_token().raw for _ in range(200)}) == 200


def test_digest_is_sha256_hex_and_not_the_token():
    token = issue_token()
    assert len(token.digest) == 64
    assert token.raw not in token.digest
    assert token.digest == token_digest(token.raw)


def test_token_matches_its_digest_only():
    token, other = issue_token(), issue_token()
    assert token_matches(token.raw, token.digest)
    assert not token_matches(other.raw, token.digest)


def test_oversized_or_empty_token_never_matches():
    assert not token_matches("", token_digest(""))
    assert not token_matches("a" * 10_000, token_digest("a" * 10_000))


def test_repr_does_not_leak_the_raw_token():
    token = issue_token()
    assert token.raw not in repr(token)
