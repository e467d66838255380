"""The library's face: :class:`Atlas`, every capability of the ``atlas`` command as a method.

The CLI, notebooks and scripts all go through it::

    from atlas import Atlas

    with Atlas() as atlas:                      # the local server and its password file; uri=... for another
        atlas.load()                            # the bundled all-MiniLM-L6-v2, analysed
        print(atlas.neighbours("cat", k=5))
        atlas.prompt("HTML coders are not considered programmers").save("prompt.html")
        atlas.near("king - man + woman").texts()[0]     # 'queen'

Results are the small typed objects of :mod:`atlas.results`; failures raise the
:class:`atlas.errors.AtlasError` tree, each with one line that says what to do.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import itertools
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from atlas.core import arguments as _check
from atlas.core.load_options import CorpusOptions, LoadOptions
from atlas.core.progress import Note, StageProgress, ignore
from atlas.errors import AnalysisMissing, InvalidArgument, SourceNotFound
from atlas.results import (
    AnalysisReport,
    Comparison,
    Context,
    Deleted,
    Graph,
    Hubs,
    Loaded,
    Map,
    Models,
    Nearest,
    Neighbours,
    RepeatCheck,
    Rows,
    TokenTable,
    Untrained,
    VariantGroup,
    VectorsReport,
)
from atlas.settings import (
    DEFAULT_DATABASE,
    DEFAULT_MODEL,
    DEFAULT_URI,
    DEFAULT_USER,
    EPOCHS,
    HUB_MEASURES,
    RESOLUTION,
    Settings,
    model_flag,
    server_home,
)

if TYPE_CHECKING:
    from atlas.graph.store import Store


def connection_settings(
    uri: str | None = None,
    user: str | None = None,
    password: str | None = None,
    database: str | None = None,
    home: str | Path | None = None,
) -> Settings:
    """Where Neo4j is and how to log in, found as the CLI finds it from its options.

    Each value not given is the default: the local server of ``home`` (``atlas db start``)
    at ``bolt://127.0.0.1:7687``, user and database ``neo4j``. Without a password, the local
    server's password file is read when ``uri`` is that server. The environment is not read
    (the ``atlas`` command reads ``NEO4J_URI`` and the rest into its options); a script that
    wants it passes it: ``Atlas(os.environ.get("NEO4J_URI"), password=os.environ.get("NEO4J_PASSWORD"))``.

    >>> connection_settings("bolt://127.0.0.1:1", password="secret").uri
    'bolt://127.0.0.1:1'
    """
    from atlas.graph.store import check_uri
    from atlas.server import local

    uri = uri or DEFAULT_URI
    folder = server_home(home)
    check_uri(uri)
    if not password:  # an empty password (an empty NEO4J_PASSWORD) counts as none
        password = local.password_for(uri, folder)
    local_home = folder if local.serves(folder, uri) else None
    return Settings(uri, user or DEFAULT_USER, password, database or DEFAULT_DATABASE, local_home)


class Atlas:
    """Token atlases in one Neo4j database: load models, look at them, analyse, export.

    ``Atlas()`` connects to the local server with its kept password, as the ``atlas`` command
    does without options (see :func:`connection_settings`); give ``uri``, ``user``,
    ``password``, ``database`` or ``home`` for another, or ``settings``.
    The connection opens on first use; ``close()`` (or a ``with`` block) ends it. Methods
    work on ``model`` unless told another: by default the bundled all-MiniLM-L6-v2.

    >>> atlas = Atlas(uri="bolt://127.0.0.1:1", password="not used")
    >>> atlas.settings.uri
    'bolt://127.0.0.1:1'
    >>> atlas.close()
    """

    def __init__(
        self,
        uri: str | None = None,
        user: str | None = None,
        password: str | None = None,
        database: str | None = None,
        home: str | Path | None = None,
        *,
        model: str | None = None,
        settings: Settings | None = None,
    ):
        self.settings = settings or connection_settings(uri, user, password, database, home)
        self.default_model = model or DEFAULT_MODEL
        self._store: Store | None = None
        self._state_models: dict[tuple, Any] = {}  # (source, device, dtype) -> (StateModel, Vocabulary), for context

    @property
    def store(self) -> Store:
        """The open connection (opened on first use)."""
        if self._store is None:
            from atlas.graph.store import Store

            self._store = Store(self.settings)
        return self._store

    def close(self) -> None:
        """Close the connection, if one is open."""
        if self._store is not None:
            self._store.close()
            self._store = None

    def __enter__(self) -> Atlas:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Atlas({self.settings.uri!r}, database={self.settings.database!r})"

    def __getitem__(self, name: str) -> Model:
        """The stored model ``name`` as a :class:`Model`: its methods are this one's, on that model.

        >>> atlas[model].neighbours("cat", k=3).texts() == atlas.neighbours("cat", model, k=3).texts()
        True
        """
        _check.text(name, "model")
        return Model(self, name)

    # -- models ---------------------------------------------------------------------------
    def load(
        self,
        source: str | None = None,
        options: LoadOptions | None = None,
        *,
        on_progress: StageProgress | None = None,
        on_note: Note | None = None,
        on_warning: Note | None = None,
        **settings: Any,
    ) -> Loaded:
        """Compute the exact top-``k`` cosine neighbours of every token of ``source`` and store them, then analyse them.

        ``source`` is a Hugging Face model id or folder (default: the bundled all-MiniLM-L6-v2).
        ``options`` is a :class:`~atlas.core.load_options.LoadOptions`; its fields may also be
        given as keywords (``name=``, ``k=``, ``dtype=``, ``analyse=``, ...), which replace its
        values. They are checked before the model is read. ``name`` defaults to the source's.
        ``dtype="float32"`` (the default) is exact. ``"bfloat16"`` picks candidates at low precision
        and re-scores them in float32: faster where the hardware multiplies bfloat16 natively (a
        GPU, or a CPU with bfloat16 instructions), but a neighbour can be missed (0.27 % of
        MiniLM's); where it would be slower float32 is used instead (``on_warning`` says so).
        ``"auto"`` picks bfloat16 where it is faster, else float32. A matrix with fewer rows than
        the tokenizer has tokens is refused unless ``allow_short_matrix``, which leaves those
        tokens out.
        ``on_progress(stage, done, total)`` follows each stage (for a hub id first "fetch", in
        bytes of its input embedding); ``on_note`` hears what is loaded, ``on_warning`` what is
        left out and when the hub sends a whole file instead of the embedding's bytes.
        Rerunning a complete load does nothing; rerunning an interrupted one finishes it.

        >>> loaded = atlas.load(name=model, analyse=False)  # stored already: nothing to do
        >>> loaded.report.skipped, loaded.report.tokens
        (True, 30522)
        >>> print(loaded.browser_query)  # doctest: +ELLIPSIS
        MATCH (t:Token {model: '...', text: 'cat'})-[r:SIMILAR_TO]->(n:Token) RETURN t, r, n
        """
        from atlas.files.model_files import BUNDLED
        from atlas.loaders import load_embedding_table

        options = LoadOptions.given(options, settings)
        table = load_embedding_table(
            source or BUNDLED,
            name=options.name,
            offline=options.offline,
            allow_short_matrix=options.allow_short_matrix,
            on_progress=on_progress,
            on_warning=on_warning,
        )
        return self._store_table(table, options, on_progress, on_note, on_warning)

    def load_layers(
        self,
        layers: str | int | Sequence[int | str],
        source: str | None = None,
        options: LoadOptions | None = None,
        *,
        on_progress: StageProgress | None = None,
        on_note: Note | None = None,
        on_warning: Note | None = None,
        **settings: Any,
    ) -> list[Loaded]:
        """Load layer atlases: the vocabulary of ``source`` at each of ``layers``, stored as model ``<name>@<layer>``.

        Each token is run through the model alone (with the special tokens its tokenizer
        adds, e.g. ``[CLS] token [SEP]``) and its hidden state at the layer takes the place
        of its input embedding; then each layer is stored and analysed as :meth:`load` does.
        ``layers`` is a layer, a list, a comma list ``"0,3,6"`` or ``"all"`` (0 is the
        embedding layer's output, L the output of block L); a layer outside the model's
        range is refused before anything is read or stored. ``state_batch`` tokens go
        through the model at once, on ``device``. The Model node records ``layer`` and
        ``method`` (how the states were made). ``options`` and the keywords are :meth:`load`'s.

        >>> [loaded] = atlas.load_layers("6", name=model, k=5, analyse=False)
        >>> loaded.report.name == f"{model}@6", loaded.report.tokens
        (True, 30522)
        >>> atlas.model(f"{model}@6")["layer"]
        6
        >>> atlas.delete(f"{model}@6").nodes > 30522
        True
        >>> atlas.load_layers(9)  # the bundled MiniLM has six blocks
        Traceback (most recent call last):
        atlas.errors.InvalidArgument: layer 9 is out of range: 'all-MiniLM-L6-v2' has layers 0..6 (0 is the embedding layer's output, L the output of block L)
        """
        _check.layers_given(layers)
        from atlas.files.model_files import BUNDLED
        from atlas.loaders.layers import load_layer_tables

        options = LoadOptions.given(options, settings)
        tables = load_layer_tables(
            source or BUNDLED,
            layers,
            options.name,
            offline=options.offline,
            device=options.device,
            batch_size=options.state_batch,
            allow_short_matrix=options.allow_short_matrix,
            on_progress=on_progress,
            before_states=self._refuse_busy,
        )
        loaded = []
        while tables:
            table = tables.pop(0)  # a stored layer's states are let go before the next is stored
            (on_note or ignore)(f"layer {table.layer}: model {table.name!r}")
            loaded.append(self._store_table(table, options, on_progress, on_note, on_warning))
        return loaded

    def load_corpus(
        self,
        path: str | Path,
        options: LoadOptions | None = None,
        *,
        corpus: CorpusOptions | None = None,
        on_progress: StageProgress | None = None,
        on_note: Note | None = None,
        on_warning: Note | None = None,
        **settings: Any,
    ) -> Loaded:
        """Load a corpus atlas: the words of the text corpus at ``path`` (a ``.txt`` file or a folder of them) as tokens.

        ``corpus`` is a :class:`~atlas.core.load_options.CorpusOptions`, whose fields may also be
        given as keywords. ``method="word2vec"`` trains gensim's Word2Vec on the corpus's lines
        (CBOW, or ``skip_gram``; ``vector_size``, ``window``, ``train_epochs``, ``train_seed``; one
        worker thread, so a re-run gives the same vectors); ``method="tfidf"`` is the article's
        TF-IDF over ``chunks`` equal chunks (tf = count / chunk length, idf = ln(N / df); a word in
        every chunk has a zero vector and no neighbours). Words are cut by
        :func:`atlas.core.corpus.words` and kept when counted at least ``min_count`` times.
        ``name`` defaults to ``<file or folder>-<method>``. ``options`` and the other keywords are
        :meth:`load`'s; the Model node records the method, the corpus (files, words, SHA-256)
        and every option, and re-running the same load does nothing.

        >>> from gensim.test.utils import datapath
        >>> loaded = atlas.load_corpus(datapath("lee_background.cor"), method="tfidf", name=model + "-lee", k=5, analyse=False)
        >>> loaded.report.tokens, atlas.model(model + "-lee")["method"]
        (1906, 'tfidf')
        >>> atlas.delete(model + "-lee").nodes > 1906
        True
        """
        from atlas.core.load_options import split
        from atlas.loaders.corpus import default_corpus_name, load_corpus_table

        ours, its = split(settings, LoadOptions, CorpusOptions)
        options, corpus = LoadOptions.given(options, ours), CorpusOptions.given(corpus, its)
        name = options.name or default_corpus_name(path, corpus.method)
        stored = (
            None if options.replace or options.vectors else self.store.model(name)
        )  # complete and the same: nothing to train
        table = load_corpus_table(
            path, corpus, name=name, k=options.k, on_progress=on_progress, on_note=on_note, stored=stored
        )
        return self._store_table(table, options, on_progress, on_note, on_warning)

    def _store_table(
        self,
        table: Any,  # atlas.loaders.source.EmbeddingTable
        options: LoadOptions,
        on_progress: StageProgress | None,
        on_note: Note | None,
        on_warning: Note | None,
    ) -> Loaded:
        """Store ``table``'s neighbours (and unless told not to, its analysis): the part of a load after reading the model."""
        from atlas.core.topk import block_rows_for_memory, choose_dtype, resolve_device
        from atlas.graph.queries import browser_line
        from atlas.loaders.pipeline import AnalysisSettings
        from atlas.loaders.pipeline import load as run_load
        from atlas.views.lookup import word_texts

        note = on_note or ignore
        warn = on_warning or ignore
        store = self.store
        if table.unmatched:
            warn(
                f"the tokenizer has {table.unmatched:,} tokens past the matrix's {table.matrix_rows:,} rows; "
                "they have no vectors and are not stored"
            )
        limit = options.memory_limit()
        block_rows = (
            options.block_rows if limit is None else block_rows_for_memory(len(table), table.dim, limit, options.k)
        )
        used = resolve_device(options.device)
        choice = choose_dtype(options.dtype, used)
        (warn if choice.overridden else note)(choice.reason)
        note(f"{len(table):,} tokens x {table.dim} dims ({table.family}); k={options.k}, {choice.dtype} on {used}")
        report = run_load(
            store,
            table,
            options.k,
            replace=options.replace,
            device=used,
            dtype=choice.dtype,
            any_stored_dtype=options.dtype == "auto",
            block_rows=block_rows,
            batch_size=options.batch_size,
            analyse=AnalysisSettings(options.resolution, options.seed, options.epochs) if options.analyse else None,
            vectors=options.vectors,
            on_progress=on_progress,
        )
        cat = word_texts("cat", table.family)[0]  # " cat" where word-start tokens carry a space
        if table.props and "cat" not in table.text[:5000]:
            cat = table.text[min(100, len(table.text) - 1)]  # a corpus without "cat": one of its common words
        return Loaded(report, store.browser_url(), browser_line("browser_neighbours", model=report.name, text=cat))

    def _refuse_busy(self, names: list[str]) -> None:
        """ModelBusy before a layer load's forward passes when another load or analysis holds one of ``names``."""
        from atlas.graph.lease import refuse_if_held

        for name in names:
            refuse_if_held(self.store, name)

    def analyse(
        self,
        model: str | None = None,
        *,
        resolution: float = RESOLUTION,
        seed: int = 0,
        epochs: int = EPOCHS,
        on_progress: StageProgress | None = None,
    ) -> AnalysisReport:
        """Compute communities, hubs, mutual pairs and a 2D map of a stored model and store them in its graph.

        Communities are Leiden's on the undirected graph of the neighbour lists: each pair once, weighted
        2 when each token is among the other's k nearest and 1 otherwise (never by cosine, so that the
        scores' last bits change nothing). Every token gets ``community``, ``cited`` (its in-degree) and
        ``x``, ``y``; every edge ``mutual``.

        >>> report = atlas.analyse(seed=0)
        >>> report.tokens, report.communities > 300, 0 < report.modularity < 1
        (30522, True, True)
        """
        model = self._model_name(model)
        from atlas.loaders.analyse import analyse_stored

        return analyse_stored(self.store, model, resolution, seed, epochs, on_progress=on_progress)

    def model(self, name: str | None = None, *, allow_incomplete: bool = False) -> dict:
        """A stored model's properties (name, status, k, dim, source, analysis, ...); ModelNotLoaded when missing.

        >>> atlas.model()["k"], atlas.model()["status"]
        (20, 'complete')
        """
        return self.store.require_model(self._model_name(name, "name"), allow_incomplete=allow_incomplete)

    def models(self, *, verify: bool = False) -> Models:
        """The stored models with their counts; ``verify`` checks each graph against what its load promised.

        A model deleted while they are verified is left out; one that a load is writing now is
        not checked and is listed in ``loading``.

        >>> found = atlas.models(verify=True)
        >>> model in found.names(), found.problems[model]
        (True, [])
        """
        from atlas.errors import ModelNotLoaded
        from atlas.graph.lease import held
        from atlas.graph.verify import problems

        rows = [dict(r) for r in self.store.models()]
        found: dict[str, list[str]] | None = None
        loading: list[str] = []
        if verify:
            found = {}
            for row in rows:
                name = row["model"]["name"]
                if row["model"].get("status") != "complete" and held(self.store, name):
                    loading.append(name)  # being written now: its graph is not finished, so not checked
                    continue
                try:
                    found[name] = problems(self.store, name)
                except ModelNotLoaded:
                    continue
        return Models(rows, found, loading)

    def delete(self, name: str, *, on_progress: StageProgress | None = None) -> Deleted:
        """Delete model ``name``: its tokens, edges, variant groups, saved prompts and states, communities,
        comparisons, vector index and node.

        Takes the model's lease, so a model that a load or analysis is writing is refused;
        an interrupted delete leaves the model ``deleting`` and a rerun finishes it.

        >>> atlas.delete("no such model")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        atlas.errors.ModelNotLoaded: model 'no such model' is not loaded (loaded: ...); load it with `atlas load`
        """
        from atlas.graph.lease import Lease

        progress = on_progress or ignore
        began = time.perf_counter()
        store = self.store
        store.require_model(name, allow_incomplete=True)
        with Lease(store, name):
            store.write("model_mark_deleting", name=name)
            nodes = store.delete_model(name, done=lambda n: progress("delete", n, 0))
        return Deleted(name, nodes, time.perf_counter() - began)

    def vectors(
        self,
        model: str | None = None,
        *,
        replace: bool = False,
        offline: bool = False,
        on_progress: StageProgress | None = None,
    ) -> VectorsReport:
        """Store each token's unit embedding as ``embedding`` with a vector index (cosine) on the model's tokens.

        The rows come from the model's recorded source. The index is approximate; :meth:`near` is exact.

        >>> report = atlas.vectors()
        >>> report.stored, report.index == atlas.model()["vector_index"]
        (30522, True)
        """
        model = self._model_name(model)
        from atlas.loaders.vectors import store_vectors_from_source

        props = self.store.require_model(model)
        with _recorded_source(model, props):
            return store_vectors_from_source(
                self.store, model, offline=offline, replace=replace, on_progress=on_progress
            )

    def vectors_query(self, model: str, index: str) -> str:
        """A Browser line that asks the vector index ``index`` of ``model`` for the nearest tokens of cat.

        >>> print(atlas.vectors_query(model, atlas.model()["vector_index"]))  # doctest: +ELLIPSIS
        MATCH (t:Token {model: '...', text: 'cat'}) CALL db.index.vector.queryNodes(...
        """
        from atlas.graph.queries import browser_line
        from atlas.views.lookup import word_texts

        family = self.store.require_model(model).get("family", "other")
        return browser_line("browser_vectors", model=model, index=index, text=word_texts("cat", family)[0])

    # -- looking at a model -------------------------------------------------------------------
    def neighbours(
        self,
        token: str | int,
        model: str | None = None,
        *,
        k: int | None = None,
        by_id: bool = False,
        collapse_variants: bool = False,
    ) -> Neighbours:
        """The stored nearest tokens of ``token`` (its exact text, e.g. "cat" or " cat"; an id with ``by_id``), best first.

        ``k`` defaults to all stored (the model's k); ``collapse_variants`` hides the token's
        own variants and shows one token per variant group.

        >>> atlas.neighbours("cat", k=3).texts()
        ['cats', 'kitten', 'kitty']
        >>> round(atlas.neighbours("cat", k=1)[0]["score"], 4)
        0.8153
        """
        model = self._model_name(model)
        from atlas.views.lookup import find_token, find_token_by_id
        from atlas.views.stored_neighbours import neighbours

        store = self.store
        props = store.require_model(model)
        found = find_token_by_id(store, model, _token_id(token)) if by_id else find_token(store, model, str(token))
        rows = neighbours(
            store, model, found["id"], props["k"] if k is None else k, collapse_variants=collapse_variants
        )
        return Neighbours(model, found, rows, props.get("analysis") == "complete")

    def variants(self, word: str, model: str | None = None) -> VariantGroup:
        """The variant group of ``word``: "list", " list", "List", "_list" and "##list" are one word.

        >>> atlas.variants("list").to_dict()
        {'key': 'list', 'tokens': [{'id': 2862, 'text': 'list', 'raw': 'list'}, {'id': 9863, 'text': '##list', 'raw': '##list'}]}
        """
        _check.text(word, "word")
        model = self._model_name(model)
        from atlas.views.lookup import variant_group

        group = variant_group(self.store, model, word)
        return VariantGroup(model, group["key"], group["tokens"])

    def rebuild_variants(self, model: str | None = None) -> int:
        """Recompute the model's variant groups from its stored tokens; returns how many tokens are in groups.

        >>> atlas.rebuild_variants()
        30517
        """
        model = self._model_name(model)
        from atlas.graph.writes import rebuild_variants

        return rebuild_variants(self.store, model)

    def tokens(
        self,
        text: str,
        model: str | None = None,
        *,
        special: bool = False,
        components: int = 3,
        offline: bool = False,
    ) -> TokenTable:
        """The token table of ``text``: position, id, token and the first and last ``components`` of each row.

        ``special`` adds the model's special tokens, as the model would see them.

        >>> atlas.tokens("HTML coders are not considered programmers").ids()
        [16129, 3642, 2869, 2024, 2025, 2641, 28547]
        """
        _check.text(text, "text")
        model = self._model_name(model)
        from atlas.core.prompt_tokens import token_table, tokenize
        from atlas.files.hidden_states import refuse_layer_atlas
        from atlas.files.model_files import read_rows

        if self._corpus_props(model) is not None:
            return self._corpus_tokens(model, text, components)
        props, tokenizer = self._tokenizer(model, offline)
        refuse_layer_atlas(props, "`atlas tokens`")
        pieces = tokenize(tokenizer, text, include_special=special, family=props.get("family"))
        if not pieces:
            raise InvalidArgument("the text has no tokens; give some text")
        vectors = read_rows(
            props["source"], [t.id for t in pieces], offline=offline, name=props.get("embedding_tensor")
        )
        return TokenTable(model, text, int(props["dim"]), token_table(pieces, vectors, edge=components))

    def prompt(
        self,
        text: str,
        model: str | None = None,
        *,
        k: int = 20,
        special: bool = False,
        collapse_variants: bool = False,
        save: bool = False,
        offline: bool = False,
    ) -> Graph:
        """The graph of a prompt: each token of ``text`` with its ``k`` nearest tokens, and every edge among them.

        ``save`` stores the prompt as ``(:Prompt)-[:HAS_TOKEN]->(:Token)``; the result's
        ``saved`` is then the query that shows it in Neo4j Browser.

        >>> graph = atlas.prompt("the cat sat", k=3)
        >>> len(graph.nodes), len(graph.edges), sorted(n.text for n in graph.nodes if n.seed)
        (12, 36, ['cat', 'sat', 'the'])
        """
        _check.text(text, "text")
        _check.integer(k, "k", 1)
        model = self._model_name(model)
        from atlas.core.prompt_tokens import tokenize
        from atlas.graph.writes import save_prompt
        from atlas.views.neighbourhoods import prompt_subgraph

        missing: list[str] = []
        corpus = self._corpus_props(model)
        if corpus is not None:  # a corpus atlas: the text is cut by the word rule its corpus was cut by
            from atlas.views.corpus_prompt import corpus_tokens

            pieces, missing = corpus_tokens(self.store, model, corpus, text)
        else:
            props, tokenizer = self._tokenizer(model, offline)
            pieces = tokenize(tokenizer, text, include_special=special, family=props.get("family"))
        subgraph = prompt_subgraph(
            self.store, model, pieces, k, collapse_variants=collapse_variants, title=f"prompt {text!r}"
        )
        saved = save_prompt(self.store, model, text, pieces) if save else None
        return Graph(subgraph, missing=missing, saved=saved)

    def sample(
        self,
        model: str | None = None,
        *,
        words: int | Sequence[str] = 50,
        seed: int = 0,
        k: int = 10,
        collapse_variants: bool = False,
    ) -> Graph:
        """An atlas: ``words`` random whole words (or the given words), each with its ``k`` nearest tokens.

        The same seed gives the same atlas. Given words that are not single tokens are
        left out and listed in the result's ``missing``.

        >>> atlas.sample(words=5, seed=7, k=3).summary()
        'atlas of 5 random words (seed 7), k=3: 20 tokens, 42 edges'
        >>> atlas.sample(words=["cat", "dog", "qqqzzzx"], k=3).missing
        ['qqqzzzx']
        """
        model = self._model_name(model)
        from atlas.views.neighbourhoods import atlas_subgraph

        given = None if isinstance(words, int) else list(words)
        count = words if isinstance(words, int) else 0
        subgraph, missing = atlas_subgraph(
            self.store, model, given, count, seed, k, collapse_variants=collapse_variants
        )
        return Graph(subgraph, missing=list(missing))

    def export(self, view: str, params: dict[str, Any] | None = None) -> Graph:
        """The subgraph of the named view ``cypher/view_<view>.cypher`` with its parameters (see :meth:`views`).

        >>> atlas.export("neighbourhood", {"model": model, "text": "cat", "k": 3}).summary()
        "view_neighbourhood text='cat', k=3: 4 tokens, 12 edges"
        """
        from atlas.views.named import query_subgraph

        return Graph(query_subgraph(self.store, view, dict(params or {})))

    @staticmethod
    def views() -> list[str]:
        """The names of the views :meth:`export` runs, each with its parameters in ``cypher/view_<name>.cypher``.

        >>> "neighbourhood" in Atlas.views()
        True
        """
        from atlas.views.named import VIEW_PREFIX, view_names

        return [name.removeprefix(VIEW_PREFIX) for name in view_names()]

    def near(
        self,
        expression: str,
        model: str | None = None,
        *,
        k: int = 10,
        keep_operands: bool = False,
        offline: bool = False,
        graph: bool = False,
    ) -> Nearest:
        """The ``k`` tokens nearest to ``expression``, e.g. "king - man + woman", exactly, over the whole vocabulary.

        Operands are words or texts in double quotes, each with an optional weight
        (``0.5*paris``), joined by + and -. The operands' own tokens are left out unless
        ``keep_operands``; ``graph`` also returns the answer as a subgraph.

        >>> atlas.near("king - man + woman", k=3).texts()
        ['queen', 'kings', 'monarch']
        """
        _check.text(expression, "expression")
        _check.integer(k, "k", 1)
        model = self._model_name(model)
        from atlas.views.expression import nearest

        props = self.store.require_model(model)
        with _recorded_source(model, props):
            return nearest(self.store, model, expression, k, keep_operands=keep_operands, offline=offline, graph=graph)

    def compare(
        self,
        a: str,
        b: str,
        *,
        k: int | None = None,
        top: int = 10,
        token: str | None = None,
        on_progress: StageProgress | None = None,
    ) -> Comparison:
        """Compare stored model ``a`` with stored model ``b``: how alike each token's ``k`` nearest tokens are in both.

        Tokens are matched by id when both have the same tokenizer (same family, identical ids
        and texts), else by exact text, then by variant key. Per matched token: the Jaccard
        overlap of its ``k`` nearest (default: the smaller stored k) mapped into ``b``, and their
        rank-biased overlap (extrapolated, p=0.9; 1 for identical lists). Stored in the graph as
        ``(:Token)-[:SAME_TOKEN {matched_by, jaccard, rbo, k}]->(:Token)`` and a
        ``(:Comparison {a, b, ...})`` node linked to both models; comparing again replaces
        them, and deleting either model deletes them. ``top`` tokens that changed most and
        least are listed; ``token`` (an exact text of ``a``) adds its two neighbourhoods, which
        ``save(path)`` writes as a page.

        >>> same = atlas.compare(model, model, k=5)
        >>> same.figures["mean_jaccard"], same.figures["mean_rbo"], same.figures["matched_by_id"]
        (1.0, 1.0, 30522)
        """
        _check.text(a, "a"), _check.text(b, "b"), _check.text(token, "token", optional=True)
        _check.integer(top, "top", 0)
        if k is not None:
            _check.integer(k, "k", 1)
        from atlas.views.compare import compare_models

        return compare_models(self.store, a, b, k, top=top, token=token, on_progress=on_progress)

    def context(
        self,
        texts: str | Sequence[str],
        model: str | None = None,
        *,
        token: str | None = None,
        layers: str | Sequence[int] | None = "all",
        k: int = 8,
        save: bool = False,
        page: bool = False,
        device: str = "auto",
        dtype: str = "float32",
        offline: bool = False,
    ) -> Context:
        """A word through the layers: each token of ``texts`` (or only ``token``'s) at each of ``layers``, with the
        ``k`` static tokens nearest its hidden state (exact cosine to every input-embedding row) and its cosine to
        its own row; a ``token`` shared by several texts is compared across them, layer by layer.

        The whole model is read from the stored model's source (kept for the next call on this
        ``Atlas``). ``layers`` is ``"all"``, a layer, ``"0,3,6"``, ``"0-6"`` or a list, as
        :meth:`load_layers` takes them (0 is the embedding layer's output). A word of several pieces reports each piece; across texts the word is the mean of
        its pieces' states (its first occurrence in each text). Where a layer atlas ``<model>@<L>``
        is stored, its stored neighbours of the token come too. ``save`` stores the states as
        ``(:Context)-[:STATE_OF]->(:Token)`` and ``-[:NEAR {rank, score}]->(:Token)``; ``page`` draws
        them over the model's map (needs its analysis): ``result.save("context.html")``.

        >>> found = atlas.context(["the river bank", "the bank robbery"], token="bank", layers="0,6", k=3)
        >>> found.texts[0]["states"][0]["nearest"][0]["text"], len(found.comparisons)
        ('bank', 2)
        """
        texts = _check.texts(texts, "texts")
        _check.text(token, "token", optional=True)
        _check.integer(k, "k", 1, 1000)
        _check.layers_given(layers, optional=True)
        model = self._model_name(model)
        from atlas.files.model_files import BUNDLED
        from atlas.views import context as views

        texts = [texts] if isinstance(texts, str) else list(texts)
        store = self.store
        props = store.model(model)
        if props is None and (save or page or model != DEFAULT_MODEL):
            store.require_model(model)  # the line that says it is not loaded
        if props is not None:
            from atlas.files.hidden_states import refuse_layer_atlas

            refuse_layer_atlas(props, "`atlas context`")
        if page and (props or {}).get("analysis") != "complete":
            raise AnalysisMissing(
                f"model {model!r} has no map positions to draw on; run `atlas analyse{model_flag(model)}`"
            )
        source = props["source"] if props is not None else BUNDLED
        state_model, vocab = self._state_model(model, props, source, device, dtype, offline)
        result = views.explore(state_model, vocab, model, texts, token, layers, k)
        if props is not None:
            views.add_layer_atlases(store, result, props)
        if save or page:
            views.check_stored(store, model, result)
        if save:
            from atlas.graph.context_save import save_context

            result.saved = save_context(store, model, views.save_rows(result))
        if page:
            from atlas.pages.context_page import render

            ids = [n["id"] for t in result.texts for e in t["states"] for n in e["nearest"]]
            ids += [e["id"] for t in result.texts for e in t["states"]]
            result.page = render(
                result.to_dict(), views.map_positions(store, model, ids), views.map_backdrop(store, model)
            )
        return result

    def _state_model(self, model: str, props: dict | None, source: str, device: str, dtype: str, offline: bool):
        """The whole model at ``source`` and its static vocabulary, read once per (source, device, dtype)."""
        from atlas.files.text_states import open_model
        from atlas.views.context import vocabulary_of

        key = (source, device, dtype)
        if key not in self._state_models:
            with _recorded_source(model, props or {"source": source}):
                state_model = open_model(source, offline=offline, device=device, dtype=dtype)
            self._state_models = {key: (state_model, vocabulary_of(state_model))}  # one model held at a time
        return self._state_models[key]

    # -- the whole vocabulary -------------------------------------------------------------------
    def hubs(self, model: str | None = None, *, limit: int = 20, special: bool = False, by: str = "cited") -> Hubs:
        """The hubs of the kNN graph: by default the most-cited tokens (those the most tokens list among their k nearest).

        ``by`` ranks them instead by another measure the analysis stored: ``"pagerank"``,
        ``"core"`` (k-core number) or ``"clustering"`` (local clustering coefficient); each
        row then has that measure too.

        >>> atlas.hubs(limit=1)[0]["text"], atlas.hubs(limit=1)[0]["cited"]
        ('##？', 461)
        >>> top = atlas.hubs(limit=3, by="core")
        >>> len(top), top[0]["core"] >= top[2]["core"] > 0
        (3, True)
        """
        model = self._model_name(model)
        props = self.store.require_model(model)
        if props.get("analysis") != "complete":
            raise AnalysisMissing(f"model {model!r} has no analysis yet; run `atlas analyse{model_flag(model)}`")
        limit = _check.integer(limit, "limit", 1)
        if by not in HUB_MEASURES:
            raise InvalidArgument(f"hubs are ranked by one of {', '.join(HUB_MEASURES)}; got {by!r}")
        if by != "cited" and not props.get("measures"):
            raise AnalysisMissing(
                f"the analysis of model {model!r} predates its graph measures (pagerank, core, clustering); "
                f"run `atlas analyse{model_flag(model)}` again"
            )
        rows = self.store.read("hubs", model=model, limit=limit, skip_special=not special, by=by)
        kept = ("id", "text", "special", "cited", "community", "label") + (() if by == "cited" else (by,))
        return Hubs(
            model, int(props["k"]), props.get("cited_skewness"), [{key: r[key] for key in kept} for r in rows], by
        )

    def untrained(
        self,
        model: str | None = None,
        *,
        reference_ids: Sequence[int] | None = None,
        limit: int = 20,
        verify_top: int | None = None,
        device: str = "cpu",
        offline: bool = False,
        on_progress: StageProgress | None = None,
    ) -> Untrained:
        """Find under-trained (glitch) token candidates and store each token's category and score in the graph.

        Every stored token is decoded alone and encoded again (its ``category``: reachable,
        unreachable_one, unreachable_several, undecodable or special), and its input-embedding
        row scored by cosine to the mean of the reference rows, the first principal component
        removed (``untrained``; the formula is in :mod:`atlas.core.untrained`). The reference is
        ``reference_ids``, else the tokens the tokenizer declares unused or reserved
        (``[unused0]``), else the unreachable tokens. Candidates (``untrained_candidate``) are the
        non-special, non-reference tokens scoring at least the top 2% of reachable tokens' scores.
        Returns the ``limit`` highest-scoring candidates; reads the model's tokenizer and
        embeddings from its recorded source.

        ``verify_top=N`` checks the N highest-scoring candidates with the model itself: a causal
        language model from the recorded source (float32, on ``device``) is asked to repeat each
        (the prompt is in :mod:`atlas.files.repeat_check`), and the probability it gives the token
        is stored as the token's ``repeat_probability`` (a low one confirms the candidate) and
        returned as ``repeat``. A model with no head that predicts tokens (the bundled MiniLM, a
        sentence encoder) raises NoTokenHead, and nothing is stored. ``on_progress("repeat",
        done, total)`` is told as the candidates are checked.

        >>> found = atlas.untrained(limit=3)
        >>> found.reference, found.reference_size, len(found)
        ('declared', 994, 3)
        """
        model = self._model_name(model)
        limit = _check.integer(limit, "limit", 1)
        from atlas.loaders.untrained import check_count, score_stored

        verify_top = check_count(verify_top)
        props = self.store.require_model(model)
        if verify_top is not None and props.get("word_rule") is not None:
            from atlas.loaders.untrained import refuse_unrunnable

            refuse_unrunnable(model, props)  # a corpus atlas: its own line, not the one for a source that is gone
        with _recorded_source(model, props):
            scored = score_stored(
                self.store,
                model,
                list(reference_ids or []),
                offline=offline,
                verify_top=verify_top,
                device=device,
                on_progress=on_progress,
            )
        rows = self.store.read("untrained_candidates", model=model, limit=limit)
        repeat = None
        if scored.repeat is not None:
            checked = self.store.read("untrained_checked", model=model)
            repeat = RepeatCheck(scored.repeat.prompt, scored.repeat.style, [dict(r) for r in checked])
        return Untrained(
            model,
            scored.categories,
            scored.reference,
            scored.reference_size,
            scored.threshold,
            scored.candidates,
            [dict(r) for r in rows],
            repeat,
        )

    def map(self, model: str | None = None, *, layout: str = "umap", on_progress: StageProgress | None = None) -> Map:
        """Every token of an analysed model with its map position, community and neighbours; ``save`` writes the page.

        ``layout`` places the tokens: ``"umap"``, the analysis's map of the exact graph, or
        ``"pca"``, the vectors' two principal axes as the load computed them (the article's
        TF-IDF figure), with each community's label at its members' median place.

        >>> vocabulary = atlas.map()
        >>> len(vocabulary), vocabulary.save(str(folder / "map.html")) == [str(folder / "map.html")]
        (30522, True)
        >>> (folder / "map.html").stat().st_size > 2**20
        True
        >>> atlas.map(layout="pca").map.title.startswith("PCA map")
        True
        """
        from atlas.views.vocabulary import LAYOUTS, read_map

        model = self._model_name(model)
        _check.choice(layout, "layout", LAYOUTS)
        progress = on_progress or ignore
        props = self.store.require_model(model)
        total = int(props.get("vocab_size", 0))
        return Map(read_map(self.store, model, done=lambda n: progress("read", n, total), layout=layout))

    # -- Cypher ---------------------------------------------------------------------------------
    def query(
        self, cypher: str, parameters: dict[str, Any] | None = None, /, *, write: bool = False, **params: Any
    ) -> Rows:
        """Run a Cypher statement of your own on the graph and return its rows as a table.

        Values go in as ``$parameters``, given as keywords (``name=model``) or as a dict (for a
        name this method takes itself, like ``write``); never format them into the text. The
        statement runs in a read transaction, where Neo4j refuses to write: a statement that
        writes is refused with InvalidArgument unless ``write=True``, which runs it in a write
        transaction (the driver may run it again if the transaction fails midway). Writes bypass
        what keeps a model consistent (``atlas.models(verify=True)`` checks it). A statement
        Neo4j cannot run raises InvalidArgument with the first line of its reason. The graph's
        labels and properties are in the docs' graph page.

        >>> largest = atlas.query(
        ...     "MATCH (c:Community {model: $model}) RETURN c.id AS community, c.size AS tokens ORDER BY c.size DESC LIMIT 3",
        ...     model=model,
        ... )
        >>> len(largest), largest.keys, largest[0]["tokens"] >= largest[2]["tokens"]
        (3, ['community', 'tokens'], True)
        >>> atlas.query("CREATE (:Note {text: $text})", text="hi")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        atlas.errors.InvalidArgument: the Cypher statement writes to the graph, and it ran in a read transaction, ...
        """
        _check.text(cypher, "cypher")
        given = dict(parameters or {})
        if any(not isinstance(key, str) for key in given):
            raise InvalidArgument(f"parameter names must be texts, got {sorted(map(repr, given))}")
        if not isinstance(write, bool):
            raise InvalidArgument(f"write must be True or False, got {write!r}")
        keys, rows = self.store.run_given(cypher, given | params, write=write)
        return Rows(cypher, keys, rows)

    def browser_url(self) -> str | None:
        """Neo4j Browser's address on the server, or None when it serves none.

        >>> atlas.browser_url().endswith("/browser/")
        True
        """
        return self.store.browser_url()

    # -- helpers ------------------------------------------------------------------------------

    def _model_name(self, model: str | None, parameter: str = "model") -> str:
        """The model a method works on: ``model`` when given (a text), else this instance's default model."""
        _check.text(model, parameter, optional=True)
        return model or self.default_model

    def _corpus_props(self, model: str) -> dict | None:
        """The Model node's properties when ``model`` is a corpus atlas, else None."""
        from atlas.views.corpus_prompt import is_corpus_model

        props = self.store.require_model(model)
        return props if is_corpus_model(props) else None

    def _corpus_tokens(self, model: str, text: str, components: int) -> TokenTable:
        """`tokens` on a corpus atlas: the text's words it has, with their unit vectors as the load stored them."""
        from atlas.core.prompt_tokens import token_table
        from atlas.views.corpus_prompt import corpus_tokens

        props = self.store.require_model(model)
        pieces, _ = corpus_tokens(self.store, model, props, text)
        rows = {
            r["id"]: r["embedding"]
            for r in self.store.read("tokens_embeddings", model=model, ids=[t.id for t in pieces])
        }
        dim = int(props["dim"])
        for token_id in set(props.get("zero_ids") or []) & {t.id for t in pieces}:
            rows[token_id] = [0.0] * dim  # a zero row has no unit vector to store: it is shown as zeros
        if any(rows.get(t.id) is None for t in pieces):
            raise InvalidArgument(
                f"corpus model {model!r} keeps its vectors only in the graph, and they are not stored: "
                f"load it with vectors=True (`atlas load --corpus ... --vectors`) to see them"
            )
        import numpy as np

        vectors = np.array([rows[t.id] for t in pieces], dtype=np.float32)
        return TokenTable(model, text, int(props["dim"]), token_table(pieces, vectors, edge=components))

    def _tokenizer(self, model: str, offline: bool) -> tuple[dict, Any]:
        """The stored model's properties and the tokenizer it was loaded from."""
        from atlas.files.model_files import read_tokenizer

        props = self.store.require_model(model)
        with _recorded_source(model, props):
            return props, read_tokenizer(props["source"], offline=offline)


class Model:
    """One stored model of an :class:`Atlas`, as sqlite-utils' ``db["table"]`` is one table: ``atlas["name"]``.

    Each method of ``Atlas`` that works on one model (the ones with a ``model`` parameter:
    ``neighbours``, ``variants``, ``tokens``, ``prompt``, ``sample``, ``near``, ``context``,
    ``hubs``, ``untrained``, ``map``, ``analyse``, ``vectors``, ...) is a method here with that
    parameter filled in, so ``atlas["all-MiniLM-L6-v2"].neighbours("cat")`` is
    ``atlas.neighbours("cat", model="all-MiniLM-L6-v2")``; ``help()`` shows each with its
    docstring. Besides them: :meth:`properties` (what ``atlas.model(name)`` returns),
    :meth:`compare` with another model, and :meth:`delete`. Making the handle reads nothing:
    a model that is not stored fails when a method is called, with ModelNotLoaded.

    >>> minilm = atlas[model]
    >>> minilm.near("king - man + woman", k=1).texts(), minilm.properties()["k"]
    (['queen'], 20)
    """

    def __init__(self, atlas: Atlas, name: str):
        self.atlas = atlas
        self.name = name

    def __repr__(self) -> str:
        return f"Model({self.name!r})"

    def properties(self, *, allow_incomplete: bool = False) -> dict:
        """The Model node's properties (name, status, k, dim, source, analysis, ...): :meth:`Atlas.model`."""
        return self.atlas.model(self.name, allow_incomplete=allow_incomplete)

    def compare(self, other: str | Model, **options: Any) -> Comparison:
        """This model compared with ``other`` (a name or a handle): :meth:`Atlas.compare` with its ``options``."""
        return self.atlas.compare(self.name, other.name if isinstance(other, Model) else other, **options)

    def delete(self, *, on_progress: StageProgress | None = None) -> Deleted:
        """Delete this model from the graph: :meth:`Atlas.delete`."""
        return self.atlas.delete(self.name, on_progress=on_progress)

    def __getattr__(self, name: str) -> Any:
        """Only reached for a name the handle lacks: says which methods it has."""
        raise AttributeError(
            f"a model handle has no attribute {name!r}; its methods are {', '.join(sorted(MODEL_METHODS))}, "
            "properties, compare and delete"
        )


def _on_model(method: Callable) -> Callable:
    """``method`` of Atlas as a method of :class:`Model`: its parameters but ``model``, which the handle fills in, and
    its docstring up to its examples (they run once, on Atlas)."""
    signature = inspect.signature(method)
    shown = signature.replace(parameters=[p for name, p in signature.parameters.items() if name != "model"])

    @functools.wraps(method)
    def on_model(self: Model, *args: Any, **kwargs: Any) -> Any:
        given = shown.bind(self, *args, **kwargs).arguments  # a wrong call fails as a call of the method would
        given.pop("self")
        return method(self.atlas, model=self.name, **given)

    text = (inspect.getdoc(method) or "").split("\n\n")
    told = list(itertools.takewhile(lambda paragraph: ">>>" not in paragraph, text))
    on_model.__doc__ = "\n\n".join([*told, f":meth:`Atlas.{method.__name__}` on this model."])
    on_model.__signature__ = shown  # type: ignore[attr-defined]
    return on_model


MODEL_METHODS = sorted(
    name
    for name, member in vars(Atlas).items()
    if not name.startswith("_") and inspect.isfunction(member) and "model" in inspect.signature(member).parameters
)
for _name in MODEL_METHODS:
    setattr(Model, _name, _on_model(getattr(Atlas, _name)))


def _token_id(token: str | int) -> int:
    try:
        return int(token)
    except ValueError:
        raise InvalidArgument(f"a token id must be a whole number, got {token!r}") from None


@contextlib.contextmanager
def _recorded_source(model: str, props: dict) -> Iterator[None]:
    """Turn a failure to read the model's recorded source into a line that says how to get it back."""
    if props.get("word_rule") is not None:  # a corpus atlas: its source is text, not a model's files
        raise InvalidArgument(
            f"model {model!r} is a corpus atlas of {props.get('source')!r}: it has no model files to read vectors "
            "or a tokenizer from; this works on models loaded from model files (neighbours, prompt, map and "
            "compare work on it)"
        )
    try:
        yield
    except SourceNotFound:
        raise SourceNotFound(
            f"model {model!r} was loaded from {props['source']!r}, which cannot be read now; put the model back "
            f"there, or load it again from where it is with `atlas load SOURCE --name {model} --replace`"
        ) from None
