import re

import pytest
from django.test import override_settings

from redemption.codes import (
    ALPHABET,
    check_character,
    code_generate,
    code_hash,
    code_hint,
    code_normalise,
)
from redemption.exceptions import CodeTypo, InvalidCodeFormat

FORMAT = re.compile(rf"^[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}$")


def with_check(data: str) -> str:
    return data + check_character(data)


EXHAUSTIVE_CODES = [with_check("23456789ABC"), with_check("ZZZZYYYYXX2"), code_generate(), code_generate()]


def test_alphabet_has_31_symbols_without_look_alikes():
    assert len(ALPHABET) == len(set(ALPHABET)) == 31
    assert not set("01ILO") & set(ALPHABET)


def test_generated_codes_are_formatted_valid_and_distinct():
    codes = [code_generate() for _ in range(2000)]

    assert all(FORMAT.match(code) for code in codes)
    assert all(code_normalise(code) == code.replace("-", "") for code in codes)
    assert len(set(codes)) == len(codes)
    assert set("".join(codes).replace("-", "")) == set(ALPHABET)


@pytest.mark.parametrize("code", EXHAUSTIVE_CODES)
def test_every_single_substitution_is_caught(code):
    bare = code.replace("-", "")
    for position in range(len(bare)):
        for symbol in ALPHABET:
            if symbol == bare[position]:
                continue
            wrong = bare[:position] + symbol + bare[position + 1 :]
            with pytest.raises(CodeTypo):
                code_normalise(wrong)


@pytest.mark.parametrize("code", EXHAUSTIVE_CODES)
def test_every_swap_of_two_different_neighbours_is_caught(code):
    bare = code.replace("-", "")
    swaps = 0
    for position in range(len(bare) - 1):
        if bare[position] == bare[position + 1]:
            continue
        swapped = bare[:position] + bare[position + 1] + bare[position] + bare[position + 2 :]
        with pytest.raises(CodeTypo):
            code_normalise(swapped)
        swaps += 1
    assert swaps > 0


def test_neighbour_swaps_are_caught_at_every_position_over_many_codes():
    for _ in range(500):
        bare = code_generate().replace("-", "")
        for position in range(len(bare) - 1):
            if bare[position] != bare[position + 1]:
                swapped = bare[:position] + bare[position + 1] + bare[position] + bare[position + 2 :]
                with pytest.raises(CodeTypo):
                    code_normalise(swapped)


def test_normalisation_ignores_case_spaces_and_dashes():
    code = code_generate()
    bare = code.replace("-", "")

    assert code_normalise(code.lower()) == bare
    assert code_normalise(f"  {bare[:4]} {bare[4:8]}  {bare[8:]} ") == bare
    assert code_normalise(f"{bare[:6]}--{bare[6:]}") == bare


@pytest.mark.parametrize("raw", ["", "ABCD-EFGH-JKM", "ABCD-EFGH-JKMNP", "ABCD-EFGH-JKM0", "ABCD-EFGH-JKMI", None, 12])
def test_what_cannot_be_a_code_is_an_invalid_format(raw):
    with pytest.raises(InvalidCodeFormat):
        code_normalise(raw)


def test_the_hash_is_keyed_by_the_secret():
    bare = code_normalise(code_generate())

    with override_settings(REDEMPTION_CODE_SECRET="first-secret"):
        first = code_hash(bare)
    with override_settings(REDEMPTION_CODE_SECRET="second-secret"):
        second = code_hash(bare)

    assert first != second
    assert first == code_hash(bare, secret="first-secret")
    assert re.fullmatch(r"[0-9a-f]{64}", first)
    assert bare not in first


def test_a_hint_shows_at_most_four_characters():
    code = code_generate()

    assert code_hint(code) == code[:4] + "…"
