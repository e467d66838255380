"""Layer atlases: a model's vocabulary at layer L, each token's hidden state in place of its input embedding.

Every token is run through the model alone, with the special tokens its tokenizer adds
(:mod:`atlas.files.hidden_states`); its state at each asked layer becomes that layer's
table, named ``<name>@<layer>`` and otherwise the static table's twin (same tokens,
texts, special flags and tokenizer family), so the load pipeline stores and analyses it
like any model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path

from atlas.core import arguments
from atlas.core.progress import StageProgress, ignore
from atlas.core.units import size_text
from atlas.errors import InvalidArgument
from atlas.files import hidden_states
from atlas.files.hidden_states import layer_name
from atlas.files.model_files import BUNDLED, load_model, load_tokenizer

from .huggingface import default_name, load_embedding_table
from .source import EmbeddingTable

STAGE = "layer states"  # the progress stage of the forward passes


def check_states_fit(tokens: int, dim: int, layers: Sequence[int], available: int | None) -> None:
    """Refuse, before the model is read, layer states that would not fit in the memory available (None: unknown).

    The states of all asked ``layers`` are held at once (N x d float32 each) while the model runs;
    half of the available memory is left for the model, its activations and the load after. The
    refusal suggests as many of the asked layers, spread out, as would fit.

    >>> check_states_fit(30_522, 384, range(7), 8 << 30)
    >>> check_states_fit(151_665, 1536, range(29), 24 << 30)
    Traceback (most recent call last):
    atlas.errors.InvalidArgument: the states of 29 layers of 151,665 tokens x 1536 need 25.2 GiB, more than half of the 24 GiB of memory available; ask for at most 13 layers per load (for example 0,2,5,7,9,12,14,16,19,21,23,26,28), each load holds only its own
    >>> check_states_fit(30_522, 384, range(7), 100 << 20)
    Traceback (most recent call last):
    atlas.errors.InvalidArgument: the states of 7 layers of 30,522 tokens x 384 need 313 MiB, more than half of the 100 MiB of memory available; ask for at most 1 layer per load (for example 0), each load holds only its own
    """
    asked = list(layers)
    per_layer = tokens * dim * 4
    need = per_layer * len(asked)
    if available is not None and need > available // 2:
        fit = max(1, min(len(asked) - 1, (available // 2) // max(per_layer, 1)))
        picks = sorted({asked[round(i * (len(asked) - 1) / max(fit - 1, 1))] for i in range(fit)})
        raise InvalidArgument(
            f"the states of {len(asked)} layer{'s' if len(asked) > 1 else ''} of {tokens:,} tokens x {dim} need "
            f"{size_text(need)}, more than half of the {size_text(available)} of memory available; ask for at most "
            f"{fit} layer{'s' if fit > 1 else ''} per load (for example {','.join(str(x) for x in picks)}), "
            "each load holds only its own"
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
    before_states: Callable[[list[str]], None] | None = None,
) -> list[EmbeddingTable]:
    """One table per asked layer of ``source``: every token's hidden state at that layer, named ``<name>@<layer>``.

    ``before_states(names)`` is told the tables' names once the layers are checked and before
    any state is computed (a caller refuses there a name that another load is writing).

    ``layers`` as :func:`atlas.core.arguments.layers` takes them; they are checked before the model is
    read. The whole model is read (for a hub id, every weight is fetched). ``batch_size``
    tokens go through the model at once, on ``device``; ``on_progress("layer states",
    done, total)`` follows the tokens. Memory: the asked layers' states, N x d float32 each,
    refused before the model is read when they would take more than half the memory available.
    """
    folder = hidden_states.model_folder(source, offline)
    base = name or default_name(source)
    wanted = arguments.layers(layers, hidden_states.layer_count(folder), repr(base))
    if before_states is not None:
        before_states([layer_name(base, layer) for layer in wanted])
    local = source == BUNDLED or Path(source).expanduser().is_dir()
    static = load_embedding_table(source if local else str(folder), allow_short_matrix=allow_short_matrix)
    if not local:
        static = dataclasses.replace(static, source=source)  # a hub snapshot is recorded by its id
    check_states_fit(len(static), static.dim, wanted, hidden_states.memory_available())
    template = hidden_states.special_template(load_tokenizer(str(folder)))
    model = load_model(folder, device=device)
    tell = on_progress or ignore
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
