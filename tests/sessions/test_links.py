from chargewatch.sessions.links import reply_token, session_token, transaction_of, transaction_of_reply_token

SECRET = b"k" * 32


def test_a_driver_token_names_its_transaction():
    assert transaction_of(SECRET, session_token(SECRET, 4711)) == 4711


def test_a_forged_or_foreign_token_is_refused():
    token = session_token(SECRET, 4711)
    assert transaction_of(SECRET, token.replace("4711-", "4712-")) is None
    assert transaction_of(b"other" * 8, token) is None
    assert transaction_of(SECRET, "4711") is None
    assert transaction_of(SECRET, "x-" + token.split("-", 1)[1]) is None


def test_a_token_whose_number_is_not_ascii_digits_is_refused_not_a_crash():
    """str.isdigit() takes "²" and "٣", which int() refuses: such a token is not genuine, never a 500."""
    tag = session_token(SECRET, 4711).split("-", 1)[1]
    for number in ("²", "٣", "4711²"):
        assert transaction_of(SECRET, f"{number}-{tag}") is None
    reply_tag = reply_token(SECRET, 4711).split("-", 1)[1]
    assert transaction_of_reply_token(SECRET, f"²-{reply_tag}") is None
