from collections import Counter

from marketplace.vouchercodes import CODE_ALPHABET, CODE_LENGTH, new_voucher_code


def test_voucher_codes_are_16_symbols_of_the_unambiguous_alphabet_and_uniform():
    codes = [new_voucher_code() for _ in range(20_000)]
    assert len(set(codes)) == len(codes)
    assert all(len(c) == CODE_LENGTH and set(c) <= set(CODE_ALPHABET) for c in codes)
    assert not set("ILOU") & set("".join(codes))
    counts = Counter("".join(codes))
    expected = 20_000 * CODE_LENGTH / 32
    assert len(counts) == 32
    assert all(abs(n - expected) < expected * 0.1 for n in counts.values())


def test_a_code_is_its_bytes_in_base32_written_in_our_alphabet():
    """The pair table writes the same code as RFC 4648 base32 of the same 10 bytes, with its
    alphabet mapped onto ours: every bit used once, most significant first."""
    import base64
    import os

    from marketplace.vouchercodes import code_from_bytes

    rfc = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", CODE_ALPHABET)
    samples = [bytes(10), b"\xff" * 10, bytes(range(10)), b"\x80" + bytes(9), bytes(9) + b"\x01"]
    samples += [os.urandom(10) for _ in range(5_000)]
    for raw in samples:
        assert code_from_bytes(raw) == base64.b32encode(raw).decode().translate(rfc), raw
    assert code_from_bytes(bytes(9) + b"\x01") == "0" * 15 + "1"
    assert code_from_bytes(b"\x80" + bytes(9)) == "G" + "0" * 15
