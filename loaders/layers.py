"""Layer atlases: a model's vocabulary at layer L, each token's hidden state in place of its input embedding.

Every token is run through the model alone, with the special tokens its tokenizer adds
(:mod:`atlas.files.hidden_states`); its state at each asked layer becomes that layer's
table, named ``<name>@<layer>`` and otherwise the static table's twin (same tokens,
texts, special flags and tokenizer family), so the load pipeline stores and analyses it
like any model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from atlas.core import arguments
from atlas.core.progress import StageProgress
from atlas.core.units import size_text
from atlas.errors import InvalidArgument
from atlas.files import hidden_states
from atlas.files.model_files import BUNDLED, load_tokenizer

from .huggingface import default_name, load_embedding_table
from .source import EmbeddingTable

STAGE = "layer states"  # the progress stage of the forward passes


def layer_name(name: str, layer: int) -> str:
    """The name a layer atlas is stored under.

    >>> layer_name("all-MiniLM-L6-v2", 6)
    'all-MiniLM-L6-v2@6'
    """
    return f"{name}@{layer}"


def parse_layers(spec: str | int | Sequence[int | str], count: int, model: str = "the model") -> list[int]:
    """The layers ``spec`` names, checked against a model with ``count`` blocks (layers 0..count).

    ``spec`` is a layer, a list of them, a comma list ``"0,3,6"``, a range ``"0-6"``, or ``"all"`` (0..count):
    the forms :func:`atlas.core.arguments.layers` takes everywhere.

    >>> parse_layers("all", 3), parse_layers("6, 0", 6), parse_layers([2, "4"], 6)
    ([0, 1, 2, 3], [0, 6], [2, 4])
    """
    return arguments.layers(spec, count, model)


def check_states_fit(tokens: int, dim: int, layers: int, available: int | None) -> None:
    """Refuse, before the model is read, layer states that would not fit in the memory available (None: unknown).

    The states of all asked layers are held at once (N x d float32 each) while the model runs;
    half of the available memory is left for the model, its activations and the load after.

    >>> check_states_fit(30_522, 384, 7, 8 << 30)
    >>> check_states_fit(151_665, 1536, 29, 24 << 30)
    Traceback (most recent call last):
    atlas.errors.InvalidArgument: the states of 29 layers of 151,665 tokens x 1536 need 25.2 GiB, more than half of the 24 GiB of memory available; ask for fewer layers per load (for example --layer 0,14,28), each load holds only its own
    """
    need = tokens * dim * 4 * layers
    if available is not None and need > available // 2:
        raise InvalidArgument(
            f"the states of {layers} layer{'s' if layers > 1 else ''} of {tokens:,} tokens x {dim} need "
            f"{size_text(need)}, more than half of the {size_text(available)} of memory available; ask for fewer "
            f"layers per load (for example --layer 0,14,28), each load holds only its own"
        )


def load_layer_tables(
    source: str,
    layers: str | int | Sequence[int | str],
    name: str | None = None,
    *,
    offline: bool = False,
    device: str = "auto",
    batch_size: int = 512,
    allow_short_matrix: bool = False,
    on_progress: StageProgress | None = None,
) -> list[EmbeddingTable]:
    """One table per asked layer of ``source``: every token's hidden state at that layer, named ``<name>@<layer>``.

    ``layers`` as :func:`parse_layers` takes them; they are checked before the model is
    read. The whole model is read (for a hub id, every weight is fetched). ``batch_size``
    tokens go through the model at once, on ``device``; ``on_progress("layer states",
    done, total)`` follows the tokens. Memory: the asked layers' states, N x d float32 each,
    refused before the model is read when they would take more than half the memory available.
    """
    folder = hidden_states.model_folder(source, offline)
    base = name or default_name(source)
    wanted = parse_layers(layers, hidden_states.layer_count(folder), repr(base))
    local = source == BUNDLED or Path(source).expanduser().is_dir()
    static = load_embedding_table(source if local else str(folder), allow_short_matrix=allow_short_matrix)
    if not local:
        static = dataclasses.replace(static, source=source)  # a hub snapshot is recorded by its id
    check_states_fit(len(static), static.dim, len(wanted), hidden_states.memory_available())
    template = hidden_states.special_template(load_tokenizer(str(folder)))
    model = hidden_states.load_model(folder, device)
    tell = on_progress or (lambda stage, done, total: None)
    shown = 0

    def step(done: int, total: int) -> None:
        nonlocal shown
        tell(STAGE, done - shown, total)
        shown = done

    tell(STAGE, 0, len(static))
    states = hidden_states.layer_states(model, template, static.ids, wanted, batch_size, step)  # {layer: (N, d)}
    del model
    return [
        dataclasses.replace(
            static,
            name=layer_name(base, layer),
            matrix=states.pop(layer),
            tensor=None,
            layer=layer,
            method=hidden_states.method(template, layer),
        )
        for layer in wanted
    ]
