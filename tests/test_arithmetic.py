"""Expressions of tokens: parsing, and their evaluation against a brute-force reference on seeded matrices."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

from atlas.core.arithmetic import (
    Term,
    block_reader,
    combine,
    cosine_scores,
    describe,
    parse,
    ranked,
    unit_mean,
)
from atlas.errors import ExpressionError

# --- parsing -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expression, terms",
    [
        ("king - man + woman", [(1.0, "king", False, 1), (-1.0, "man", False, 8), (1.0, "woman", False, 14)]),
        ("king-man+woman", [(1.0, "king", False, 1), (-1.0, "man", False, 6), (1.0, "woman", False, 10)]),
        ("0.5*paris", [(0.5, "paris", False, 5)]),
        ("- 2 * king + .25*queen", [(-2.0, "king", False, 7), (0.25, "queen", False, 18)]),
        ("+cat", [(1.0, "cat", False, 2)]),
        ('" king" - " man"', [(1.0, " king", True, 1), (-1.0, " man", True, 11)]),
        (
            '"artificial intelligence" - 3*"a \\"b\\" \\\\ c"',
            [(1.0, "artificial intelligence", True, 1), (-3.0, 'a "b" \\ c', True, 31)],
        ),
        ("##ing + 2025", [(1.0, "##ing", False, 1), (1.0, "2025", False, 9)]),
        ("2*2025", [(2.0, "2025", False, 3)]),
        ("\tking\n-\tman ", [(1.0, "king", False, 2), (-1.0, "man", False, 9)]),
        ("0*king", [(0.0, "king", False, 3)]),
    ],
)
def test_parse(expression, terms):
    assert parse(expression) == [Term(*t) for t in terms]


@pytest.mark.parametrize(
    "expression, message",
    [
        ("", 'the expression is empty; write one like "king - man + woman"'),
        ("   ", 'the expression is empty; write one like "king - man + woman"'),
        ("king -", "expected a token after '-' at position 7, found the end of the expression"),
        ("king - + woman", "expected a token after '-' at position 8, found '+'"),
        ("-", "expected a token after '-' at position 2, found the end of the expression"),
        ("* king", "expected a token at position 1, found '*'"),
        ("0.5*", "expected a token after '*' at position 5, found the end of the expression"),
        ("2*-king", "expected a token after '*' at position 3, found '-'"),
        ("king man", "expected '+' or '-' at position 6, found 'man'"),
        ('king "man"', "expected '+' or '-' at position 6, found \"man\""),
        ("king*2", "expected '+' or '-' at position 5, found '*' (a weight goes before its token: 2*king)"),
        ('king + "queen', 'the quote at position 8 is never closed; end the text with "'),
        ('king + ""', "the quoted text at position 8 is empty; put a token between the quotes"),
    ],
)
def test_parse_errors_point_at_the_position(expression, message):
    with pytest.raises(ExpressionError, match=f"^{re.escape(message)}$"):
        parse(expression)


@pytest.mark.parametrize(
    "expression",
    ["king - man + woman", "-king", '0.5*paris - 2*"a b" + c', '"say \\"hi\\"" + "back\\\\slash"', "1.5*x"],
)
def test_describe_reads_back_to_the_same_terms(expression):
    terms = parse(expression)
    assert [(t.weight, t.text, t.quoted) for t in parse(describe(terms))] == [
        (t.weight, t.text, t.quoted) for t in terms
    ]


# --- evaluation against brute force -----------------------------------------------------------


def seeded_matrix(rows: int, dim: int, seed: int) -> np.ndarray:
    """Gaussian rows with some zero rows and some exact copies of earlier rows, (rows, dim) float32."""
    rng = np.random.default_rng(seed)
    matrix = rng.standard_normal((rows, dim)).astype(np.float32) * rng.uniform(0.1, 5.0, (rows, 1)).astype(np.float32)
    matrix[rng.choice(rows, max(1, rows // 50), replace=False)] = 0.0
    copies = rng.choice(rows, max(1, rows // 40), replace=False)
    matrix[copies] = matrix[rng.integers(0, rows, copies.size)]
    return matrix


def brute_force(matrix: np.ndarray, operands: list[list[int]], weights: list[float], k: int, skip: set[int]):
    """The reference: float64 unit rows, operands as normalised means, top k by (-score, id)."""
    m = matrix.astype(np.float64)
    norms = np.linalg.norm(m, axis=1)
    unit = np.divide(m, norms[:, None], out=np.zeros_like(m), where=norms[:, None] > 0)
    vectors = []
    for ids in operands:
        mean = unit[ids].mean(axis=0)
        vectors.append(mean / np.linalg.norm(mean))
    query = np.asarray(weights) @ np.array(vectors)
    query /= np.linalg.norm(query)
    scores = unit @ query
    scores[norms == 0] = -np.inf
    order = [i for i in np.lexsort((np.arange(len(m)), -scores)) if i not in skip and np.isfinite(scores[i])]
    return scores, order[:k]


def assert_same_ranking(ours: np.ndarray, our_scores: np.ndarray, reference: list[int], ref_scores: np.ndarray):
    """Our ids are the reference's up to exact ties: each rank has the reference's score, in order."""
    assert len(ours) == len(reference)
    np.testing.assert_allclose(ref_scores[ours], ref_scores[reference], atol=1e-5)
    np.testing.assert_allclose(our_scores[ours], ref_scores[ours], atol=1e-5)
    assert (np.diff(our_scores[ours]) <= 0).all()


SHAPES = [(40, 3), (257, 16), (1000, 7), (1500, 64)]


@pytest.mark.parametrize("rows, dim", SHAPES)
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("workers, step", [(1, None), (1, 7), (2, 64), (3, 1)])
def test_evaluation_matches_brute_force(rows, dim, seed, workers, step):
    matrix = seeded_matrix(rows, dim, seed)
    rng = np.random.default_rng(100 + seed)
    nonzero = np.flatnonzero(np.linalg.norm(matrix, axis=1) > 0)
    operands = [[int(i)] for i in rng.choice(nonzero, 3, replace=False)]
    operands.append([int(i) for i in rng.choice(nonzero, 3, replace=False)])  # a quoted text of three tokens
    weights = [1.0, -1.0, 0.5, float(rng.uniform(-2, 2))]
    k = min(10, rows - 10)
    skip = {i for ids in operands for i in ids}

    vectors = np.stack([unit_mean(matrix[ids]) for ids in operands])
    query = combine(weights, vectors)
    scores = cosine_scores(block_reader(matrix), rows, query, workers=workers, step=step)
    ours = ranked(scores, k, skip=skip)

    ref_scores, reference = brute_force(matrix, operands, weights, k, skip)
    finite = np.isfinite(ref_scores)
    assert (np.isfinite(scores) == finite).all()  # exactly the zero rows score -inf
    np.testing.assert_allclose(scores[finite], ref_scores[finite], atol=1e-5)
    assert_same_ranking(ours, scores, reference, ref_scores)
    assert not skip & set(ours.tolist())


@pytest.mark.parametrize("rows, dim", SHAPES)
def test_keeping_the_operands_ranks_every_row(rows, dim):
    matrix = seeded_matrix(rows, dim, 7)
    nonzero = np.flatnonzero(np.linalg.norm(matrix, axis=1) > 0)
    a, b = int(nonzero[0]), int(nonzero[1])
    query = combine([1.0, 0.25], np.stack([unit_mean(matrix[[a]]), unit_mean(matrix[[b]])]))
    scores = cosine_scores(block_reader(matrix), rows, query)
    ref_scores, reference = brute_force(matrix, [[a], [b]], [1.0, 0.25], rows, set())
    ours = ranked(scores, rows)
    assert len(ours) == len(nonzero)  # every row but the zero rows
    assert_same_ranking(ours, scores, reference, ref_scores)
    assert ours[0] == a  # the heavier operand is its own nearest row


def test_blocks_and_workers_change_nothing_but_float32_rounding():
    matrix = seeded_matrix(300, 12, 3)
    query = combine([1.0], unit_mean(matrix[[5]])[None, :])
    whole = cosine_scores(block_reader(matrix), 300, query, workers=1, step=300)
    for workers, step in [(2, 11), (3, 1), (1, 64)]:
        np.testing.assert_allclose(
            cosine_scores(block_reader(matrix), 300, query, workers=workers, step=step), whole, atol=1e-6
        )


def test_cancelling_terms_are_the_zero_vector():
    e = np.eye(4, dtype=np.float32)
    with pytest.raises(
        ExpressionError, match=r"^the expression is the zero vector \(its terms cancel out\); it has no nearest tokens$"
    ):
        combine([1.0, -1.0], e[[2, 2]])
    with pytest.raises(ExpressionError, match="zero vector"):
        combine([0.5, 0.5, -1.0], e[[1, 1, 1]])
    with pytest.raises(ExpressionError, match="zero vector"):
        combine([0.0], e[[1]])


def test_an_operand_needs_a_direction():
    with pytest.raises(ExpressionError, match="all-zero embedding row"):
        unit_mean(np.array([[1.0, 0.0], [0.0, 0.0]]))
    with pytest.raises(ExpressionError, match="cancel out"):
        unit_mean(np.array([[1.0, 0.0], [-2.0, 0.0]]))


def test_ranked_breaks_ties_by_id_and_skips():
    scores = np.array([0.2, 0.9, 0.9, -np.inf, 0.9, 0.1], dtype=np.float32)
    assert ranked(scores, 3).tolist() == [1, 2, 4]
    assert ranked(scores, 3, skip=[2, 99, -1]).tolist() == [1, 4, 0]
    assert ranked(scores, 10).tolist() == [1, 2, 4, 0, 5]  # never the -inf row
    assert ranked(scores, 0).tolist() == []


# --- weights in scientific notation, and weights a float cannot hold ---------------------------


@pytest.mark.parametrize(
    "expression, weight",
    [
        ("1e308*king", 1e308),
        ("1e-320*king", 1e-320),
        ("2.5E+3*king", 2500.0),
        ("-.5e1*king", -5.0),
        ("3e0 * king", 3.0),
    ],
)
def test_weights_in_scientific_notation(expression, weight):
    assert [(t.weight, t.text, t.quoted) for t in parse(expression)] == [(weight, "king", False)]


def test_an_exponent_sign_is_not_an_operator():
    assert [(t.weight, t.text) for t in parse("king - 1e-3*man + queen")] == [
        (1.0, "king"),
        (-1e-3, "man"),
        (1.0, "queen"),
    ]
    assert [(t.weight, t.text) for t in parse("2e - man")] == [(1.0, "2e"), (-1.0, "man")]  # a word, then minus


def test_a_weight_that_overflows_is_refused_naming_its_term():
    nines = "9" * 400
    with pytest.raises(ExpressionError) as refused:
        parse(f"{nines}*king + woman")
    assert str(refused.value) == (
        "the weight 999999999999… of 'king' at position 402 is not a finite number (a float holds up to about 1.8e308); "
        "write a smaller weight"
    )


@pytest.mark.parametrize("weights", [[1e-320], [1e308, 1e308], [1e-320, -1e-320 / 2]])
def test_extreme_finite_weights_keep_their_direction(weights):
    vectors = np.eye(2)[: len(weights)]  # (n, 2) unit rows
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        query = combine(weights, vectors)
    scaled = np.array(weights + [0.0] * (2 - len(weights))) / max(abs(w) for w in weights)  # (2,)
    expected = scaled / np.linalg.norm(scaled)
    np.testing.assert_allclose(query, expected, rtol=1e-6)


def test_a_non_finite_weight_or_vector_is_refused_not_warned():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ExpressionError, match="is not a finite number"):
            combine([float("inf"), 1.0], np.eye(2))
        with pytest.raises(ExpressionError, match="is not a finite number"):
            combine([1.0, 1.0], np.array([[np.nan, 0.0], [0.0, 1.0]]))
