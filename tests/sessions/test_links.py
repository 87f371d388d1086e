from chargewatch.sessions.links import session_token, transaction_of

SECRET = b"k" * 32


def test_a_driver_token_names_its_transaction():
    assert transaction_of(SECRET, session_token(SECRET, 4711)) == 4711


def test_a_forged_or_foreign_token_is_refused():
    token = session_token(SECRET, 4711)
    assert transaction_of(SECRET, token.replace("4711-", "4712-")) is None
    assert transaction_of(b"other" * 8, token) is None
    assert transaction_of(SECRET, "4711") is None
    assert transaction_of(SECRET, "x-" + token.split("-", 1)[1]) is None
