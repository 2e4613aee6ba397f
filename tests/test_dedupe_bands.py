"""What the LSH bands promise the warehouse: equal band keys exactly where signatures agree.

Found by mutation testing (make mutation): a band key that also hashed the next band's rows
passed every other test, yet copies agreeing in one band only would stop being candidates.
"""

from __future__ import annotations

from spacewatch.extractors import dedupe

ROW_BYTES = dedupe.ROWS * 4


def test_signatures_agreeing_in_one_band_share_that_band_key_only() -> None:
    a = dedupe.signature("the crew of the lunar station returned after six months in orbit")
    assert a is not None
    for band in (0, 7, dedupe.BANDS - 1):
        # b agrees with a in `band` and differs in every row of every other band.
        b = bytearray(byte ^ 0xFF for byte in a)
        b[band * ROW_BYTES : (band + 1) * ROW_BYTES] = a[band * ROW_BYTES : (band + 1) * ROW_BYTES]
        keys_a, keys_b = dedupe.band_hashes(a), dedupe.band_hashes(bytes(b))
        assert [i for i in range(dedupe.BANDS) if keys_a[i] == keys_b[i]] == [band]


def test_equal_rows_in_different_bands_give_different_keys() -> None:
    """A band matches only the same band of another signature, not any band with equal rows."""
    keys = dedupe.band_hashes(bytes(dedupe.NUM_PERM * 4))  # every row zero
    assert len(set(keys)) == dedupe.BANDS


def test_shingles_are_every_window_of_five_words_once() -> None:
    assert dedupe.shingles("One two three four five six, seven! one two three four five") == {
        b"one two three four five",
        b"two three four five six",
        b"three four five six seven",
        b"four five six seven one",
        b"five six seven one two",
        b"six seven one two three",
        b"seven one two three four",
    }
    assert dedupe.shingles("one two three four five") == {b"one two three four five"}
