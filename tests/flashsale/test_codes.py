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
